"""One ✓/✗ line of a check (doctor, aws.check), with the fix when it failed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    ok: bool
    label: str
    detail: str = ""
    fix: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        text = f"{mark} {self.label}"
        if self.detail:
            text += f": {self.detail}"
        if not self.ok and self.fix:
            text += f" — fix: {self.fix}"
        return text
