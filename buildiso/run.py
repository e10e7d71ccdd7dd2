"""The one subprocess wrapper. Every external program buildiso runs goes through here.

- logs the command (shlex-joined) at debug level;
- gives the child a minimal environment (``child_env``: PATH, HOME, TMPDIR, TZ, LANG=C, plus
  what the caller names), never the whole parent environment: a secret read from our own
  environment must not reach xorriso, createrepo_c or QEMU;
- ``run()`` waits for the program; ``spawn()`` starts a long-running one (xorriso while we
  hash, QEMU) as a context manager that stops it (TERM, then KILL) on error or interrupt;
- a missing program becomes ToolMissing naming the Debian package to install;
- a failure becomes BuildError with the command, its exit code and the tail of stderr.

Never pass a secret on a command line: use ``input=`` (stdin) instead, so it cannot
appear in a log or in ``ps``.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeAlias

from buildiso.errors import BuildError, ToolMissing

log = logging.getLogger(__name__)

# program -> Debian package that provides it (for the "install package X" hint).
TOOL_PACKAGES: dict[str, str] = {
    "xorriso": "xorriso",
    "implantisomd5": "isomd5sum",
    "checkisomd5": "isomd5sum",
    "createrepo_c": "createrepo-c",
    "modifyrepo_c": "createrepo-c",
    "rpm": "rpm",
    "rpmbuild": "rpm",
    "rpmkeys": "rpm",
    "rpmsign": "rpm",
    "rpm2cpio": "rpm",
    "gpg": "gnupg",
    "mcopy": "mtools",
    "mtype": "mtools",
    "mdir": "mtools",
    "mmd": "mtools",
    "osirrox": "xorriso",
    "mkfs.fat": "dosfstools",
    "mksquashfs": "squashfs-tools",
    "unsquashfs": "squashfs-tools",
    "qemu-system-x86_64": "qemu-system-x86",
    "qemu-img": "qemu-utils",
    "isohybrid": "syslinux-utils",
    "syslinux": "syslinux",
    "sgdisk": "gdisk",
    "isoinfo": "genisoimage",
    "blkid": "util-linux",
    "cpio": "cpio",
    "dpkg-deb": "dpkg",
    "apt-get": "apt",
    "depmod": "kmod",
    "modprobe": "kmod",
    "mke2fs": "e2fsprogs",
    "grub-mkimage": "grub-common",
    "grub-mkstandalone": "grub-common",
    "ksvalidator": "pykickstart (pip)",
    "zstd": "zstd",
    "xz": "xz-utils",
    "gzip": "gzip",
}


# What a child inherits from our environment; anything else it needs is passed by name.
INHERITED_ENV = ("PATH", "HOME", "TMPDIR", "TZ", "USER", "LOGNAME")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every program we start: the few variables tools really need,
    LANG=C/LC_ALL=C (parsable output), then ``extra``."""
    env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update({"LANG": "C", "LC_ALL": "C"})
    if extra:
        env.update(extra)
    return env


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")


def tool_path(tool: str) -> str:
    """Absolute path of ``tool`` or ToolMissing (with the package to install)."""
    found = _which(tool)
    if found is None:
        raise ToolMissing(tool, TOOL_PACKAGES.get(tool, tool))
    return found


def require_tools(*tools: str) -> None:
    """Check several tools up front; report every missing one at once."""
    missing = [t for t in tools if not _which(t)]
    if missing:
        packages = sorted({TOOL_PACKAGES.get(t, t) for t in missing})
        raise BuildError(
            f"missing programs: {', '.join(missing)}",
            hint=f"install the Debian package(s) {' '.join(packages)} (or run ./setup.sh)",
        )


