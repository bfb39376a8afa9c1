"""The dashboard in a real headless Chromium (Debian's), opened from disk as a person would: the
numbers match the registry, search and the brand filter narrow the list, a project's detail shows
its S3 files, the keyboard alone gets there, and the console stays clean."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.registry_samples import (
    HOSTILE_ID,
    empty_registry,
    team_registry,
    without_totals,
    without_warnings,
)
from vam.catalog.dashboard import write_dashboard
from vam.core.units import format_size

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
LAPTOP = {"width": 1366, "height": 768}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install chromium; .ci/run installs it in CI)",
    ),
]

# Flags that work as root in a container: no sandbox, no GPU, and nothing that talks to Google.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    # playwright only drives the system chromium here; it never downloads a browser of its own
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dashboard")
    out = {}
    for name, registry in [
        ("team", team_registry()),
        ("empty", empty_registry()),
        ("no-totals", without_totals(team_registry())),
        ("no-warnings", without_warnings(team_registry())),
    ]:
        out[name] = write_dashboard(registry, folder / f"{name}.html")
    return out


class Opened:
    """A page plus everything the browser said about it."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def texts(self, selector: str) -> list[str]:
        return [t.strip() for t in self.page.locator(selector).all_inner_texts()]

    def total(self, key: str) -> str:
        return self.page.locator(f'[data-total="{key}"] dd').inner_text().strip()

    def project_ids(self) -> list[str]:
        return self.page.locator("#projects tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )


@pytest.fixture(scope="module")
def context(browser):
    # one context for the module (cheap fresh pages); each page opens the file anew
    context = browser.new_context(viewport=LAPTOP)
    yield context
    context.close()


@pytest.fixture
def open_page(context, pages):
    opened: list[Opened] = []

    def open_(name: str = "team") -> Opened:
        view = Opened(context.new_page())
        opened.append(view)
        view.page.goto(pages[name].resolve().as_uri())
        view.page.wait_for_selector("body[data-ready='true']")
        return view

    yield open_
    try:
        for view in opened:
            assert view.errors == [], view.errors
            outside = [u for u in view.requests if not u.startswith(("file:", "data:"))]
            assert outside == [], f"the page reached out to {outside}"
    finally:
        for view in opened:
            view.page.close()


def all_projects(registry: dict) -> list[tuple[str, dict]]:
    return [(b["brand"]["key"], p) for b in registry["brands"] for p in b["projects"]]


def page_warnings(registry: dict) -> int:
    """The manifest's warnings, plus one per brand whose S3 the registry says nothing about."""
    count = 0
    for b in registry["brands"]:
        count += len(b["warnings"])
        kinds = {w["kind"] for w in b["warnings"]}
        if b.get("s3") is None and "s3_unavailable" not in kinds:
            count += 1
    return count


# --------------------------------------------------------------------------- the overview


@pytest.mark.parametrize("name", ["team", "no-totals"])
def test_the_numbers_shown_are_the_registrys(open_page, name):
    view = open_page(name)
    reg = team_registry()  # the no-totals page must arrive at the same numbers on its own
    totals = reg["totals"]
    assert view.total("brands") == str(totals["brands"])
    assert view.total("projects") == str(totals["projects"])
    assert view.total("local") == format_size(totals["local_bytes"])
    assert view.total("ssd") == format_size(totals["ssd_bytes"])
    assert view.total("s3") == f"{format_size(totals['s3_bytes'])} · {totals['s3_files']} files"
    assert view.total("warnings") == str(page_warnings(reg))
    assert view.page.locator("#warnings-count").inner_text() == f"({page_warnings(reg)})"

    for b in reg["brands"]:
        row = view.page.locator(f'#brands tr[data-brand="{b["brand"]["key"]}"]')
        t = b["totals"]
        for col in ("projects", "active", "archived", "on_ssd", "in_s3"):
            assert row.locator(f'[data-col="{col}"]').inner_text() == str(t[col]), col
        for col in ("active_bytes", "archived_bytes", "ssd_bytes"):
            assert row.locator(f'[data-col="{col}"]').inner_text() == format_size(t[col]), col

    assert len(view.project_ids()) == totals["projects"]
    states = {
        "active": sum(b["totals"]["active"] for b in reg["brands"]),
        "archived": sum(b["totals"]["archived"] for b in reg["brands"]),
        "ssd": sum(b["totals"]["on_ssd"] for b in reg["brands"]),
        "s3": sum(b["totals"]["in_s3"] for b in reg["brands"]),
    }
    for state, expected in states.items():
        card = view.page.locator(f'.state[data-state="{state}"] .state-count')
        assert card.inner_text() == str(expected), state
    ranges: dict[str, int] = {}
    for _, p in all_projects(reg):
        if p["storage"]["ssd"]["exists"] is True:
            ranges[p["range"]] = ranges.get(p["range"], 0) + 1
    shown = view.texts(".state[data-state='ssd'] .range")
    assert sorted(shown) == sorted(f"{r}: {n}" for r, n in ranges.items())


def test_the_overview_fits_a_laptop_screen_and_is_saved_as_a_screenshot(open_page):
    view = open_page()
    for table in ("#brands", "#projects"):
        wrap = view.page.locator(table).locator("xpath=..")
        scroll, client = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
        assert scroll <= client, (
            f"{table} needs sideways scrolling at 1366 px ({scroll} > {client})"
        )
    page_width = view.page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= LAPTOP["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    view.page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_a_hostile_project_name_is_shown_as_text(open_page):
    view = open_page()
    assert HOSTILE_ID in view.project_ids()
    cell = view.page.locator("#projects tbody tr", has_text="onerror").locator(".id")
    assert HOSTILE_ID in cell.inner_text()
    assert view.page.locator("img").count() == 0


def test_the_page_sees_warnings_the_manifest_left_out(open_page):
    """S3 not read, SSD unplugged, heavy files in archived/ and staging within 14 days show even
    when the manifest said nothing; "not backed up" and conflicts stay the manifest's call."""
    reg = without_warnings(team_registry())
    generated = datetime.fromisoformat(reg["generated_at"].replace("Z", "+00:00")).date()
    expected: dict[str, int] = {}

    def add(kind: str) -> None:
        expected[kind] = expected.get(kind, 0) + 1

    for b in reg["brands"]:
        if b.get("s3") is None or b["s3"].get("available") is False:
            add("s3_unavailable")
        if b.get("ssd") and b["ssd"]["mounted"] is False:
            add("ssd_unmounted")
        for p in b["projects"]:
            local, staged = p["storage"]["local"], p["storage"].get("s3") or {}
            if local["exists"] and local["structure"] == "archived" and local["has_heavy_files"]:
                add("heavy_in_archived")
            if staged.get("files") and staged.get("expires"):
                if (date.fromisoformat(staged["expires"]) - generated).days <= 14:
                    add("staging_expiring")
    view = open_page("no-warnings")
    groups = view.page.locator("#warnings details")
    shown = {
        groups.nth(i).get_attribute("data-kind"): groups.nth(i).locator("li").count()
        for i in range(groups.count())
    }
    assert shown == expected
    assert view.total("warnings") == str(sum(expected.values()))


def test_an_empty_registry_says_what_to_do(open_page):
    view = open_page("empty")
    assert view.total("brands") == "0"
    assert view.total("projects") == "0"
    assert "manifest.generate --all" in view.page.locator("#brands").inner_text()
    assert view.project_ids() == []
    assert view.page.locator("#projects-empty").inner_text() == "No projects in the registry."
    assert view.page.locator("#shown").inner_text() == "Showing 0 of 0 projects"


# --------------------------------------------------------------------------- finding projects


def test_search_narrows_the_list(open_page):
    view = open_page()
    reg = team_registry()
    view.page.fill("#search", "b6")
    expected = [p["id"] for _, p in all_projects(reg) if "b6" in p["id"].lower()]
    assert view.project_ids() == expected
    assert 0 < len(expected) < reg["totals"]["projects"]
    assert view.page.locator("#shown").inner_text().startswith(f"Showing {len(expected)} of")

    view.page.fill("#search", "CAFE")  # any case, accents optional
    assert view.project_ids() == [HOSTILE_ID]

    view.page.fill("#search", "no such project")
    assert view.project_ids() == []
    assert view.page.locator("#projects-empty").is_visible()

    view.page.click("#clear-filters")
    assert len(view.project_ids()) == reg["totals"]["projects"]


def test_the_brand_filter_shows_one_brand(open_page):
    view = open_page()
    reg = team_registry()
    voz = next(b for b in reg["brands"] if b["brand"]["key"] == "voz")
    view.page.select_option("#brand-filter", "voz")
    assert view.project_ids() == [p["id"] for p in voz["projects"]]
    assert set(view.texts("#projects tbody tr td:first-child")) == {voz["brand"]["name"]}
    assert view.page.locator("#warnings-count").inner_text() == f"({len(voz['warnings'])})"
    assert view.page.locator('.state[data-state="active"] .state-count').inner_text() == str(
        voz["totals"]["active"]
    )

    # the brand's name in the brand table is a shortcut to the same filter
    view.page.click('#brands tr[data-brand="appydave"] button')
    assert view.page.locator("#brand-filter").input_value() == "appydave"
    appydave = next(b for b in reg["brands"] if b["brand"]["key"] == "appydave")
    assert len(view.project_ids()) == len(appydave["projects"])


def test_columns_sort_largest_first_then_reverse(open_page):
    view = open_page()
    rows = all_projects(team_registry())

    def local_size(p: dict) -> int:
        return p["storage"]["local"]["bytes"] if p["storage"]["local"]["exists"] else -1

    by_size = [p["id"] for _, p in sorted(rows, key=lambda r: -local_size(r[1]))]
    header = view.page.locator('#projects th[data-sort="local"]')
    header.locator("button").click()
    assert view.project_ids() == by_size
    assert header.get_attribute("aria-sort") == "descending"
    header.locator("button").click()
    assert view.project_ids() == [p["id"] for _, p in sorted(rows, key=lambda r: local_size(r[1]))]
    assert header.get_attribute("aria-sort") == "ascending"


def test_the_state_cards_filter_the_list(open_page):
    view = open_page()
    view.page.click('.state[data-state="s3"]')
    staged = [
        p["id"] for _, p in all_projects(team_registry()) if p["storage"].get("s3", {}).get("files")
    ]
    assert view.project_ids() == staged


def test_the_copies_of_each_project_are_shown_and_saved_as_a_screenshot(open_page):
    """Each project's copies (this computer, SSD, cloud archive; staging is none), the ones with
    fewer than two marked, the cloud archive and its monthly cost beside staging's."""
    view = open_page()
    reg = team_registry()
    for _, p in all_projects(reg):
        cell = view.page.locator(f'#projects tr[data-id="{p["id"]}"] td.copies')
        c = p.get("copies")
        if c is None:
            assert cell.inner_text() == "–"
            continue
        names = {"local": "this computer", "ssd": "SSD", "cloud": "cloud"}
        where = [names[k] for k in ("local", "ssd", "cloud") if c[k] is True]
        assert cell.inner_text() == f"{c['count']} · {', '.join(where)}", p["id"]
        few = any(
            w["project"] == p["id"] and w["kind"] == "not_backed_up"
            for b in reg["brands"]
            for w in b["warnings"]
        )
        assert (cell.locator(".bad").count() == 1) == few, p["id"]
    b63 = view.page.locator('#projects tr[data-id="b63-flivideo"] .where .badge')
    assert b63.all_inner_texts() == ["Archived", "SSD", "Cloud"]
    # the brand's cloud archive, and what it costs a month beside staging
    ad = next(b for b in reg["brands"] if b["brand"]["key"] == "appydave")["totals"]
    row = view.page.locator('#brands tr[data-brand="appydave"]')
    assert row.locator('[data-col="cloud_bytes"]').inner_text().split("\n") == [
        format_size(ad["cloud_bytes"]),
        f"{ad['in_cloud']} projects",
    ]
    assert row.locator('[data-part="archive"]').inner_text() == "< $0.01 archive"
    assert row.locator('[data-part="staging"]').inner_text().endswith(" staging")
    assert view.total("cloud") == f"{format_size(reg['totals']['cloud_bytes'])} · 7 files"
    assert view.page.locator('.state[data-state="cloud"] .state-count').inner_text() == "2"
    note = view.page.locator("#price-note").inner_text()
    assert "S3 Glacier Deep Archive $0.00099/GB-month;" in note
    assert note.endswith(
        "(aws.amazon.com/s3/pricing, us-east-1, as of 2026-06; estimates, not a bill)"
    )
    # the filter for projects with fewer than two copies
    view.page.select_option("#state-filter", "copies")
    assert sorted(view.project_ids()) == ["b65-guy-monroe-marketing-plan", "b66-next-video"]
    view.page.select_option("#state-filter", "")
    ARTIFACTS.mkdir(exist_ok=True)
    view.page.screenshot(path=str(ARTIFACTS / "dashboard-copies.png"), full_page=True)
    assert (ARTIFACTS / "dashboard-copies.png").stat().st_size > 10_000
    # a project's detail: its copies and its cloud archive, with the restore asked for
    view.page.click('#projects tr[data-id="b12-ssd-only"]')
    body = view.page.locator("#detail").inner_text()
    assert "2 · SSD, cloud" in body and "DEEP_ARCHIVE" in body
    assert "requested by david (bulk), expected by 2026-11-25 09:00 UTC" in body
    assert "null" not in body  # (a project without warnings once showed the word)
    view.page.screenshot(path=str(ARTIFACTS / "dashboard-cloud-detail.png"))


# --------------------------------------------------------------------------- project detail


def test_a_projects_detail_shows_its_s3_files(open_page):
    view = open_page()
    reg = team_registry()
    b65 = next(p for _, p in all_projects(reg) if p["id"].startswith("b65-"))
    expires = b65["storage"]["s3"]["expires"]
    generated = datetime.fromisoformat(reg["generated_at"].replace("Z", "+00:00")).date()
    days = (date.fromisoformat(expires) - generated).days
    assert 0 < days <= 14  # the fixture's point: this one expires soon
    row = view.page.locator(f'#projects tr[data-id="{b65["id"]}"]')
    assert row.locator(".expires").inner_text() == f"{expires} (in {days} days)"
    assert row.locator(".expires .bad").count() == 1  # and it is marked
    row.click()
    dialog = view.page.locator("#detail")
    assert dialog.is_visible()
    assert view.page.locator("#detail-title").inner_text() == b65["id"]
    rows = dialog.locator("table.objects tbody tr")
    objects = b65["storage"]["s3"]["objects"]
    assert rows.count() == len(objects)
    for i, obj in enumerate(objects):
        cells = [t.strip() for t in rows.nth(i).locator("td").all_inner_texts()]
        assert cells[0] == obj["path"]
        assert cells[1] == format_size(obj["bytes"])
        assert cells[2] == obj["uploaded_by"]
        assert cells[3] == obj["last_modified"][:10] + " " + obj["last_modified"][11:16] + " UTC"
        assert cells[4] == obj["state"]
        assert cells[5] == b65["storage"]["s3"]["expires"]
    body = dialog.inner_text()
    assert b65["storage"]["local"]["path"] in body
    assert "not on the SSD" in body
    for warning in b65["warnings"]:
        assert warning in body
    ARTIFACTS.mkdir(exist_ok=True)
    view.page.screenshot(path=str(ARTIFACTS / "dashboard-detail.png"))

    view.page.keyboard.press("Escape")
    assert not dialog.is_visible()

    # a brand whose S3 was never read: the detail says so rather than "nothing staged"
    view.page.click('#projects tr[data-id="a12-onboarding"]')
    assert "S3 could not be read" in dialog.inner_text()


def test_the_keyboard_alone_opens_a_detail_and_returns(open_page):
    view = open_page()
    ids = view.project_ids()
    view.page.focus('#projects th[data-sort="warnings"] button')  # the last column header
    view.page.keyboard.press("Tab")
    focused = "document.activeElement.dataset.id"
    assert view.page.evaluate(focused) == ids[0]
    view.page.keyboard.press("ArrowDown")
    assert view.page.evaluate(focused) == ids[1]
    outline = view.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # focus is visible
    view.page.keyboard.press("Enter")
    assert view.page.locator("#detail").is_visible()
    assert view.page.locator("#detail-title").inner_text() == ids[1]
    assert view.page.evaluate("document.activeElement.id") == "detail-close"
    view.page.keyboard.press("Escape")
    assert not view.page.locator("#detail").is_visible()
    assert view.page.evaluate(focused) == ids[1]  # back where the person was
    for control in ("#search", "#brand-filter", "#state-filter"):
        labels = view.page.locator(control).evaluate("e => [...e.labels].map(l => l.textContent)")
        assert labels and labels[0].strip(), control


def test_a_real_manifest_of_the_sample_root_renders_with_its_numbers(context, sample, as_user):
    """The manifest's actual output (not a hand-made registry) drives the page without errors."""
    from vam.catalog.registry import generate
    from vam.core.config import load_config
    from vam.core.projects import projects_root

    as_user("david")
    config = load_config(cwd=sample.root)
    root = projects_root(config)
    _, registry_path = generate(config, root, list(config.team.brands), use_s3=False)
    import json

    registry = json.loads(registry_path.read_text(encoding="utf-8"))
    path = write_dashboard(registry, sample.root / "dashboard.html")
    view = Opened(context.new_page())
    try:
        view.page.goto(path.resolve().as_uri())
        view.page.wait_for_selector("body[data-ready='true']")
        assert view.total("brands") == str(len(registry["brands"]))
        assert sorted(view.project_ids()) == sorted(p["id"] for _, p in all_projects(registry))
        assert view.total("projects") == str(registry["totals"]["projects"])
        assert view.errors == []
    finally:
        view.page.close()


@pytest.mark.integration
def test_jans_dashboard_says_no_ssd_and_warns_of_a_file_only_in_staging(
    context, sample, monkeypatch, s3
):
    """From a real manifest (the sample root, moto's S3): Jan has no SSD, and a project David
    uploaded exists only in S3 staging, which deletes it on its expiry date. The page said
    "not plugged in" for an SSD nobody configured, and nothing about the file."""
    import json

    import boto3

    from vam.catalog.registry import generate
    from vam.core.config import load_config
    from vam.core.projects import projects_root

    settings = sample.write_settings("jan")
    settings.write_text(
        "".join(x for x in settings.read_text().splitlines(True) if "ssd_root" not in x)
    )
    monkeypatch.setenv("VAM_SETTINGS", str(settings))
    s3c = boto3.client("s3")
    s3c.create_bucket(Bucket="video-projects")
    s3c.put_object(
        Bucket="video-projects", Key="staging/v-appydave/b99-new-cut/edit.mov", Body=b"e" * 10
    )
    config = load_config(cwd=sample.root)
    _, registry_path = generate(config, projects_root(config), list(config.team.brands))
    registry = json.loads(registry_path.read_text(encoding="utf-8"))
    expiry = next(
        p["storage"]["s3"]["expires"]
        for b in registry["brands"]
        for p in b["projects"]
        if p["id"] == "b99-new-cut"
    )
    view = Opened(context.new_page())
    try:
        view.page.goto(write_dashboard(registry, sample.root / "jan.html").resolve().as_uri())
        view.page.wait_for_selector("body[data-ready='true']")
        cells = view.texts('#brands [data-col="ssd"]')
        assert cells == ["no SSD configured"] * 6
        assert "not plugged in" not in view.page.locator("body").inner_text()

        only = view.page.locator('#warnings details[data-kind="only_in_staging"]')
        assert only.locator("summary").inner_text() == "Only copy in S3 staging (1)"
        assert only.locator("li").inner_text() == (
            "AppyDave · b99-new-cut — only copy in S3 staging: 1 file, 10 B (edit.mov), deleted "
            f"by the staging expiry on {expiry}; `vam s3.down --brand appydave --project "
            "b99-new-cut` keeps a copy here"
        )
        none = view.page.locator('#warnings details[data-kind="ssd_not_configured"]')
        assert none.locator("summary").inner_text() == "No SSD configured (6)"

        only.locator("li button").click()  # the warning opens the project
        dialog = view.page.locator("#detail")
        assert view.page.locator("#detail-title").inner_text() == "b99-new-cut"
        headers = view.texts("#detail table.objects th")
        row = [t.strip() for t in dialog.locator("table.objects tbody tr td").all_inner_texts()]
        assert dict(zip(headers, row, strict=True))["Elsewhere"] == "nowhere else"
        assert dialog.locator("table.objects td.bad", has_text="nowhere else").count() == 1
        assert "no SSD configured" in dialog.locator("section", has_text="SSD").last.inner_text()
        assert view.errors == []
    finally:
        view.page.close()
