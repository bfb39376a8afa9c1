"""The real entry points, as a person runs them: one clear line and a non-zero exit on bad input."""

import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_invoke_and_vam_list_the_same_tasks(vam_cli):
    vam = vam_cli("--list")
    inv = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"], cwd=REPO, capture_output=True, text=True
    )
    assert vam.returncode == 0 and inv.returncode == 0
    assert "doctor" in vam.stdout
    assert vam.stdout == inv.stdout


def one_line_error(result, *needles):
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def env(sample):
    return {"VAM_SETTINGS": str(sample.write_settings("david"))}


def test_unknown_brand_suggests(vam_cli, env):
    one_line_error(
        vam_cli("doctor", "--brand", "apydave", "--offline", env=env),
        "unknown brand 'apydave'",
        "did you mean appydave",
    )


def test_malformed_brands_toml_names_file_and_line(vam_cli, sample, env):
    sample.brands_file.write_text('[storage]\nbucket = "video-projects\n')
    one_line_error(vam_cli("doctor", "--offline", env=env), str(sample.brands_file), "line 2")


def test_unknown_key_in_settings(vam_cli, sample):
    path = sample.write_settings("david", colour="blue")
    one_line_error(
        vam_cli("doctor", env={"VAM_SETTINGS": str(path)}), str(path), "unknown key 'colour'"
    )


def test_missing_settings_file_when_required(vam_cli, tmp_path):
    missing = tmp_path / "nope.toml"
    one_line_error(
        vam_cli("doctor", env={"VAM_SETTINGS": str(missing)}),
        "settings file not found",
        str(missing),
    )


def test_doctor_offline_on_a_sample_root(vam_cli, env):
    result = vam_cli("doctor", "--brand", "ad", "--offline", env=env)
    assert result.returncode == 0, result.stderr
    assert "✓ brand repo appydave" in result.stdout
    assert "✓ SSD for appydave" in result.stdout
    assert "all 5 checks passed" in result.stdout


