"""The transfer engine: how one file goes up to or comes down from S3, resumably and verified.

Uploads below SINGLE_PUT_LIMIT are one PUT; larger files are multipart uploads with a FULL_OBJECT
CRC32 (S3 validates it on completion) and per-part CRC32s. The multipart upload is recorded in
`state_dir/uploads/` before the first part goes out and survives Ctrl-C, crashes and network loss:
the next call lists the parts already on S3, checks each against the local bytes and sends only
what is missing. Downloads are a few large ranged GETs (each with If-Match on the ETag) written in
place into `<name>.vam-part`, with a small record in `state_dir/downloads/` so a re-run continues
from the bytes on disk; the whole file is verified before it takes its real name.

Memory: a part is streamed from the file (read with pread for its CRC32, then again as it is
sent), so an upload holds read buffers (within PART_MEMORY), never a part or the file; downloads
stream in chunks of at most 1 MiB per worker. How many parts or ranges go at once is measured
(concurrency): a long lossy link gives each connection ~1 MB/s, so throughput comes from many.

Which sync decisions to take is the sync core's job; this package only moves bytes safely. This
module is its API, the names the rest of vam uses; the modules behind it do one job each:

    values          metadata names, results (Uploaded, Downloaded, RemoteDetails), errors
    tuning          part and range sizes, workers, checkpoints, retries (read at call time)
    concurrency     how many parts, ranges or files at once: doubled while the rate grows
    roundtrip       the round trip of small requests: a long link means small parts, a wide start
    retries         what an S3 error means; retries with backoff while the transfer progresses
    metering        bytes counted and rate-capped as they leave; one stop flag per transfer
    partbody        one part as a request body, streamed from the file, its CRC32 re-checked
    signing         unsigned payload on loopback endpoints, as botocore does over HTTPS
    etags           the forms of an S3 ETag
    records         resume records in the project's .vam/
    partials        partial downloads: what a re-run keeps; the disk-full line
    remote          head_checksum: what S3 says about one object
    conditions      never overwrite the other person's object; never record a changed file
    upload          upload_file and the single PUT
    multipart       the multipart upload: part size, resume, parallel parts, conditional complete
    download        download_file: partial file, resume, verify, then the real name
    ranges          the ranged GETs into the partial file, the last bytes shared out
    download_state  what of each range is on disk, checkpointed with fsync
    etag_follower   the ETag hashed behind the download, for objects without a CRC32
    verify          the check before a download takes its name
    progress        the Progress protocol and the tqdm bars
    ratelimit       the bandwidth cap shared by every worker
"""

from vam.s3sync.transfer.download import download_file
from vam.s3sync.transfer.partials import (
    PartialDownload,
    disk_full,
    partial_downloads,
    resumable_bytes,
    resumable_download,
)
from vam.s3sync.transfer.remote import head_checksum
from vam.s3sync.transfer.upload import upload_file
from vam.s3sync.transfer.values import (
    META_CRC32,
    META_MTIME,
    META_PART_SIZE,
    META_UPLOADED_BY,
    ChangedDuringUpload,
    DiskFull,
    Downloaded,
    IntegrityError,
    NotPublished,
    RemoteChanged,
    RemoteDetails,
    Stalled,
    Uploaded,
)

__all__ = [
    "META_CRC32",
    "META_MTIME",
    "META_PART_SIZE",
    "META_UPLOADED_BY",
    "ChangedDuringUpload",
    "DiskFull",
    "Downloaded",
    "IntegrityError",
    "NotPublished",
    "PartialDownload",
    "RemoteChanged",
    "RemoteDetails",
    "Stalled",
    "Uploaded",
    "disk_full",
    "download_file",
    "head_checksum",
    "partial_downloads",
    "resumable_bytes",
    "resumable_download",
    "upload_file",
]
