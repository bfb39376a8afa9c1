"""brands.toml and user settings: valid files load, every mistake names the file, key and fix."""

from pathlib import Path

import pytest

from vam.core.config import CHECKOUT, find_brands_file, load_config
from vam.core.errors import ConfigError
from vam.core.settings import load_settings, read_legacy_env, with_legacy_fallback
from vam.core.team import parse_team


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_teams_brands_toml_has_six_brands_and_two_users():
    team = parse_team(CHECKOUT / "brands.toml")
    assert [b.key for b in team.brands] == [
        "appydave",
        "voz",
        "aitldr",
        "kiros",
        "beauty-and-joy",
        "supportsignal",
    ]
    ad = team.brands[0]
    assert (ad.shortcut, ad.repo, ad.workflow) == ("ad", "v-appydave", "flivideo")
    assert team.brands[-1].projects_dir == "projects"
    assert team.storage.bucket == "video-projects" and team.storage.region == "us-east-1"
    assert team.storage.prefix_for("voz") == "staging/v-voz/"
    assert team.storage.staging_days == 90
    assert team.storage.archive_prefix_for("voz") == "archive/v-voz/"
    assert team.storage.archive_class == "DEEP_ARCHIVE"
    assert {u.name: u.role for u in team.users} == {"david": "owner", "jan": "editor"}
    assert ad.is_valid_id("b65-guy-monroe-marketing-plan") and ad.is_valid_id("006-ac-carnivore-90")
    assert not ad.is_valid_id("Misc Stuff")


STORAGE = '[storage]\nbucket = "video-projects"\nregion = "us-east-1"\n'


@pytest.mark.parametrize(
    "line, says",
    [
        (
            'archive_class = "GLACIER_DEEP"',
            ":4: archive_class is 'GLACIER_DEEP'; use one of DEEP_ARCHIVE, GLACIER, GLACIER_IR, "
            "STANDARD_IA",
        ),
        (
            'archive_prefix = "archive/"',
            ":4: archive_prefix must contain {brand}, e.g. 'archive/v-{brand}/'",
        ),
        (
            'archive_prefix = "staging/archive/v-{brand}/"',
            ":4: archive_prefix 'staging/archive/v-{brand}/' overlaps the staging area "
            "(staging/), whose lifecycle rule deletes everything under it; use e.g. "
            "'archive/v-{brand}/'",
        ),
        (
            'archive_prefix = "v-{brand}/archive/"',
            ":4: archive_prefix 'v-{brand}/archive/' needs a fixed folder before {brand}",
        ),
    ],
)
def test_a_bad_archive_setting_is_one_line_naming_file_line_and_fix(tmp_path, line, says):
    path = write(tmp_path / "brands.toml", STORAGE + line + "\n[brands.a]\n")
    with pytest.raises(ConfigError) as err:
        parse_team(path)
    assert str(err.value).startswith(f"{path}{says}"), str(err.value)
    assert "\n" not in str(err.value)


def test_the_archive_class_may_be_written_in_any_case(tmp_path):
    path = write(tmp_path / "brands.toml", STORAGE + 'archive_class = "glacier_ir"\n[brands.a]\n')
    assert parse_team(path).storage.archive_class == "GLACIER_IR"


def test_malformed_toml_names_file_and_line(tmp_path):
    path = write(tmp_path / "brands.toml", '[storage]\nbucket = "x\nregion = "us-east-1"\n')
    with pytest.raises(ConfigError) as err:
        parse_team(path)
    assert str(path) in str(err.value) and "line 2" in str(err.value)


def test_unknown_key_names_file_line_and_suggests(tmp_path):
    path = write(
        tmp_path / "brands.toml",
        '[storage]\nbucket = "video-projects"\nregion = "us-east-1"\n\n'
        '[brands.appydave]\nrepo = "v-appydave"\nshortcutt = "ad"\n',
    )
    with pytest.raises(ConfigError) as err:
        parse_team(path)
    msg = str(err.value)
    assert f"{path}:7" in msg and "brands.appydave.shortcutt" in msg and "'shortcut'" in msg


def test_missing_required_key(tmp_path):
    path = write(tmp_path / "brands.toml", '[storage]\nregion = "us-east-1"\n[brands.a]\n')
    with pytest.raises(ConfigError, match="missing key 'storage.bucket'"):
        parse_team(path)


def test_wrong_type_and_bad_workflow(tmp_path):
    base = '[storage]\nbucket = "video-projects"\nregion = "us-east-1"\n'
    path = write(tmp_path / "b1.toml", base + 'staging_days = "ninety"\n[brands.a]\n')
    with pytest.raises(
        ConfigError, match="'storage.staging_days' must be a whole number, not 'ninety'"
    ):
        parse_team(path)
    path = write(tmp_path / "b2.toml", base + '[brands.a]\nworkflow = "vlog"\n')
    with pytest.raises(ConfigError, match="use one of flivideo, storyline"):
        parse_team(path)


