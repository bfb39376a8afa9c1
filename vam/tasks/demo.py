"""The main job on an embedded local S3 server: David and Jan's whole story, no AWS account."""

from __future__ import annotations

import tempfile
from pathlib import Path

from vam.core.errors import UsageError
from vam.demo.story import run_demo
from vam.tasks.base import say, vam_task
from vam.tasks.inprocess import run_vam


@vam_task(
    auto_shortflags=False,
    help={
        "root": "an empty folder for the sample projects (default: a new temporary folder)",
        "media_mb": "size of the generated media files, in MB (default 2)",
    },
)
def demo(c, root=None, media_mb=None):
    """Play the story as David and Jan on a local S3 server (moto), then write the dashboard."""
    base = Path(root).expanduser() if root else Path(tempfile.mkdtemp(prefix="vam-demo-"))
    try:
        size = float(media_mb) if media_mb is not None else 2.0
    except ValueError:
        raise UsageError(f"--media-mb {media_mb!r}: give a number of MB, e.g. 2") from None
    dashboard = run_demo(base, run_vam=run_vam, media_bytes=max(1, int(size * 1024 * 1024)))
    say()
    say(f"demo finished; the sample projects roots are in {base}")
    say(f"dashboard: {dashboard}")
