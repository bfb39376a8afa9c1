"""Registries as `manifest.generate` writes them (docs/manifest-format.md), built in Python so the
dashboard tests can compute what the page must show from the same dict."""

from __future__ import annotations

import copy

GENERATED_AT = "2026-11-23T10:00:00Z"
ROOT = "/Users/david/dev/video-projects"
# A project name no page may trust: it closes the script element, carries markup and non-ASCII.
HOSTILE_ID = "b70-</script><img src=x onerror=alert(1)>-café–Ελλάδα"

GB = 1000**3
MB = 1000**2


def local(path: str, *, structure="flat", bytes_=0, heavy=0, files=1, light=True) -> dict:
    return {
        "exists": True,
        "structure": structure,
        "path": path,
        "has_heavy_files": heavy > 0,
        "has_light_files": light,
        "bytes": bytes_,
        "heavy_bytes": heavy,
        "files": files,
        "last_modified": "2026-11-20T09:15:00Z",
    }


NO_LOCAL = {
    "exists": False,
    "structure": None,
    "path": None,
    "has_heavy_files": False,
    "has_light_files": False,
    "bytes": 0,
    "heavy_bytes": 0,
    "files": 0,
    "last_modified": None,
}


def ssd(path: str | None, exists: bool | None, bytes_: int | None = None) -> dict:
    return {"exists": exists, "path": path, "bytes": bytes_ if exists else None}


def s3(objects: list[dict], *, expires: str | None = None, state: str = "staged") -> dict:
    if not objects:
        return {
            "files": 0,
            "bytes": 0,
            "last_modified": None,
            "state": "none",
            "expires": None,
            "objects": [],
        }
    return {
        "files": len(objects),
        "bytes": sum(o["bytes"] for o in objects),
        "last_modified": max(o["last_modified"] for o in objects),
        "state": state,
        "expires": expires,
        "objects": objects,
    }


def obj(path: str, bytes_: int, who: str | None, when: str, state: str | None = None) -> dict:
    return {
        "path": path,
        "bytes": bytes_,
        "last_modified": when,
        "uploaded_by": who,
        "state": state,
    }


def cloud(
    files: int = 0,
    bytes_: int = 0,
    *,
    klass: str = "DEEP_ARCHIVE",
    archived_at: str | None = None,
    restore: dict | None = None,
    heavy: int = 0,
) -> dict:
    """A project's storage.cloud; no arguments: read, and nothing archived."""
    gib = 1024**3
    return {
        "files": files,
        "bytes": bytes_,
        "heavy_files": heavy,
        "class": klass if files else None,
        "archived_at": archived_at if files else None,
        "restore": restore,
        "monthly_cost": round(bytes_ / gib * 0.00099, 6),
    }


def copies(local: bool, ssd: bool | None, cloud: bool | None) -> dict:
    found = {"local": local, "ssd": ssd, "cloud": cloud}
    return {
        **found,
        "count": sum(1 for v in found.values() if v is True),
        "unknown": [k for k, v in found.items() if v is None],
        "cloud_missing": [],
        "heavy": True,
    }


def project(
    id_: str,
    type_: str,
    range_: str | None,
    storage: dict,
    *,
    valid=True,
    warnings=(),
    copy: dict | None = None,
) -> dict:
    out = {
        "id": id_,
        "type": type_,
        "valid_id": valid,
        "range": range_,
        "storage": storage,
        "warnings": list(warnings),
    }
    if copy is not None:
        out["copies"] = copy
    return out