@pytest.mark.parametrize(
    "body, says",
    [
        ("[brands.a]\nshortcut = 3\n", "'brands.a.shortcut' must be text in quotes"),
        ("[brands.a]\n[files]\nheavy_min_mb = true\n", "'files.heavy_min_mb' must be a number,"),
        ('[brands.a]\nmembers = "jan"\n', "'brands.a.members' must be a list (e.g."),
        (
            "[brands.a]\n[[users]]\nname = 1\n",
            "'users' must be a table, not [{'name': 1}]; "
            "write one [users.NAME] table each, not [[users]]",
        ),
    ],
)
def test_wrong_types_in_the_words_of_the_file(tmp_path, body, says):
    """Jan edits brands.toml by hand: 'must be a str / a int / a dict' tells him nothing."""
    base = '[storage]\nbucket = "video-projects"\nregion = "us-east-1"\n'
    path = write(tmp_path / "brands.toml", base + body)
    with pytest.raises(ConfigError) as err:
        parse_team(path)
    assert says in str(err.value)


def test_user_scoped_to_an_unknown_brand(tmp_path):
    path = write(
        tmp_path / "brands.toml",
        '[storage]\nbucket = "video-projects"\nregion = "us-east-1"\n[brands.voz]\n'
        '[users.client]\nbrands = ["vox"]\n',
    )
    with pytest.raises(ConfigError, match="unknown brand 'vox'; did you mean 'voz'"):
        parse_team(path)


def test_settings_file_and_env_overrides(tmp_path):
    path = write(
        tmp_path / "settings.toml",
        'user = "jan"\nprojects_root = "D:/video-projects"\nmax_rate = "20Mbit"\n'
        '[ssd]\nvoz = "/Volumes/T7/voz"\n',
    )
    s = load_settings({"VAM_SETTINGS": str(path)})
    assert (
        s.user == "jan"
        and s.max_rate == 2_500_000
        and s.ssd_brands["voz"] == Path("/Volumes/T7/voz")
    )
    s = load_settings({"VAM_SETTINGS": str(path), "VAM_USER": "david", "AWS_PROFILE": "p"})
    assert s.user == "david" and s.aws_profile == "p" and s.sources["user"] == "$VAM_USER"


@pytest.mark.parametrize("line", ["max_rate = 5", 'max_rate = "5"'])
def test_a_rate_without_a_unit_in_the_settings_file_names_the_file_and_line(tmp_path, line):
    path = write(tmp_path / "settings.toml", f'user = "jan"\n{line}\n')
    with pytest.raises(ConfigError) as refused:
        load_settings({"VAM_SETTINGS": str(path)})
    assert str(refused.value) == (
        f"{path}:2: max_rate 5 has no unit; give a unit: 5MB/s, 20Mbit, 500KB/s (or 0 for no cap)"
    )


def test_a_rate_without_a_unit_in_the_environment_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_settings({"HOME": str(tmp_path), "VAM_MAX_RATE": "5"})
    assert str(refused.value).startswith("$VAM_MAX_RATE 5 has no unit; give a unit: 5MB/s")
    assert load_settings({"HOME": str(tmp_path), "VAM_MAX_RATE": "off"}).max_rate is None


