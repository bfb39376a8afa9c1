import os

from vam.core.files import FileRules, Kind, Skipped, classify, walk

RULES = FileRules()
MB = 1000 * 1000


def test_video_is_heavy_whatever_its_size():
    assert classify("recordings/01-1-intro.MOV", 10, RULES) is Kind.HEAVY
    assert classify("final/cut.mxf", 10, RULES) is Kind.HEAVY


def test_any_file_of_100mb_or_more_is_heavy():
    assert classify("audio/take.wav", 100 * MB, RULES) is Kind.HEAVY
    assert classify("audio/take.wav", 100 * MB - 1, RULES) is Kind.OTHER


def test_light_files():
    for name in ["a.srt", "b.vtt", "notes.md", "thumb.PNG", "data/storyline.json", "x.yaml"]:
        assert classify(name, 1000, RULES) is Kind.LIGHT, name


def test_excluded_names_anywhere_in_the_path():
    for name in [
        ".DS_Store",
        "sub/Thumbs.db",
        "raw.mp4:Zone.Identifier",
        ".git/config",
        "node_modules/x/index.js",
        ".vam/sync.json",
        "raw.mp4.vam-part",
    ]:
        assert classify(name, 1, RULES) is Kind.EXCLUDED, name


def test_exclusions_are_configurable():
    rules = FileRules(exclude=("*.tmp",))
    assert classify("cache.tmp", 1, rules) is Kind.EXCLUDED
    assert classify(".DS_Store", 1, rules) is Kind.OTHER


def test_walk_lists_files_sorted_with_posix_paths_and_skips_excluded(tmp_path):
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "b" / "c" / "deep café.mov").write_bytes(b"x" * 5)
    (tmp_path / "a.md").write_text("a")
    (tmp_path / ".DS_Store").write_text("junk")
    (tmp_path / ".vam").mkdir()
    (tmp_path / ".vam" / "sync.json").write_text("{}")
    files = list(walk(tmp_path, RULES))
    assert [f.rel for f in files] == ["a.md", "b/c/deep café.mov"]
    assert files[1].size == 5


def test_walk_never_follows_links_and_says_so(tmp_path):
    """A link is skipped wherever it points (issue 12 item 3): inside the root or out of it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    root = tmp_path / "root"
    root.mkdir()
    (root / "inside.txt").write_text("i")
    os.symlink(outside / "secret.txt", root / "link.txt")
    os.symlink(outside, root / "linkdir")
    os.symlink(root / "inside.txt", root / "alias.txt")
    skipped: list[Skipped] = []
    files = [f.rel for f in walk(root, RULES, skipped)]
    assert files == ["inside.txt"]
    assert sorted(s.rel for s in skipped) == ["alias.txt", "link.txt", "linkdir"]
    assert all("a link to" in s.reason and "does not follow links" in s.reason for s in skipped)
