"""Resolving brands and projects the way people name them."""

import pytest

from vam.core.config import load_config
from vam.core.errors import NotFoundError, UsageError
from vam.core.projects import (
    find_brand,
    find_project,
    infer_location,
    list_active,
    list_archived,
    projects_root,
    resolve_name,
    select_project,
    ssd_mounted,
    ssd_path,
)


@pytest.fixture
def config(sample, as_user):
    as_user("david")
    return load_config(cwd=sample.root)


def test_brand_by_key_shortcut_repo_or_name_any_case(config):
    for name in ["appydave", "AD", "v-appydave", "AppyDave"]:
        assert find_brand(config, name).key == "appydave"
    assert find_brand(config, "joy").key == "beauty-and-joy"


def test_unknown_brand_suggests_the_nearest(config):
    with pytest.raises(NotFoundError, match="did you mean appydave"):
        find_brand(config, "apydave")


def test_short_id_exact_name_and_ambiguity(config, sample):
    root = projects_root(config)
    ad = find_brand(config, "ad")
    assert find_project(root, ad, "b65").id == "b65-guy-monroe-marketing-plan"
    assert find_project(root, ad, "b65-guy-monroe-marketing-plan").structure == "flat"
    (sample.root / "v-appydave" / "b65-other").mkdir()
    with pytest.raises(UsageError, match="ambiguous.*b65-guy-monroe-marketing-plan, b65-other"):
        find_project(root, ad, "b65")
    # an exact name wins over the prefix match
    assert find_project(root, ad, "b65-other").id == "b65-other"


def test_missing_project_names_brand_and_closest(config):
    root = projects_root(config)
    ad = find_brand(config, "ad")
    with pytest.raises(NotFoundError, match="no project 'b67' in brand appydave; closest: b6"):
        find_project(root, ad, "b67")


def test_a_name_nothing_like_any_project_lists_the_projects(config):
    """Not "it has no projects yet" for a brand that has some."""
    root = projects_root(config)
    ad = find_brand(config, "ad")
    with pytest.raises(NotFoundError) as err:
        find_project(root, ad, "zzz")
    assert "has no projects" not in str(err.value)
    assert "its 5 project(s): 006-ac-carnivore-90, Misc Stuff, b64-bmad" in str(err.value)
    empty = find_brand(config, "kiros")
    with pytest.raises(NotFoundError, match="kiros; it has no projects yet"):
        find_project(root, empty, "zzz")


@pytest.mark.parametrize(
    "typed",
    [
        "b65-guy-monroe-marketing-plan/",  # David's tab completion
        "b65-guy-monroe-marketing-plan\\",  # Jan's, on Windows
        "./b65-guy-monroe-marketing-plan",
        ".\\b65",
        "/Users/david/dev/video-projects/v-appydave/b65-guy-monroe-marketing-plan/",
        "D:\\video-projects\\v-appydave\\b65",
        " b65 ",
    ],
)
def test_a_typed_folder_means_its_name(config, typed):
    root = projects_root(config)
    assert find_project(root, find_brand(config, "ad"), typed).id == (
        "b65-guy-monroe-marketing-plan"
    )


@pytest.mark.parametrize("typed", ["v-appydave/", "v-appydave\\", "./v-appydave", "AD "])
def test_a_typed_brand_folder_means_the_brand(config, typed):
    assert find_brand(config, typed).key == "appydave"


def test_archived_and_remote_only_projects(config):
    root = projects_root(config)
    ad = find_brand(config, "ad")
    with pytest.raises(NotFoundError):
        find_project(root, ad, "b63")
    assert find_project(root, ad, "b63", include_archived=True).structure == "archived"
    remote = find_project(root, ad, "b70", remote_ids=["b70-from-jan"])
    assert remote.structure == "remote" and remote.path == root / "v-appydave" / "b70-from-jan"


def test_listing(config):
    root = projects_root(config)
    ad = find_brand(config, "ad")
    active = [p.id for p in list_active(root, ad)]
    assert "b65-guy-monroe-marketing-plan" in active and "006-ac-carnivore-90" in active
    assert "archived" not in active
    archived = {p.id for p in list_archived(root, ad)}
    assert archived == {"b63-flivideo", "003-first-video", "b40-heavy-left-behind"}
    ss = find_brand(config, "ss")
    assert [p.id for p in list_active(root, ss)] == ["a12-onboarding"]


def test_brand_and_project_from_the_current_folder(config, sample):
    deep = sample.root / "v-appydave" / "b65-guy-monroe-marketing-plan" / "s3-staging"
    here = infer_location(config, deep)
    assert here.brand.key == "appydave" and here.project_id == "b65-guy-monroe-marketing-plan"
    ss = infer_location(config, sample.root / "v-supportsignal" / "projects" / "a12-onboarding")
    assert (ss.brand.key, ss.project_id) == ("supportsignal", "a12-onboarding")
    arch = infer_location(
        config, sample.root / "v-appydave" / "archived" / "b50-b99" / "b63-flivideo"
    )
    assert arch.project_id == "b63-flivideo"
    assert infer_location(config, sample.root).brand is None


def test_flags_win_over_the_current_folder(config, sample):
    root = projects_root(config)
    cwd = sample.root / "v-appydave" / "b65-guy-monroe-marketing-plan"
    assert select_project(config, root, None, None, cwd).id == "b65-guy-monroe-marketing-plan"
    assert select_project(config, root, None, "b64", cwd).id == "b64-bmad-claude-sdk"
    assert select_project(config, root, "voz", "boy", cwd).id == "boy-baker"


def test_outside_any_brand_with_no_flags(config, sample):
    root = projects_root(config)
    with pytest.raises(UsageError, match="pass --brand"):
        select_project(config, root, None, None, sample.root)
    with pytest.raises(UsageError, match="pass --project"):
        select_project(config, root, "ad", None, sample.root)


def test_resolve_name_is_pure():
    from vam.core.team import Brand

    b = Brand(key="voz", name="VOZ", repo="v-voz", workflow="storyline")
    assert resolve_name("boy", ["boy-baker", "ocean-story"], brand=b) == "boy-baker"


def test_ssd_paths(config, sample):
    ad = find_brand(config, "ad")
    assert ssd_path(config.settings, ad) == sample.ssd_root / "appydave"
    assert ssd_mounted(config.settings, ad)


def test_brand_or_the_current_folders_or_every_brand(config, sample):
    from vam.core.projects import select_brands

    assert [b.key for b in select_brands(config, "ad", sample.root)] == ["appydave"]
    inside = sample.root / "v-voz" / "boy-baker"
    assert [b.key for b in select_brands(config, None, inside)] == ["voz"]
    assert len(select_brands(config, None, sample.root)) == len(config.team.brands)
