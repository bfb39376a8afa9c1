"""The HTML dashboard (SPEC §8): one self-contained file showing every brand and project from the
registry that `manifest.generate` writes.

The page is static HTML + CSS + a small plain script, all inlined; the registry travels inside it
as JSON in a `<script type="application/json">` element, so it opens from disk with no server and
no network. A Content-Security-Policy with the hashes of the inlined style and script forbids any
other script and every network fetch, so even a hostile project name cannot run code or phone home.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from vam.archive.classes import price_note
from vam.core.atomicfile import write_text_atomic
from vam.core.errors import ConfigError, NotFoundError
from vam.core.team import ARCHIVE_CLASSES
from vam.core.units import iso_utc

REGISTRY_NAME = "video-projects-registry.json"
DASHBOARD_NAME = "video-projects-dashboard.html"
REGISTRY_FORMAT = 1

# S3 Standard, us-east-1, first 50 TB (aws.amazon.com/s3/pricing). Stated on the page: the figure
# is an estimate of the staging bucket's current objects, not a bill.
S3_PRICE_PER_GB_MONTH = 0.023
# Staging that expires within this many days is worth a warning (SPEC §8).
EXPIRY_WARNING_DAYS = 14

_ASSETS = "vam.catalog.dashboard_assets"
_SLOT = re.compile(r"/\*@(\w+)@\*/")


def registry_path(root: Path) -> Path:
    return root / REGISTRY_NAME


def load_registry(root: Path) -> dict[str, Any]:
    """The registry at the projects root, checked enough that the page can trust its shape."""
    path = registry_path(root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(
            f"no registry at {path}; run `vam manifest.generate --all` first, then `vam dashboard`"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{path} is not UTF-8 text; run `vam manifest.generate --all` to rewrite it"
        ) from None
    try:
        registry = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} line {exc.lineno} is not valid JSON ({exc.msg}); "
            "run `vam manifest.generate --all` to rewrite it"
        ) from None
    check_registry(registry, where=str(path))
    return registry


def check_registry(registry: Any, *, where: str = "registry") -> None:
    """Refuse a registry the page cannot show: wrong type, unknown format or non-list brands."""
    rewrite = "run `vam manifest.generate --all` to rewrite it"
    if not isinstance(registry, dict):
        raise ConfigError(f"{where} is not a JSON object; {rewrite}")
    fmt = registry.get("format")
    if fmt != REGISTRY_FORMAT:
        raise ConfigError(
            f"{where} has format {fmt!r}, this vam reads format {REGISTRY_FORMAT}; "
            f"update vam or {rewrite}"
        )
    brands = registry.get("brands", [])
    if not isinstance(brands, list) or not all(isinstance(b, dict) for b in brands):
        raise ConfigError(f"{where}: 'brands' must be a list of objects; {rewrite}")
    for brand in brands:
        if not isinstance(brand.get("projects", []), list):
            key = (brand.get("brand") or {}).get("key", "?")
            raise ConfigError(f"{where}: brand {key!r} has no project list; {rewrite}")


def embed_json(data: Any) -> str:
    """JSON that is safe inside a <script> element: no `<` (so no `</script>` or `<!--`), no `>`
    or `&`, and no U+2028/2029; JSON.parse turns the escapes back into the same text."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def _asset(name: str) -> str:
    return resources.files(_ASSETS).joinpath(name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def render_dashboard(
    registry: dict[str, Any],
    *,
    generated_at: datetime | None = None,
    s3_price_per_gb_month: float = S3_PRICE_PER_GB_MONTH,
) -> str:
    """The whole dashboard as one HTML document (UTF-8 text), data and code inlined."""
    check_registry(registry)
    when = generated_at or datetime.now(UTC)
    page = {
        "written_at": iso_utc(when),
        "s3_price_per_gb_month": s3_price_per_gb_month,
        "expiry_warning_days": EXPIRY_WARNING_DAYS,
        "archive_price_note": price_note(ARCHIVE_CLASSES),
    }
    css, script = _asset("dashboard.css"), _asset("dashboard.js")
    for name, text, closer in (("css", css, "</style"), ("js", script, "</script")):
        # the assets are ours, but a slip here would silently truncate the page
        if closer in text.lower():
            raise AssertionError(f"dashboard.{name} must not contain {closer}>")
    policy = (
        "default-src 'none'; "
        f"style-src {_csp_hash(css)}; "
        f"script-src {_csp_hash(script)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    slots = {
        "csp": policy,
        "css": css,
        "js": script,
        "registry": embed_json(registry),
        "page": embed_json(page),
    }
    # one pass, so text inserted into a slot is never scanned for further slots
    return _SLOT.sub(lambda m: slots[m.group(1)], _asset("dashboard.html"))


def extract_embedded(html: str, element_id: str) -> Any:
    """The JSON embedded under `element_id` (for tests and for anyone reading a saved page)."""
    match = re.search(
        rf'<script type="application/json" id="{re.escape(element_id)}">(.*?)</script>',
        html,
        re.DOTALL,
    )
    if match is None:
        raise NotFoundError(f"no embedded JSON with id {element_id!r} in the page")
    return json.loads(match.group(1))


def write_dashboard(
    registry: dict[str, Any], path: Path, *, generated_at: datetime | None = None
) -> Path:
    """Render and write atomically: the old page stays whole until the new one is complete."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give --output a file name ending in .html")
    if not path.parent.is_dir():
        raise NotFoundError(
            f"folder {path.parent} does not exist; create it or choose another --output"
        )
    html = render_dashboard(registry, generated_at=generated_at)
    # 0644: the page is for the whole team to open
    return write_text_atomic(path, html, mode=0o644, durable=True)
