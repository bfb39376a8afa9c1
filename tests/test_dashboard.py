"""The dashboard page as a document: the registry travels inside it intact and inert, it needs
nothing from the network, and the `dashboard` task explains itself when the registry is missing."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from datetime import UTC, datetime

import pytest

from tests.registry_samples import HOSTILE_ID, empty_registry, team_registry
from vam.catalog.dashboard import (
    DASHBOARD_NAME,
    REGISTRY_NAME,
    embed_json,
    extract_embedded,
    load_registry,
    render_dashboard,
    write_dashboard,
)
from vam.core.errors import ConfigError, NotFoundError

WHEN = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def page() -> str:
    return render_dashboard(team_registry(), generated_at=WHEN)


def test_the_registry_round_trips_through_the_page(page):
    assert extract_embedded(page, "registry-data") == team_registry()
    meta = extract_embedded(page, "page-data")
    assert meta["written_at"] == "2026-11-23T10:05:00Z"
    assert meta["s3_price_per_gb_month"] == 0.023
    assert meta["expiry_warning_days"] == 14


def test_a_project_name_cannot_close_the_script_or_add_markup(page):
    # three script elements (registry, page data, code), and only their own closing tags
    assert page.count("<script") == 3
    assert page.lower().count("</script") == 3
    assert "<img" not in page
    assert HOSTILE_ID not in page  # present only in escaped form ...
    assert HOSTILE_ID in json.dumps(extract_embedded(page, "registry-data"), ensure_ascii=False)
    assert "café" in page  # ... and non-ASCII stays readable UTF-8, not \u escapes


def test_line_separators_and_ampersands_are_escaped():
    text = embed_json({"name": "a\u2028b\u2029c & <!-- d -->"})
    assert "\u2028" not in text and "\u2029" not in text
    assert not set("<>&") & set(text)
    assert json.loads(text) == {"name": "a\u2028b\u2029c & <!-- d -->"}


def test_nothing_is_loaded_from_elsewhere(page):
    assert re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", page, re.I) is None
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page.lower()
    assert re.search(r"<script[^>]*\ssrc=", page, re.I) is None


def test_the_content_policy_allows_exactly_the_inlined_style_and_script(page):
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in policy

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    assert f"style-src {digest(style)};" in policy
    assert f"script-src {digest(script)};" in policy
    assert "'unsafe-inline'" not in policy


def test_an_empty_registry_still_renders():
    page = render_dashboard(empty_registry(), generated_at=WHEN)
    assert extract_embedded(page, "registry-data")["brands"] == []


@pytest.mark.parametrize(
    "bad, needle",
    [
        ([], "not a JSON object"),
        ({"format": 2, "brands": []}, "format 2"),
        ({"format": 1, "brands": {"appydave": {}}}, "'brands' must be a list"),
        ({"format": 1, "brands": [{"brand": {"key": "voz"}, "projects": {}}]}, "brand 'voz'"),
    ],
)
def test_a_registry_the_page_cannot_show_is_refused(bad, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)) as err:
        render_dashboard(bad)
    assert "manifest.generate --all" in str(err.value)


def test_load_registry_says_how_to_make_one(tmp_path):
    with pytest.raises(NotFoundError) as err:
        load_registry(tmp_path)
    assert str(tmp_path / REGISTRY_NAME) in str(err.value)
    assert "vam manifest.generate --all" in str(err.value)

    (tmp_path / REGISTRY_NAME).write_text('{"format": 1,\n "brands": [,]}', encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2 is not valid JSON"):
        load_registry(tmp_path)

    (tmp_path / REGISTRY_NAME).write_text(json.dumps(team_registry()), encoding="utf-8")
    assert load_registry(tmp_path) == team_registry()


def test_write_replaces_the_page_whole_and_leaves_no_partial_file(tmp_path):
    target = tmp_path / DASHBOARD_NAME
    target.write_text("old page", encoding="utf-8")
    with pytest.raises(ConfigError):
        write_dashboard({"format": 9}, target)
    assert target.read_text(encoding="utf-8") == "old page"

    write_dashboard(team_registry(), target, generated_at=WHEN)
    assert extract_embedded(target.read_text(encoding="utf-8"), "registry-data") == team_registry()
    assert sorted(p.name for p in tmp_path.iterdir()) == [DASHBOARD_NAME]


def test_write_refuses_a_folder_or_a_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        write_dashboard(team_registry(), tmp_path)
    with pytest.raises(NotFoundError, match="does not exist"):
        write_dashboard(team_registry(), tmp_path / "nope" / "dash.html")


# --------------------------------------------------------------------------- the task


@pytest.fixture
def env(sample):
    return {"VAM_SETTINGS": str(sample.write_settings("david"))}


def test_dashboard_without_a_registry_says_run_the_manifest(vam_cli, sample, env):
    result = vam_cli("dashboard", "--no-refresh", env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "vam manifest.generate --all" in lines[0]
    assert not (sample.root / DASHBOARD_NAME).exists()


def test_dashboard_writes_the_page_beside_the_registry(vam_cli, sample, env):
    (sample.root / REGISTRY_NAME).write_text(json.dumps(team_registry()), encoding="utf-8")
    result = vam_cli("dashboard", "--no-refresh", env=env)
    assert result.returncode == 0, result.stderr
    written = sample.root / DASHBOARD_NAME
    assert f"dashboard written: {written}" in result.stdout
    reg = team_registry()
    projects = sum(len(b["projects"]) for b in reg["brands"])
    warnings = sum(len(b["warnings"]) for b in reg["brands"])
    assert f"{len(reg['brands'])} brands, {projects} projects, {warnings} warnings" in result.stdout
    assert extract_embedded(written.read_text(encoding="utf-8"), "registry-data") == team_registry()


def test_dashboard_output_into_a_missing_folder_is_one_line(vam_cli, sample, env, tmp_path):
    (sample.root / REGISTRY_NAME).write_text(json.dumps(team_registry()), encoding="utf-8")
    result = vam_cli(
        "dashboard", "--no-refresh", "--output", str(tmp_path / "nope" / "d.html"), env=env
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "does not exist" in lines[0], result.stderr


def test_dashboard_open_hands_the_file_url_to_the_browser(vam_cli, sample, env, tmp_path):
    (sample.root / REGISTRY_NAME).write_text(json.dumps(team_registry()), encoding="utf-8")
    opened = tmp_path / "opened.txt"
    # webbrowser runs $BROWSER with %s replaced by the URL: a stand-in browser that notes it
    browser = (
        f"{sys.executable} -c \"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\" %s"
    )
    result = vam_cli("dashboard", "--no-refresh", "--open", env={**env, "BROWSER": browser})
    assert result.returncode == 0, result.stderr
    assert opened.read_text() == (sample.root / DASHBOARD_NAME).resolve().as_uri()


def test_dashboard_scans_every_brand_first_by_default(vam_cli, sample, env):
    """No registry yet: the task runs the manifest itself, and the page embeds what it found."""
    result = vam_cli("dashboard", "--no-s3", env=env)
    assert result.returncode == 0, result.stderr
    registry = json.loads((sample.root / REGISTRY_NAME).read_text(encoding="utf-8"))
    page = (sample.root / DASHBOARD_NAME).read_text(encoding="utf-8")
    assert extract_embedded(page, "registry-data") == registry
    ids = {p["id"] for b in registry["brands"] for p in b["projects"]}
    assert {"b65-guy-monroe-marketing-plan", "boy-baker", "a12-onboarding", "b12-ssd-only"} <= ids