def _tail(text: str | bytes | None, lines: int = 15) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.strip().splitlines()[-lines:])


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    capture: bool = True,
    check: bool = True,
    text: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; return the CompletedProcess (stdout/stderr captured as text by default).

    ``env`` entries are added to the minimal environment of ``child_env``.
    With ``check`` a non-zero exit raises BuildError carrying the stderr tail.
    With ``text=False`` stdout/stderr are bytes (the annotation stays str for brevity).
    """
    argv = _argv(cmd)
    full_env = child_env(env)
    log.debug("running: %s%s", shlex.join(argv), f"  (in {cwd})" if cwd else "")
    if isinstance(input, bytes) and text:
        input = input.decode()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=full_env,
            input=input,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            text=text,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        name = Path(argv[0]).name
        raise ToolMissing(name, TOOL_PACKAGES.get(name, name)) from exc
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{shlex.join(argv)} timed out after {timeout} s") from exc
    if check and proc.returncode != 0:
        detail = _tail(proc.stderr) or _tail(proc.stdout)
        raise BuildError(
            f"command failed with exit code {proc.returncode}: {shlex.join(argv)}"
            + (f"\n{detail}" if detail else "")
        )
    return proc


def output(cmd: Sequence[str | os.PathLike[str]], **kwargs: object) -> str:
    """Run ``cmd`` and return its stdout as text."""
    return run(cmd, **kwargs).stdout  # type: ignore[arg-type]


def _argv(cmd: Sequence[str | os.PathLike[str]]) -> list[str]:
    argv = [os.fspath(c) for c in cmd]
    argv[0] = tool_path(argv[0]) if os.sep not in argv[0] else argv[0]
    return argv


Process: TypeAlias = "subprocess.Popen[bytes]"  # a started program (Child.proc)


@dataclass
class Child:
    """A program started by ``spawn()``: its process, and the tail of its stderr when that
    was captured (``stderr=None``) rather than sent to a file."""

    argv: list[str]
    proc: Process
    _tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    _drainer: threading.Thread | None = None

    @property
    def name(self) -> str:
        return Path(self.argv[0]).name

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        rc = self.proc.wait(timeout)
        if self._drainer is not None:
            self._drainer.join(timeout=5)
        return rc

    def stderr_tail(self) -> str:
        return "\n".join(self._tail)

    def stop(self, *, grace: float = 5.0) -> None:
        """TERM, then KILL after ``grace`` seconds; a no-op for a child that has exited."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._drainer is not None:
            self._drainer.join(timeout=5)


def _drain(pipe: IO[bytes], tail: deque[str], name: str) -> None:
    for raw in iter(pipe.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)
            log.debug("%s: %s", name, line)
    pipe.close()


@contextmanager
def spawn(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    stderr: Path | None = None,
    cwd: Path | None = None,
    grace: float = 5.0,
    nice: int = 0,
) -> Iterator[Child]:
    """Start a long-running program; yield it; stop it on leaving the block.

    ``nice`` > 0 lowers the program's priority that much below ours (the threads it starts
    inherit it), for a producer that must not take the CPU from the consumer following it.

    stdin is closed and stdout discarded (or, with ``stderr`` a file, both go there);
    with ``stderr=None`` its lines are kept (``Child.stderr_tail``) and logged under
    --debug. Leaving the block — normally, on an error or on Ctrl-C — stops a child still
    running (TERM, then KILL after ``grace`` s), so no orphan outlives the caller.
    """
    argv = _argv(cmd)
    log.debug("starting: %s%s", shlex.join(argv), f"  (in {cwd})" if cwd else "")
    try:
        if stderr is not None:
            # never through a link planted at the log's name (O_NOFOLLOW)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
            with open(os.open(stderr, flags, 0o644), "wb") as sink:
                proc = subprocess.Popen(
                    argv, cwd=cwd, env=child_env(env), stdin=subprocess.DEVNULL,
                    stdout=sink, stderr=sink,
                )  # fmt: skip
            child = Child(argv=argv, proc=proc)
        else:
            proc = subprocess.Popen(
                argv, cwd=cwd, env=child_env(env), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            child = Child(argv=argv, proc=proc)
            assert proc.stderr is not None
            child._drainer = threading.Thread(
                target=_drain, args=(proc.stderr, child._tail, child.name), daemon=True
            )
            child._drainer.start()
    except FileNotFoundError as exc:
        name = Path(argv[0]).name
        raise ToolMissing(name, TOOL_PACKAGES.get(name, name)) from exc
    if nice:
        _lower_priority(child.proc.pid, nice)
    try:
        yield child
    finally:
        child.stop(grace=grace)


def replace_process(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """``execve`` ``argv`` in place of this process (same PID, a new image): the only way a
    running program can shed what its environment block holds (``secretenv.py``). The
    caller's environment is its to choose here. Returns only when ``execve`` failed."""
    log.debug("re-executing: %s", shlex.join(argv))
    try:
        os.execve(argv[0], list(argv), dict(env))
    except OSError as exc:
        log.debug("re-execution failed: %s", exc)


def _lower_priority(pid: int, nice: int) -> None:
    """Give a child just started ``nice`` more than our own nice value. Linux keeps it per
    thread and a new thread inherits its creator's: the child's main thread is reniced
    before it gets to start others (programs start threads after reading their
    arguments), and any thread already there is reniced too."""
    value = min(os.getpriority(os.PRIO_PROCESS, 0) + nice, 19)
    try:
        tasks = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        tasks = [pid]
    for task in tasks:
        try:
            os.setpriority(os.PRIO_PROCESS, task, value)
        except (ProcessLookupError, PermissionError):
            pass  # gone already; or not ours to renice: it only costs speed
