"""The forms an S3 ETag takes: the MD5 of a single PUT, S3's MD5 of the part MD5s for a multipart
upload, and the quoted form that If-Match and CompleteMultipartUpload expect."""

from __future__ import annotations

import binascii
import hashlib
import re

MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
MULTIPART_ETAG = re.compile(r"^[0-9a-f]{32}-(\d+)$")


def quoted(etag: str) -> str:
    return f'"{etag.strip(chr(34))}"'


def etag_of_parts(etags: list[str]) -> str | None:
    """The final ETag of a multipart upload from its part ETags (MD5s), as S3 computes it."""
    try:
        joined = b"".join(binascii.unhexlify(e.strip('"')) for e in etags)
    except (binascii.Error, ValueError):
        return None
    return f"{hashlib.md5(joined).hexdigest()}-{len(etags)}"
