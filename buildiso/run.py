"""The one subprocess wrapper. Every external program buildiso runs goes through here.

- logs the command (shlex-joined) at debug level;
- runs with LANG=C so tool output can be parsed;
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
from collections.abc import Mapping, Sequence
from pathlib import Path

from buildiso.errors import BuildError, ToolMissing

log = logging.getLogger("buildiso.run")

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

    ``env`` entries are added to the current environment (plus LANG=C/LC_ALL=C).
    With ``check`` a non-zero exit raises BuildError carrying the stderr tail.
    With ``text=False`` stdout/stderr are bytes (the annotation stays str for brevity).
    """
    argv = [os.fspath(c) for c in cmd]
    argv[0] = tool_path(argv[0]) if os.sep not in argv[0] else argv[0]
    full_env = dict(os.environ)
    full_env.update({"LANG": "C", "LC_ALL": "C"})
    if env:
        full_env.update(env)
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
