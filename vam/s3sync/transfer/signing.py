"""How uploads are signed on a loopback endpoint: the way botocore signs them over HTTPS.

botocore leaves the body out of the SigV4 signature ("UNSIGNED-PAYLOAD") when the request is
HTTPS and carries a checksum header, and SHA256-hashes every byte otherwise, i.e. on any plain
HTTP endpoint. Every part vam sends carries x-amz-checksum-crc32 (checked by S3, and again as
the whole-file CRC32 on completion), so on 127.0.0.1/::1, where no network lies between us and
the server, the extra SHA256 pass protects nothing and costs a CPU second per GiB. Remote
plain-HTTP endpoints keep the signed payload: there it guards against tampering in transit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def unsigned_payload_handler(s3: Any) -> Callable[..., None] | None:
    """A `before-sign` handler that leaves checksummed bodies unsigned, on loopback only."""
    host = urlsplit(str(getattr(s3.meta, "endpoint_url", "") or "")).hostname or ""
    if host not in _LOOPBACK_HOSTS and not host.startswith("127."):
        return None
    base = s3.meta.config
    unsigned_config = base.merge(
        type(base)(s3={**(getattr(base, "s3", None) or {}), "payload_signing_enabled": False})
    )

    def unsigned(request: Any, **_: Any) -> None:
        if "x-amz-checksum-crc32" in {k.lower() for k in request.headers.keys()}:
            request.context["client_config"] = unsigned_config

    return unsigned


def install_unsigned_payload(s3: Any) -> None:
    """On a loopback endpoint, register the handler for PutObject and UploadPart (once)."""
    unsigned = unsigned_payload_handler(s3)
    if unsigned is None:
        return
    for operation in ("PutObject", "UploadPart"):
        s3.meta.events.register(
            f"before-sign.s3.{operation}", unsigned, unique_id=f"vam-unsigned-{operation}"
        )
