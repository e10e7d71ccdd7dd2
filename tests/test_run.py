"""The subprocess wrapper: missing tools, failures, environment, secrets on stdin."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import pytest

from buildiso.errors import BuildError, ToolMissing
from buildiso.run import output, require_tools, run, spawn, tool_path


def test_missing_tool_names_the_debian_package() -> None:
    with pytest.raises(ToolMissing) as info:
        run(["xorriso-does-not-exist", "--version"])
    assert "xorriso-does-not-exist not found" in str(info.value)


def test_known_tool_hint_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissing) as info:
        tool_path("implantisomd5")
    assert "isomd5sum" in str(info.value)


def test_require_tools_reports_every_missing_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(BuildError) as info:
        require_tools("createrepo_c", "mcopy", "definitely-not-a-tool")
    message = str(info.value)
    assert "createrepo_c" in message and "mcopy" in message and "definitely-not-a-tool" in message
    assert "createrepo-c" in message and "mtools" in message


def test_failure_carries_command_exit_code_and_stderr_tail() -> None:
    with pytest.raises(BuildError) as info:
        run(["sh", "-c", "echo first >&2; echo 'the real reason' >&2; exit 3"])
    message = str(info.value)
    assert "exit code 3" in message
    assert "the real reason" in message
    assert "sh -c" in message


def test_check_false_returns_the_exit_code() -> None:
    proc = run(["sh", "-c", "exit 4"], check=False)
    assert proc.returncode == 4


def test_runs_with_c_locale_and_extra_env() -> None:
    text = output(["sh", "-c", 'echo "$LANG $LC_ALL $EXTRA"'], env={"EXTRA": "yes"})
    assert text.strip() == "C C yes"


def test_secret_on_stdin_never_reaches_the_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="buildiso")
    logging.getLogger("buildiso").propagate = True
    text = output(["cat"], input="s3cret-Value!")
    assert text == "s3cret-Value!"
    assert "cat" in caplog.text
    assert "s3cret" not in caplog.text


def test_binary_output() -> None:
    proc = run(["printf", "\\001\\002"], text=False)
    assert proc.stdout == b"\x01\x02"


def test_log_handler_follows_a_replaced_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from buildiso.log import setup_logging, step

    first = io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    setup_logging()
    step("one")
    first.close()
    second = io.StringIO()
    monkeypatch.setattr("sys.stderr", second)
    step("two")
    assert second.getvalue() == "==> two\n"


# --- the minimal environment and spawn() --------------------------------------------------


def test_children_get_a_minimal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILDISO_CS_ADMIN_PASSWORD", "Secret-Pa55-Phrase")
    monkeypatch.setenv("SOME_TOKEN", "tok")
    env = output(["env"], env={"SOURCE_DATE_EPOCH": "42"})
    names = {line.split("=", 1)[0] for line in env.splitlines()}
    assert "BUILDISO_CS_ADMIN_PASSWORD" not in names and "SOME_TOKEN" not in names
    assert "Secret-Pa55-Phrase" not in env
    assert {"PATH", "LANG", "LC_ALL", "SOURCE_DATE_EPOCH"} <= names
    assert "LANG=C" in env.splitlines()


def test_spawn_keeps_the_stderr_tail_and_exit_code() -> None:
    with spawn(["sh", "-c", "echo one >&2; echo two >&2; exit 3"]) as child:
        assert child.wait() == 3
    assert child.stderr_tail().splitlines() == ["one", "two"]


def test_spawn_writes_to_a_file_and_hides_the_parent_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILDISO_CS_ADMIN_PASSWORD", "Secret-Pa55-Phrase")
    log_file = tmp_path / "stderr.log"
    with spawn(["sh", "-c", "env >&2"], stderr=log_file) as child:
        assert child.wait() == 0
    text = log_file.read_text()
    assert "LANG=C" in text and "Secret-Pa55-Phrase" not in text


def test_spawn_stops_its_child_when_the_block_fails() -> None:
    pid = -1
    with pytest.raises(RuntimeError), spawn(["sleep", "60"], grace=1.0) as child:
        pid = child.proc.pid
        raise RuntimeError("the caller failed")
    assert child.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_spawn_kills_a_child_that_ignores_sigterm() -> None:
    script = "trap '' TERM; echo ready >&2; while :; do sleep 0.1; done"
    with spawn(["sh", "-c", script], grace=0.5) as child:
        deadline = time.monotonic() + 30
        while "ready" not in child.stderr_tail() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert child.poll() == -signal.SIGKILL


def test_spawn_of_a_missing_program_names_its_package() -> None:
    with pytest.raises(ToolMissing, match="xorriso"), spawn(["/nonexistent/xorriso"]):
        pass


def test_spawn_lowers_the_priority_of_the_child_and_what_it_starts_after(
    tmp_path: Path,
) -> None:
    """Linux keeps the nice value per thread: the child is reniced as soon as it runs, and
    what it starts later (here a process; threads alike) inherits it."""
    own = os.getpriority(os.PRIO_PROCESS, 0)
    go = tmp_path / "go"
    # The child starts `cut` only once told to: after the renice was checked.
    script = f'while [ ! -e {go} ]; do sleep 0.01; done; cut -d" " -f19 /proc/self/stat >&2'
    for nice, expected in ((0, own), (6, min(own + 6, 19))):
        go.unlink(missing_ok=True)
        with spawn(["sh", "-c", script], nice=nice) as child:
            assert os.getpriority(os.PRIO_PROCESS, child.proc.pid) == expected
            go.touch()
            assert child.wait() == 0
        assert child.stderr_tail() == str(expected)