def test_doctor_reports_an_unplugged_ssd(vam_cli, sample, env):
    import shutil

    shutil.rmtree(sample.ssd_root)
    result = vam_cli("doctor", "--brand", "ad", "--offline", env=env)
    assert result.returncode == 1
    assert "✗ SSD for appydave" in result.stdout and "plug in and mount the SSD" in result.stdout


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize(
    "args", [("--list",), ("--help", "s3.up"), ("doctor", "--brand", "ad", "--offline")]
)
def test_a_closed_pipe_ends_quietly(env, args, buffered):
    """`vam … | head`: the reader has gone before vam writes; no traceback, no 'Broken pipe'.

    Buffered is what a user's machine does (no PYTHONUNBUFFERED): the text waits in Python's
    buffer and the write only fails at the flush, which must happen inside vam, not at exit."""
    import os

    base = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        base["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before vam starts, so every write fails: no timing involved
    try:
        result = subprocess.run(
            [sys.executable, "-m", "vam", *args],
            cwd=REPO,
            env={**base, "PYTHONPATH": str(REPO), **env},
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141  # as a shell reports a program stopped by SIGPIPE


def test_ctrl_c_in_a_task_is_one_line(capsys):
    from invoke import Collection

    from vam.tasks.base import vam_task
    from vam.tasks.program import VamProgram

    @vam_task()
    def wait(c):
        raise KeyboardInterrupt  # what Python raises in the task when Ctrl-C arrives

    program = VamProgram(namespace=Collection(wait), name="vam", binary="vam")
    with pytest.raises(SystemExit) as stopped:
        program.run(["vam", "wait"])
    assert stopped.value.code == 130
    assert capsys.readouterr().err == ("vam: interrupted; run the same command again to continue\n")


def test_ctrl_c_before_any_task_runs_is_one_line(monkeypatch, capsys):
    """Ctrl-C while invoke and boto3 load (the first second): one line, not a traceback."""
    from vam import cli
    from vam.tasks.program import VamProgram

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(VamProgram, "run", interrupted)
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 130
    assert capsys.readouterr().err == ("vam: interrupted; run the same command again to continue\n")


def test_dry_is_not_taken_for_a_real_run(vam_cli, env):
    """`--dry` used to be invoke's own core flag (echo shell commands), so `vam s3.up --dry`
    uploaded for real. Now it is refused before anything runs, pointing at --dry-run."""
    for typed in (["--dry"], ["-d"], ["--dryrun"]):
        line = one_line_error(
            vam_cli("s3.up", "--brand", "ad", "--project", "b65", *typed, env=env),
            f"vam: s3.up has no option {typed[0]}; did you mean --dry-run?",
        )
        assert "vam --help s3.up" in line


def run_in_process(capsys, *argv: str) -> tuple[int, str]:
    """What `vam ARGV` does: the namespace its command line needs (vam/cli.py), then invoke."""
    from vam.tasks import namespace_for
    from vam.tasks.program import VamProgram

    namespace = namespace_for(["vam", *argv])
    with pytest.raises(SystemExit) as stopped:
        VamProgram(namespace=namespace, name="vam", binary="vam").run(["vam", *argv])
    return stopped.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, says",
    [
        (["s3.upp"], "vam: no task 's3.upp'; did you mean s3.up or s3.uploads"),
        (["S3.up"], "vam: no task 'S3.up'; did you mean s3.up"),
        (["s3", "up"], "vam: 's3' is a group of tasks: name one with a dot, e.g. `vam s3.up`"),
        (["--help", "s3.upp"], "vam: no task 's3.upp'; did you mean s3.up"),
        (["s3.status", "--prject", "b65"], "vam: s3.status has no option --prject; did you mean"),
        (["s3.up", "--brand"], "vam: --brand needs a value, e.g. --brand=VALUE; see `vam --h"),
        (["s3.up", "extra"], "vam: unexpected 'extra' after s3.up: options are --name value"),
        (["ssd.archive", "--next", "two"], "vam: an option's value cannot be read (invalid lit"),
        (["--pty", "s3.status"], "vam: s3.status has no option --pty;"),
        (["aws.setup-user"], "vam: aws.setup-user needs --name; see `vam --help aws.setup-user`"),
    ],
)
def test_a_command_line_vam_cannot_read_is_one_line_with_the_nearest(capsys, argv, says):
    code, err = run_in_process(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(says), err


def test_debug_shows_the_traceback_but_logs_no_credentials(vam_cli, env, s3):
    """--debug used to switch botocore's logging on, which prints every request's headers,
    the AWS session token included."""
    token = "SessionTokenThatMustNeverBePrinted"
    argv = ["--debug", "s3.status", "--brand", "ad", "--project", "b65"]
    result = vam_cli(*argv, env={**env, "AWS_SESSION_TOKEN": token})
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "bucket video-projects does not" in result.stderr
    assert token not in result.stderr + result.stdout
    assert "botocore" not in result.stderr.replace("/botocore/", "")


def test_one_confirmation_prompt_for_every_task(monkeypatch):
    """aws.*, s3.uploads and s3.cleanup ask the same way: --yes, else y/yes at a terminal."""
    from vam.core.errors import UsageError
    from vam.tasks.base import confirmed

    refusal = UsageError("not a terminal, so vam cannot ask: add --yes to delete them")
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda q: asked.append(q) or "")
    assert confirmed("delete these 2 file(s)?", True, refusal) and asked == []
    with pytest.raises(UsageError) as refused:  # pytest's stdin is not a terminal
        confirmed("delete these 2 file(s)?", False, refusal)
    assert refused.value is refusal and asked == []

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    assert not confirmed("delete these 2 file(s)?", False, refusal)
    assert asked == ["delete these 2 file(s)? [y/N] "]
    for answer, agreed in (("y", True), (" YES ", True), ("n", False), ("yep", False)):
        monkeypatch.setattr("builtins.input", lambda q, a=answer: a)
        assert confirmed("delete?", False, refusal) is agreed


def test_every_task_is_reachable_through_the_namespace_its_command_line_gets():
    from vam.tasks import namespace_for, ns

    for name in ns.task_names:
        partial = namespace_for(["vam", name, "--brand", "ad"])
        assert partial[name].body is ns[name].body, name
        assert set(partial.task_names) <= set(ns.task_names)


@pytest.mark.parametrize(
    "argv, whole",
    [
        (["s3.up", "--brand", "ad", "--project", "b65"], False),
        (["s3.status", "s3.up"], False),
        (["doctor"], False),
        (["--list"], True),
        (["-h"], True),
        (["--help", "s3.up"], True),
        ([], True),
        (["S3.up"], True),  # no collection S3: the whole namespace, so "did you mean" sees s3.up
        (["s3", "up"], True),
    ],
)
def test_a_command_line_gets_only_the_task_modules_it_names(argv, whole):
    from vam.tasks import namespace_for, ns

    names = set(namespace_for(["vam", *argv]).task_names)
    if whole:
        assert names == set(ns.task_names)
    else:
        named = {word.split(".")[0] for word in argv if not word.startswith("-")}
        assert names and all(name.split(".")[0] in named for name in names), names


def test_vam_s3_up_does_not_load_the_iam_ssd_or_dashboard_code():
    """The point of namespace_for: start-up is part of every re-sync's time."""
    probe = (
        "import sys; from vam.tasks import namespace_for; "
        "namespace_for(['vam', 's3.up', '--brand', 'ad']); "
        "print(sorted(m for m in ('vam.aws.bucket', 'vam.aws.bucketsettings', 'vam.aws.iamuser', "
        "'vam.ssd.archive', 'vam.ssd.archive_plan', 'vam.catalog.dashboard', "
        "'vam.catalog.manifest', 'vam.catalog.registry', 'vam.tasks.s3') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['vam.tasks.s3']"


CONSOLES = {
    # Jan's Windows with output redirected to a file: Python writes the ANSI code page
    "cp1252": ({"PYTHONIOENCODING": "cp1252"}, "cp1252"),
    # a server or cron job with no locale at all, and Python's UTF-8 mode switched off
    "ascii": ({"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": None}, "ascii"),
    # the same without the switch: Python's UTF-8 mode takes over in the C locale (PEP 540)
    "c-locale": ({"LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": None}, "utf-8"),
}


@pytest.mark.integration
@pytest.mark.parametrize("console", CONSOLES)
def test_a_console_that_cannot_print_check_marks_or_arrows_still_gets_the_answer(env, s3, console):
    """✓ and → are not in cp1252 or ASCII: vam used to stop at the first one with
    'unexpected error: UnicodeEncodeError' (exit 1), in the middle of `doctor`'s report."""
    import os

    import boto3

    boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1").create_bucket(
        Bucket="video-projects"
    )
    settings, encoding = CONSOLES[console]
    run_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    for name, value in settings.items():
        if value is None:
            run_env.pop(name, None)
        else:
            run_env[name] = value

    def run(*args: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "vam", *args],
            cwd=REPO,
            env=run_env,
            capture_output=True,
            timeout=120,
        )
        # text in the console's encoding; in the C locale a file name's bytes pass through as
        # they are on disk (as `ls` prints them), so those may be any byte
        return tuple(
            [done.returncode]
            + [b.decode(encoding, errors="surrogateescape") for b in (done.stdout, done.stderr)]
        )

    code, out, err = run("doctor", "--brand", "ad", "--offline")
    assert (code, err) == (0, "")
    check, arrow = ("✓", "→") if encoding == "utf-8" else ("+", "->")
    assert f"{check} brand repo appydave: " in out and "all 5 checks passed" in out

    code, out, err = run("s3.status", "--brand", "ad", "--project", "b65")
    assert (code, err) == (0, "")
    assert f"{arrow} vam s3.up --brand appydave --project b65-guy-monroe-marketing-plan" in out
    assert "b-roll caf" in out  # the file names are still there, whatever their accents became


def test_doctor_without_an_ssd_configured_says_so_and_what_to_set(vam_cli, sample):
    """Jan has no archive SSD: doctor said ✗ "SSD for …: no SSD configured" for every brand and
    failed, as if his setup were broken."""
    path = sample.write_settings("jan")
    path.write_text("".join(x for x in path.read_text().splitlines(True) if "ssd_root" not in x))
    result = vam_cli("doctor", "--offline", env={"VAM_SETTINGS": str(path)})
    assert result.returncode == 0, result.stdout
    assert (
        'SSD            no SSD configured; to archive to one, set ssd_root = "/Volumes/T7/'
        f'youtube-PUBLISHED" (or [ssd] BRAND = "…") in {path}'
    ) in result.stdout
    assert "✗" not in result.stdout and "plug in" not in result.stdout
