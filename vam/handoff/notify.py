"""Slack-compatible webhook notifications. A failed notification is reported, never raised: the
upload it announces has already succeeded and must not be undone by a chat outage."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Notified:
    ok: bool
    detail: str  # "sent" or why not


def post_webhook(url: str, payload: dict, *, timeout: float = 10.0) -> Notified:
    body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return Notified(False, f"webhook answered HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Notified(False, f"webhook unreachable ({reason})")
    if 200 <= status < 300:
        return Notified(True, "sent")
    return Notified(False, f"webhook answered HTTP {status}")