def brand_totals(projects: list[dict]) -> dict:
    def local_of(p):
        return p["storage"]["local"]

    active = [
        p for p in projects if local_of(p)["exists"] and local_of(p)["structure"] != "archived"
    ]
    archived = [
        p for p in projects if local_of(p)["exists"] and local_of(p)["structure"] == "archived"
    ]
    on_ssd = [p for p in projects if p["storage"]["ssd"]["exists"] is True]
    staged = [p for p in projects if p["storage"].get("s3", {}).get("files", 0) > 0]
    archived_off_site = [p for p in projects if p["storage"].get("cloud", {}).get("files", 0) > 0]
    active_bytes = sum(local_of(p)["bytes"] for p in active)
    archived_bytes = sum(local_of(p)["bytes"] for p in archived)
    return {
        "projects": len(projects),
        "active": len(active),
        "archived": len(archived),
        "on_ssd": len(on_ssd),
        "in_s3": len(staged),
        "local_bytes": active_bytes + archived_bytes,
        "active_bytes": active_bytes,
        "archived_bytes": archived_bytes,
        "ssd_bytes": sum(p["storage"]["ssd"]["bytes"] or 0 for p in on_ssd),
        "s3_bytes": sum(p["storage"]["s3"]["bytes"] for p in staged),
        "s3_files": sum(p["storage"]["s3"]["files"] for p in staged),
        "in_cloud": len(archived_off_site),
        "cloud_bytes": sum(p["storage"]["cloud"]["bytes"] for p in archived_off_site),
        "cloud_files": sum(p["storage"]["cloud"]["files"] for p in archived_off_site),
        "cloud_monthly_cost": round(
            sum(p["storage"]["cloud"]["monthly_cost"] for p in archived_off_site), 6
        ),
    }


def brand(
    key, name, shortcut, workflow, projects, warnings, *, ssd_info, s3_info, cloud_info=None
) -> dict:
    out = {
        "format": 1,
        "generated_at": GENERATED_AT,
        "brand": {
            "key": key,
            "name": name,
            "shortcut": shortcut,
            "repo": f"v-{key}",
            "workflow": workflow,
        },
        "ssd": ssd_info,
        "totals": brand_totals(projects),
        "disk": {"path": f"{ROOT}/v-{key}", "free_bytes": 212 * GB, "total_bytes": 494 * GB},
        "projects": projects,
        "warnings": warnings,
    }
    if s3_info is not None:  # a brand whose S3 was never read has no "s3" key at all
        out["s3"] = s3_info
    if cloud_info is not None:
        out["cloud"] = cloud_info
    return out


def registry(brands: list[dict]) -> dict:
    return {
        "format": 1,
        "generated_at": GENERATED_AT,
        "projects_root": ROOT,
        "brands": brands,
        "totals": {
            "brands": len(brands),
            "projects": sum(b["totals"]["projects"] for b in brands),
            "local_bytes": sum(b["totals"]["local_bytes"] for b in brands),
            "ssd_bytes": sum(b["totals"]["ssd_bytes"] for b in brands),
            "s3_bytes": sum(b["totals"]["s3_bytes"] for b in brands),
            "s3_files": sum(b["totals"]["s3_files"] for b in brands),
            "cloud_bytes": sum(b["totals"]["cloud_bytes"] for b in brands),
            "cloud_files": sum(b["totals"]["cloud_files"] for b in brands),
            "cloud_monthly_cost": round(sum(b["totals"]["cloud_monthly_cost"] for b in brands), 6),
            "warnings": sum(len(b["warnings"]) for b in brands),
        },
    }