@pytest.mark.parametrize(
    "key, value",
    [
        ("user", '"david"'),
        ("projects_root", '"/Users/david/dev/video-projects"'),
        ("max_rate", '"2MB/s"'),
        ("aws_profile", '"david"'),
        ("webhook_url", '"https://x"'),
    ],
)
def test_a_setting_written_below_the_ssd_table_says_so(tmp_path, key, value):
    """TOML puts every key after `[ssd]` inside it: `user = "david"` there became the SSD folder
    of a brand called "user", and vam went on to say "who you are is not set" or "projects root
    unknown" about a file that sets both."""
    path = write(
        tmp_path / "settings.toml",
        'brands_file = "/x/brands.toml"\n\n[ssd]\nappydave = "/Volumes/T7/appydave"\n\n'
        f"# added later\n{key} = {value}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_settings({"VAM_SETTINGS": str(path)})
    assert str(err.value) == (
        f"'{key}' is inside [ssd] in {path} line 7; move it above the first [table]"
    )


def written_below(body: str, *, key: str, table: str, line: int, home: str):
    """A brands.toml whose `key` (at `line`, below [table]) belongs in [home]."""
    return pytest.param(body, key, table, line, home, id=key)


@pytest.mark.parametrize(
    "body, key, table, line, home",
    [
        # appended at the end of the file, after the last [users.*] table
        written_below(
            "[brands.a]\n[users.jan]\nrole = 'editor'\nstaging_days = 30\n",
            key="staging_days",
            table="users.jan",
            line=7,
            home="storage",
        ),
        written_below(
            "[files]\nexclude = ['*.tmp']\nregion = 'eu-west-1'\n[brands.a]\n",
            key="region",
            table="files",
            line=6,
            home="storage",
        ),
        written_below(
            "[brands.a]\nrepo = 'v-a'\nheavy_min_mb = 200\n",
            key="heavy_min_mb",
            table="brands.a",
            line=6,
            home="files",
        ),
    ],
)
def test_a_brands_toml_key_under_the_wrong_table_names_where_it_belongs(
    tmp_path, body, key, table, line, home
):
    base = '[storage]\nbucket = "video-projects"\nregion = "us-east-1"\n'
    path = write(tmp_path / "brands.toml", base + body)
    with pytest.raises(ConfigError) as err:
        parse_team(path)
    assert str(err.value) == (
        f"'{key}' is inside [{table}] in {path} line {line}; it belongs in [{home}]: "
        f"move it under [{home}]"
    )


def test_unknown_key_in_settings(tmp_path):
    path = write(tmp_path / "settings.toml", 'user = "jan"\nprojects_rot = "/x"\n')
    with pytest.raises(ConfigError) as err:
        load_settings({"VAM_SETTINGS": str(path)})
    assert f"{path}:2" in str(err.value) and "did you mean 'projects_root'" in str(err.value)


def test_missing_settings_file_named_by_env(tmp_path):
    with pytest.raises(ConfigError, match="settings file not found: .*VAM_SETTINGS"):
        load_settings({"VAM_SETTINGS": str(tmp_path / "nope.toml")})


def test_no_settings_file_at_the_default_path_is_fine(tmp_path):
    s = load_settings({"HOME": str(tmp_path)})
    assert s.path is None and s.user is None


def test_legacy_video_tools_env_is_a_fallback(tmp_path):
    write(
        tmp_path / ".video-tools.env",
        "# old config\n"
        "SSD_BASE=/Volumes/T7/youtube-PUBLISHED/appydave\n"
        "export S3_SYNC_USER='david'\n"
        'AWS_PROFILE="old"\n',
    )
    legacy = read_legacy_env(tmp_path)
    s = with_legacy_fallback(load_settings({"HOME": str(tmp_path)}), legacy, "appydave")
    assert s.user == "david" and s.aws_profile == "old"
    assert s.ssd_brands["appydave"] == Path("/Volumes/T7/youtube-PUBLISHED/appydave")
    # the person's own settings win over the legacy file
    s2 = with_legacy_fallback(
        load_settings({"HOME": str(tmp_path), "VAM_USER": "jan"}), legacy, "appydave"
    )
    assert s2.user == "jan"


def test_brands_file_lookup_order(tmp_path):
    root = tmp_path / "video-projects"
    nearest = write(root / "brands.toml", (CHECKOUT / "brands.toml").read_text())
    other = write(tmp_path / "other.toml", (CHECKOUT / "brands.toml").read_text())
    deep = root / "v-appydave" / "b65-x"
    deep.mkdir(parents=True)
    settings = load_settings({"HOME": str(tmp_path)})
    assert find_brands_file(settings, deep, {})[0] == nearest
    assert find_brands_file(settings, deep, {"VAM_BRANDS": str(other)})[0] == other
    with pytest.raises(ConfigError, match="VAM_BRANDS"):
        find_brands_file(settings, deep, {"VAM_BRANDS": str(tmp_path / "missing.toml")})
    # beside the checkout: video-projects/vam/brands.toml seen from a brand repo
    sib_root = tmp_path / "vp2"
    sib = write(sib_root / "vam" / "brands.toml", (CHECKOUT / "brands.toml").read_text())
    (sib_root / "v-voz").mkdir()
    assert find_brands_file(settings, sib_root / "v-voz", {})[0] == sib


def test_load_config_from_a_sample_root(sample, monkeypatch):
    monkeypatch.setenv("VAM_SETTINGS", str(sample.write_settings("david")))
    config = load_config(cwd=sample.root)
    assert config.team.path == sample.brands_file and config.settings.user == "david"


@pytest.mark.parametrize("folder", ["D:\\video-projects", "C:\\Users\\jan\\video-projects"])
def test_a_windows_path_in_double_quotes_says_how_to_write_it(tmp_path, folder):
    """Jan pastes his folder from Explorer: TOML reads \\v and \\U as escapes."""
    path = write(tmp_path / "settings.toml", f'user = "jan"\nprojects_root = "{folder}"\n')
    with pytest.raises(ConfigError) as err:
        load_settings({"VAM_SETTINGS": str(path)})
    message = str(err.value)
    assert message.startswith(f"{path}: not valid TOML: ") and "(at line 2," in message
    assert message.endswith(
        'write Windows paths with forward slashes ("D:/video-projects") or in single quotes '
        "('D:\\video-projects')"
    )
