"""A disk-backed S3-compatible server on loopback for the benchmark, and the bucket housekeeping
the harness does itself (seeding, checking, emptying) with boto3.

s3rver (npm) stores objects as files and streams them, so a ranged GET costs what it reads. moto's
server is the fallback when s3rver cannot be installed: it keeps objects in memory and answers each
ranged GET in time that grows with the object (see /work/shared/moto-facts.md), so its numbers are
marked as not comparable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

BUCKET = "bench"
REGION = "us-east-1"
# s3rver's built-in local account (documented in its README); not a secret, only valid on loopback.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}
STARTUP_TIMEOUT = 30.0


@dataclass(frozen=True)
class ServerChoice:
    """Which server to start: s3rver (its bin script) or moto (fallback)."""

    name: str
    version: str | None
    script: Path | None = None
    note: str | None = None

    def argv(self, port: int, data_dir: Path) -> list[str]:
        if self.name == "s3rver":
            assert self.script is not None
            node = shutil.which("node") or "node"
            return [
                node,
                str(self.script),
                "-d",
                str(data_dir),
                "-a",
                "127.0.0.1",
                "-p",
                str(port),
                "--silent",
            ]
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@dataclass
class RunningServer:
    choice: ServerChoice
    port: int
    data_dir: Path
    proc: subprocess.Popen

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def s3_server(choice: ServerChoice, data_dir: Path, log_file: Path) -> Iterator[RunningServer]:
    """Start the server on a free loopback port with an empty data folder and bucket `bench`;
    stop it and delete its data afterwards (disk is limited)."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            choice.argv(port, data_dir),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    server = RunningServer(choice, port, data_dir, proc)
    try:
        _wait_listening(server)
        server.client().create_bucket(Bucket=BUCKET)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_listening(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.choice.name} exited at startup (code {server.proc.returncode})"
            )
        with contextlib.suppress(OSError), socket.create_connection(server.address, timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(
        f"{server.choice.name} did not listen on port {server.port} within {STARTUP_TIMEOUT:.0f} s"
    )


def tool_env(endpoint: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every tool runs with: the caller's, minus any AWS setting (a CA bundle or
    profile from the host would change behaviour), plus the local credentials and endpoint."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "VAM_"))}
    env.update(CREDENTIALS)
    env.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def list_sizes(s3, prefix: str) -> dict[str, int]:
    """key → size under `prefix` (one paginated listing)."""
    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            sizes[obj["Key"]] = obj["Size"]
    return sizes


def delete_prefix(s3, prefix: str) -> int:
    """Delete every object under `prefix`; returns how many."""
    keys = list(list_sizes(s3, prefix))
    for i in range(0, len(keys), 1000):
        batch = keys[i : i + 1000]
        s3.delete_objects(
            Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
        )
    return len(keys)


def abort_uploads(s3, prefix: str) -> int:
    """Abort the unfinished multipart uploads under `prefix` (a killed tool leaves its parts on
    the server; moto keeps them in memory). Servers without the listing (s3rver) are left alone:
    their data folder is deleted with the server anyway."""
    from botocore.exceptions import ClientError

    try:
        uploads = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])
    except ClientError:
        return 0
    for upload in uploads:
        s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
    return len(uploads)


def put_tree(s3, folder: Path, prefix: str) -> None:
    """Upload a folder's files to `prefix` (harness seeding for the download cases; not timed)."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_chunksize=64 * 1024 * 1024, max_concurrency=4)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            rel = path.relative_to(folder).as_posix()
            s3.upload_file(str(path), BUCKET, prefix + rel, Config=config)
