"""The last check of a download before it takes its name: its bytes against the strongest
evidence there is (the caller's CRC32, the object's own CRC32, the MD5 ETag, the multipart ETag
with the object's part size), or IntegrityError."""

from __future__ import annotations

from pathlib import Path

from vam.core.checksum import file_md5, multipart_etag
from vam.s3sync.transfer.etags import MD5_ETAG, MULTIPART_ETAG
from vam.s3sync.transfer.values import IntegrityError, RemoteDetails


def verify(
    temp: Path,
    bucket: str,
    key: str,
    size: int,
    etag: str,
    crc: int,
    crc32: int | None,
    details: RemoteDetails | None,
    computed_etag: str | None = None,
) -> None:
    """Check the downloaded bytes, strongest evidence first; IntegrityError if they differ.
    `computed_etag` is the ETag hashed while downloading (see EtagFollower), if any."""
    if temp.stat().st_size != size:
        raise _corrupt(bucket, key, "size")
    if crc32 is not None:
        same, what = crc == crc32, "CRC32"
    elif details is not None and details.crc32 is not None:
        same, what = crc == details.crc32, "CRC32 stored on the object"
    elif MD5_ETAG.match(etag):
        same, what = (computed_etag or file_md5(temp)) == etag, "MD5 (ETag)"
    elif MULTIPART_ETAG.match(etag) and details is not None and details.part_size:
        computed = computed_etag or multipart_etag(temp, details.part_size)
        same, what = computed == etag, "multipart ETag"
    else:
        raise IntegrityError(
            f"s3://{bucket}/{key} has no checksum vam can verify (ETag {etag}); it was not "
            "written: re-upload it with vam (s3.up) so it carries a CRC32"
        )
    if not same:
        raise _corrupt(bucket, key, what)


def _corrupt(bucket: str, key: str, what: str) -> IntegrityError:
    return IntegrityError(
        f"s3://{bucket}/{key}: the downloaded bytes do not match the {what}; nothing was written "
        "and the partial download was removed: run the same command again"
    )
