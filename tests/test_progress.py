"""The progress bars people watch during a transfer (issue 13 item 6): a bar per file of 8 MB and
more, and a resumed transfer that says where it resumed. The tqdm adapter is driven directly, as
the engine drives it, with a terminal-like stream standing in for stderr (no timing asserted)."""

from __future__ import annotations

import io
import sys

import pytest

from vam.s3sync.transfer.progress import NO_PROGRESS, make_progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def stderr(monkeypatch):
    """A terminal as stderr. Installed when the test body asks (`stderr()`): pytest's own capture
    puts its stderr back between a fixture's setup and the test."""
    screen = Terminal()

    def install() -> Terminal:
        monkeypatch.setattr(sys, "stderr", screen)
        return screen

    return install


def test_a_file_of_8_mb_gets_its_own_bar_a_smaller_one_only_counts_in_the_total(stderr):
    """Before: only files of 64 MB and more had a bar of their own."""
    stderr = stderr()
    with make_progress(20_000_000) as bars:
        assert bars.enabled  # stderr is a terminal
        bars.start_file("staging/v-ad/b65/eight.mov", 8_000_000)
        bars.start_file("staging/v-ad/b65/notes.md", 7_999_999)
        bars.advance("staging/v-ad/b65/eight.mov", 4_000_000)
        bars.advance("staging/v-ad/b65/notes.md", 7_999_999)
        bars.end_file("staging/v-ad/b65/notes.md", True)
        bars.end_file("staging/v-ad/b65/eight.mov", True)
    screen = stderr.getvalue()
    assert "eight.mov" in screen and "notes.md" not in screen and "total" in screen


def test_a_resumed_file_says_where_it_resumed_on_its_bar(stderr):
    stderr = stderr()
    with make_progress(100_000_000) as bars:
        bars.start_file("staging/v-ad/b65/raw.mp4", 100_000_000)
        bars.resumed("staging/v-ad/b65/raw.mp4", 62_000_000)
        bars.advance("staging/v-ad/b65/raw.mp4", 62_000_000)
        bars.advance("staging/v-ad/b65/raw.mp4", 38_000_000)
        bars.end_file("staging/v-ad/b65/raw.mp4", True)
    assert "resumed at 62%" in stderr.getvalue()


def test_a_resumed_small_file_says_so_on_the_total_bar(stderr):
    stderr = stderr()
    with make_progress(1_000_000) as bars:
        bars.start_file("staging/v-ad/b65/brief.md", 1_000_000)
        bars.resumed("staging/v-ad/b65/brief.md", 250_000)
        bars.advance("staging/v-ad/b65/brief.md", 1_000_000)
        bars.end_file("staging/v-ad/b65/brief.md", True)
    assert "brief.md resumed at 25%" in stderr.getvalue()


def test_without_a_terminal_nothing_is_drawn_and_every_call_is_safe(capsys):
    with make_progress(100) as bars:  # captured stderr is not a terminal
        assert not bars.enabled
        bars.start_file("a", 100)
        bars.resumed("a", 50)
        bars.advance("a", 50)
        bars.end_file("a", True)
    NO_PROGRESS.resumed("a", 50)
    assert capsys.readouterr().err == ""
