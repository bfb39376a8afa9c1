import pytest

from vam.core.errors import SafetyError
from vam.s3sync.keys import check_relative, key_for, unsafe_reason


@pytest.mark.parametrize(
    "rel",
    [
        "../../evil",
        "a/../../b",
        "/etc/passwd",
        "C:/Windows/x",
        "c:evil",
        "a\\..\\b",
        "a//b",
        "./a",
        "CON",
        "sub/nul.txt",
        "what?.mp4",
        'a"b',
        "trailing. ",
        "tab\there",
        "",
    ],
)
def test_keys_that_would_escape_or_break_on_windows_are_refused(rel):
    assert unsafe_reason(rel) is not None
    with pytest.raises(SafetyError, match="refused remote key"):
        check_relative(rel, f"staging/v-appydave/b65-x/{rel}")


@pytest.mark.parametrize(
    "rel", ["raw.mp4", "b-roll café – take 2.mov", "sub dir/naïve.srt", "a.b.c"]
)
def test_spaces_and_non_ascii_are_fine(rel):
    assert unsafe_reason(rel) is None
    assert str(check_relative(rel)) == rel


def test_key_layout():
    assert (
        key_for("staging/v-appydave/", "b65-x", "sub/raw.mp4")
        == "staging/v-appydave/b65-x/sub/raw.mp4"
    )
