"""The engine's tunables: part and range sizes, parallelism, checkpoints, retries.

The engine reads them from this module at call time (`tuning.MIN_PART_SIZE`, never a copy taken
at import), so a test that lowers one here (moto's minimum part size can be lowered the same way)
changes what the next transfer does.
"""

MiB = 1024 * 1024

SINGLE_PUT_LIMIT = 16 * MiB  # below this: one PUT
MIN_PART_SIZE = 16 * MiB  # S3's own minimum is 5 MiB; larger parts mean fewer requests
LONG_LINK_PART_SIZE = 5 * MiB  # S3's minimum, on a long link (roundtrip.py): a reset costs less
LONG_RTT = 0.030  # seconds: a round trip this long means a long (loss-limited) link
# On a local link (a round trip under LOCAL_RTT: a server on this machine or the LAN, which
# answers a HEAD or LIST in 4-11 ms when it is s3rver; S3 itself takes longer than that from
# anywhere but its own region) the server's cost per request is the limit, not the line: a large
# file goes in parts of up to LOCAL_PART_SIZE, at least LOCAL_PARTS of them (1 GiB: 16 parts of
# 64 MiB, whose parts went 10 % faster on s3rver than 16 MiB ones), never below MIN_PART_SIZE
LOCAL_RTT = 0.020
LOCAL_PART_SIZE = 64 * MiB
LOCAL_PARTS = 16
LOCAL_PARTS_AT_ONCE = 2  # such larger parts in flight at most: a kill loses their progress
MAX_PARTS = 10_000  # S3's limit
# Parts are streamed from the file (read once for their CRC32, once as they are sent), so what
# a part costs in memory is a read buffer, not the part: PART_MEMORY bounds those buffers.
PART_MEMORY = 32 * MiB
PART_READ = 1 * MiB  # the buffer a part's CRC32 is taken with
# Parallel parts and ranges: start with a few, double while the total rate grows
# (concurrency.py), never above the ceiling.
START_UPLOAD_WORKERS = 4
LONG_LINK_START = 16  # parts, ranges at once to start with on a long link
MAX_UPLOAD_WORKERS = 32
DOWNLOAD_RANGE = 64 * MiB  # largest ranged GET (few large ranges: cheap on S3 and on moto)
MIN_DOWNLOAD_RANGE = 8 * MiB  # smallest ranged GET a worker claims (the last ones split further)
DOWNLOAD_GRID = 1 * MiB  # segments a download's progress is recorded in, and split at
START_DOWNLOAD_WORKERS = 4
DOWNLOAD_WORKERS = 32  # the ceiling for ranged GETs at once
DOWNLOAD_CHUNK = 1 * MiB
LONG_LINK_CHUNK = 128 * 1024  # the read size on a long link (a connection brings ~1 MB/s)
# On a long link an upload's parts in flight are lost together when the link drops: no more
# than the line carries in IN_FLIGHT_SECONDS (at least MIN_IN_FLIGHT), by the rate confirmed
# parts imply over CONFIRM_SECONDS; a lowered level must keep TRIAL_KEEP of it (concurrency.py):
IN_FLIGHT_SECONDS = 15.0
MIN_IN_FLIGHT = 4
CONFIRM_SECONDS = 2.0
TRIAL_KEEP = 0.75  # (a connection-limited path loses far more: 4 of 16 parts carry 1/4)
WINDOW_SECONDS = 0.5  # how long the rate is measured at one level
SETTLE_SECONDS = 0.3  # after a level change, before measuring (new connections start)
SHORT_LINK_SCALE = 0.4  # those two on a short link (no long round trip seen)
WINDOW_BYTES = 8 * MiB  # a shortened window that moved less than this runs the full WINDOW
GROWTH = 1.25  # a doubling of the level must give this much more to double again
CHECKPOINT_BYTES = 64 * MiB  # a download range asks for a checkpoint this often…
CHECKPOINT_SECONDS = 2.0  # …and the checkpointer saves at least this often anyway
# Dropped connections: a part or range is tried again with exponential backoff (up to
# MAX_BACKOFF_SECONDS between tries) for as long as the transfer as a whole moves bytes; after
# STALL_SECONDS without a byte moved it stops with one line, its resumable state kept.
ATTEMPTS = 4  # tries of a request that moved nothing before the error is a real one…
BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
STALL_SECONDS = 600.0  # …unless the link is only dropping: then until this long without progress
