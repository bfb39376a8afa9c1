"""An S3-compatible server on loopback (moto's), for the demo and the tests: real HTTP, no AWS."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

# Any credentials work against the local server; these are obviously not real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-demo-not-a-secret",
    "AWS_SECRET_ACCESS_KEY": "local-demo-not-a-secret",
}


@dataclass(frozen=True)
class LocalS3:
    endpoint_url: str
    server: object

    def reset(self) -> None:
        """Forget every bucket, object and IAM user (between tests)."""
        import urllib.request

        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=30).close()


@contextlib.contextmanager
def local_s3(port: int = 0) -> Iterator[LocalS3]:
    """Start moto's server on 127.0.0.1 (a free port by default) and stop it afterwards."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - depends on the install
        from vam.core.errors import VamError

        raise VamError(
            "the embedded S3 server needs moto: pip install 'vam[demo]' "
            "(or run `python3 dev.py demo`)"
        ) from None
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    try:
        yield LocalS3(f"http://{host}:{bound}", server)
    finally:
        server.stop()


@contextlib.contextmanager
def pointed_at(endpoint_url: str) -> Iterator[None]:
    """Point the standard AWS chain at a local endpoint with throwaway credentials, then restore."""
    names = {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint_url}
    saved = {k: os.environ.get(k) for k in [*names, "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.update(names)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
