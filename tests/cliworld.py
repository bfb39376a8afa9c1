"""David and Jan as the demo builds them (vam.demo.story.build_world), driven through the real `vam`
command line in-process (vam.tasks.inprocess.run_vam), for stories that need whole commands and
their output.

Fixtures `client` (a plain boto3 client) and `plain` (a world on a bucket vam did not make, so
without versioning) are in tests/conftest.py.
"""

from __future__ import annotations

from vam.demo.story import B65, Person
from vam.tasks.inprocess import run_vam

BUCKET = "video-projects"
AD = ["--brand", "ad", "--project", "b65"]
PREFIX = f"staging/v-appydave/{B65}/"
BACKUPS = PREFIX + ".vam/backups/"


def vam(person: Person, capsys, *argv: str, expect=0) -> str:
    """Run one vam command as `person`; its stdout and stderr (never a traceback)."""
    capsys.readouterr()
    run_vam(person, list(argv), expect=expect)
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return out.out + out.err


def staging(person: Person):
    return person.root / "v-appydave" / B65 / "s3-staging"


def keys(client, prefix: str = PREFIX) -> set[str]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"] for o in listed}


def body(client, key: str, **kw) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key, **kw)["Body"].read()
