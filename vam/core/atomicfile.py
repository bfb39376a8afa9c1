"""Writing a text file so that a reader (or a crash) never sees half of it.

The text goes to a temporary file beside the target (same folder, so the rename is atomic;
named `.NAME.…vam-part`, which sync and archive skip), then takes the real name. On any failure
the temporary file is removed and the old file, if any, is untouched.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from vam.core.layout import PARTIAL_SUFFIX


def write_text_atomic(
    path: Path,
    text: str,
    *,
    mode: int | None = None,
    newline: str | None = "\n",
    durable: bool = False,
) -> Path:
    """Replace `path` with `text` in one step. `mode`: the file's permissions (default: those
    of the file it replaces, else 0644, so teammates can read it; mkstemp alone gives 0600).
    `durable`: fsync before the rename, for files whose loss would cost more than a re-run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
