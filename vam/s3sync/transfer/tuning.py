"""The engine's tunables: part and range sizes, parallelism, checkpoints, retries.

The engine reads them from this module at call time (`tuning.MIN_PART_SIZE`, never a copy taken
at import), so a test that lowers one here (moto's minimum part size can be lowered the same way)
changes what the next transfer does.
"""

MiB = 1024 * 1024

SINGLE_PUT_LIMIT = 16 * MiB  # below this: one PUT
MIN_PART_SIZE = 16 * MiB  # S3's own minimum is 5 MiB; larger parts mean fewer requests
MAX_PARTS = 10_000  # S3's limit
PART_MEMORY = 32 * MiB  # part buffers in flight at once, whatever the file size (2 of 16 MiB)
MAX_UPLOAD_WORKERS = 8
DOWNLOAD_RANGE = 64 * MiB  # largest ranged GET (few large ranges: cheap on S3 and on moto)
MIN_DOWNLOAD_RANGE = 8 * MiB
DOWNLOAD_WORKERS = 4
DOWNLOAD_CHUNK = 1 * MiB
CHECKPOINT_BYTES = 64 * MiB  # a download range asks for a checkpoint this often…
CHECKPOINT_SECONDS = 2.0  # …and the checkpointer saves at least this often anyway
ATTEMPTS = 4  # our own tries per part/range on a dropped connection, on top of botocore's
BACKOFF_SECONDS = 0.5