def team_registry() -> dict:
    """Three brands: appydave (SSD plugged in, S3 read), voz (SSD unplugged), supportsignal
    (no SSD, S3 not in the registry at all)."""
    ad = f"{ROOT}/v-appydave"
    ssd_ad = "/Volumes/T7/youtube-PUBLISHED/appydave"
    b65 = "b65-guy-monroe-marketing-plan"
    appydave_projects = [
        project(
            b65,
            "flivideo",
            "b50-b99",
            {
                "local": local(f"{ad}/{b65}", bytes_=2_345_678_901, heavy=2_300_000_000, files=14),
                "ssd": ssd(f"{ssd_ad}/b50-b99/{b65}", False),
                "s3": s3(
                    [
                        obj("raw.mp4", 1_234_567_890, "david", "2026-11-20T08:00:00Z", "synced"),
                        obj("brief.md", 4_321, "jan", "2026-11-21T11:30:00Z", "remote-newer"),
                        obj(
                            "b-roll café – take 2.mov",
                            345_678_901,
                            "jan",
                            "2026-11-22T16:45:00Z",
                            "conflict",
                        ),
                    ],
                    expires="2026-11-30",
                ),
                "cloud": cloud(),
            },
            warnings=[
                "conflict: b-roll café – take 2.mov changed here and in S3",
                "staging expires 2026-11-30",
                "fewer than two copies of its heavy files: only on this computer",
            ],
            copy=copies(True, False, False),
        ),
        project(
            "b66-next-video",
            "flivideo",
            "b50-b99",
            {
                "local": local(
                    f"{ad}/b66-next-video", bytes_=987_654_321, heavy=987_000_000, files=6
                ),
                "ssd": ssd(f"{ssd_ad}/b50-b99/b66-next-video", False),
                "s3": s3([]),
                "cloud": cloud(),
            },
            warnings=["fewer than two copies of its heavy files: only on this computer"],
            copy=copies(True, False, False),
        ),
        project(
            "b63-flivideo",
            "flivideo",
            "b50-b99",
            {
                "local": local(
                    f"{ad}/archived/b50-b99/b63-flivideo",
                    structure="archived",
                    bytes_=123_456,
                    files=5,
                ),
                "ssd": ssd(f"{ssd_ad}/b50-b99/b63-flivideo", True, 4_567_890_123),
                "s3": s3([]),
                "cloud": cloud(5, 4_567_890_123, archived_at="2026-10-02T18:30:00Z", heavy=2),
            },
            copy=copies(False, True, True),
        ),
        project(
            "b40-heavy-left-behind",
            "flivideo",
            "b00-b49",
            {
                "local": local(
                    f"{ad}/archived/b00-b49/b40-heavy-left-behind",
                    structure="archived",
                    bytes_=456_789_012,
                    heavy=456_000_000,
                    files=3,
                ),
                "ssd": ssd(f"{ssd_ad}/b00-b49/b40-heavy-left-behind", True, 3_210_987_654),
                "s3": s3([]),
                "cloud": cloud(),
            },
            copy=copies(True, True, False),
            warnings=["heavy files in archived folder: 456.0 MB"],
        ),
        project(
            "b12-ssd-only",
            "flivideo",
            "b00-b49",
            {
                "local": NO_LOCAL,
                "ssd": ssd(f"{ssd_ad}/b00-b49/b12-ssd-only", True, 2_109_876_543),
                "s3": s3([]),
                "cloud": cloud(
                    2,
                    2_109_876_543,
                    archived_at="2026-09-14T08:05:00Z",
                    heavy=1,
                    restore={
                        "state": "requested",
                        "detail": "requested by david (bulk), expected by 2026-11-25 09:00 UTC",
                        "requested_by": "david",
                        "requested_at": "2026-11-23T09:00:00Z",
                        "tier": "bulk",
                        "expected_by": "2026-11-25T09:00:00Z",
                        "until": None,
                    },
                ),
            },
            copy=copies(False, True, True),
        ),
        project(
            "Misc Stuff",
            "legacy",
            None,
            {
                "local": local(f"{ad}/Misc Stuff", bytes_=7_654_321, files=2),
                "ssd": ssd(None, False),
                "s3": s3([]),
            },
            valid=False,
            warnings=["invalid id: not like b65-name"],
        ),
        project(
            HOSTILE_ID,
            "flivideo",
            "b50-b99",
            {
                "local": local(f"{ad}/{HOSTILE_ID}", bytes_=65_432, files=1),
                "ssd": ssd(f"{ssd_ad}/b50-b99/{HOSTILE_ID}", False),
                "s3": s3(
                    [obj("notes – ünïcode.md", 2_048, "jan", "2026-11-22T07:00:00Z")],
                    expires="2027-02-20",
                ),
            },
        ),
    ]
    appydave_warnings = [
        {
            "project": b65,
            "kind": "conflict",
            "message": "b-roll café – take 2.mov changed here and in S3 since the last sync",
        },
        {
            "project": b65,
            "kind": "staging_expiring",
            "message": "S3 staging expires 2026-11-30 (in 7 days)",
        },
        {
            "project": b65,
            "kind": "not_backed_up",
            "message": "fewer than two copies of its heavy files: only on this computer",
        },
        {
            "project": "b66-next-video",
            "kind": "not_backed_up",
            "message": "fewer than two copies of its heavy files: only on this computer",
        },
        {
            "project": "b40-heavy-left-behind",
            "kind": "heavy_in_archived",
            "message": "456.0 MB of heavy files in archived/b00-b49/b40-heavy-left-behind",
        },
        {
            "project": "Misc Stuff",
            "kind": "invalid_id",
            "message": "'Misc Stuff' is not a valid id for appydave (like b65-name)",
        },
    ]
    voz_projects = [
        project(
            "boy-baker",
            "storyline",
            None,
            {
                "local": local(
                    f"{ROOT}/v-voz/boy-baker", bytes_=3_456_789_012, heavy=3_400_000_000, files=40
                ),
                "ssd": ssd("/Volumes/VOZ/voz/boy-baker", None),
                "s3": s3([]),
            },
        ),
        project(
            "ocean-story",
            "storyline",
            None,
            {
                "local": local(f"{ROOT}/v-voz/ocean-story", bytes_=876_543, files=4),
                "ssd": ssd("/Volumes/VOZ/voz/ocean-story", None),
                "s3": s3(
                    [
                        obj(
                            "final/ocean-story-v3.mp4",
                            2_468_013_579,
                            "vasilios",
                            "2026-11-18T19:20:00Z",
                            "remote-only",
                        ),
                        obj("script.md", 9_876, "vasilios", "2026-11-18T19:21:00Z", "synced"),
                    ],
                    expires="2027-02-16",
                ),
            },
        ),
    ]
    voz_warnings = [
        {
            "project": None,
            "kind": "ssd_unmounted",
            "message": "SSD /Volumes/VOZ not plugged in: SSD copies not checked",
        },
    ]
    support_projects = [
        project(
            "a12-onboarding",
            "flivideo",
            "a00-a49",
            {
                "local": local(
                    f"{ROOT}/v-supportsignal/projects/a12-onboarding",
                    bytes_=55_555_555,
                    heavy=55_000_000,
                    files=9,
                ),
                "ssd": ssd(None, False),
            },
        ),
    ]
    return registry(
        [
            brand(
                "appydave",
                "AppyDave",
                "ad",
                "flivideo",
                appydave_projects,
                appydave_warnings,
                ssd_info={
                    "path": ssd_ad,
                    "mounted": True,
                    "free_bytes": 812 * GB,
                    "total_bytes": 2000 * GB,
                },
                s3_info={
                    "available": True,
                    "bucket": "video-projects",
                    "prefix": "staging/v-appydave/",
                    "error": None,
                },
                cloud_info={
                    "available": True,
                    "bucket": "video-projects",
                    "prefix": "archive/v-appydave/",
                    "class": "DEEP_ARCHIVE",
                    "error": None,
                },
            ),
            brand(
                "voz",
                "VOZ",
                "voz",
                "storyline",
                voz_projects,
                voz_warnings,
                ssd_info={
                    "path": "/Volumes/VOZ/voz",
                    "mounted": False,
                    "free_bytes": None,
                    "total_bytes": None,
                },
                s3_info={
                    "available": True,
                    "bucket": "video-projects",
                    "prefix": "staging/v-voz/",
                    "error": None,
                },
            ),
            brand(
                "supportsignal",
                "SupportSignal",
                "ss",
                "flivideo",
                support_projects,
                [],
                ssd_info=None,
                s3_info=None,
            ),
        ]
    )


def empty_registry() -> dict:
    return registry([])


def without_totals(reg: dict) -> dict:
    """The same registry with every totals block removed (the page must compute them)."""
    out = copy.deepcopy(reg)
    out.pop("totals", None)
    for b in out["brands"]:
        b.pop("totals", None)
    return out


def without_warnings(reg: dict) -> dict:
    """The same registry as a manifest that judged nothing: no warnings anywhere."""
    out = copy.deepcopy(reg)
    for b in out["brands"]:
        b["warnings"] = []
        for p in b["projects"]:
            p["warnings"] = []
    out["totals"]["warnings"] = 0
    return out
