"""Copy host (Debian) binaries into another root together with the shared libraries they need.

Used by the sample OS specs (rpm, shadow-utils, e2fsprogs, glibc) and by the sample
installer's stage 2. ``ldd`` resolves the libraries, so the result is exactly what the
host's dynamic loader would load; each file lands at the same absolute path under
``dest_root`` (symlinks on the host are followed: the copy is the real file, under the
name ldd printed, which is the name the loader looks up).

Also runnable from a spec's %install:
``python3 -m buildiso.sample.bincopy DEST_ROOT /usr/bin/rpm /sbin/mke2fs``
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from buildiso.errors import BuildError, InputError
from buildiso.run import run

# "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
_LDD_LINE = re.compile(r"^\s*(?:(\S+)\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)\s*$")
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found")


def shared_libraries(binary: Path) -> list[Path]:
    """Absolute paths of the libraries (and loader) ``binary`` needs; [] for a static binary."""
    proc = run(["ldd", binary], check=False)
    text = proc.stdout + proc.stderr
    if "not a dynamic executable" in text or "statically linked" in text:
        return []
    if proc.returncode != 0:
        raise BuildError(f"ldd {binary} failed: {text.strip().splitlines()[-1:]}")
    missing = [m.group(1) for line in text.splitlines() if (m := _NOT_FOUND.match(line))]
    if missing:
        raise BuildError(
            f"{binary} needs libraries that are not installed: {', '.join(missing)}",
            hint="install the Debian packages providing them (or run ./setup.sh)",
        )
    return sorted({Path(m.group(2)) for line in text.splitlines() if (m := _LDD_LINE.match(line))})


def _copy_file(source: Path, dest_root: Path) -> Path:
    target = dest_root / source.relative_to("/")
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.resolve(), target)  # follow symlinks: the copy is the real file
    return target


def copy_with_libs(binaries: list[Path], dest_root: Path) -> list[Path]:
    """Copy ``binaries`` and every library they need under ``dest_root``; return the copies.

    Files already present under ``dest_root`` are left alone (several binaries share libc).
    """
    problems = [str(b) for b in binaries if not b.is_absolute() or not b.is_file()]
    if problems:
        raise InputError(
            f"not an existing absolute file path: {', '.join(problems)}",
            hint="install the Debian package holding it (or run ./setup.sh)",
        )
    wanted: set[Path] = set()
    for binary in binaries:
        wanted.add(binary)
        wanted.update(shared_libraries(binary))
    return [_copy_file(path, dest_root) for path in sorted(wanted)]


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python3 -m buildiso.sample.bincopy DEST_ROOT BINARY...", file=sys.stderr)
        return 2
    try:
        copy_with_libs([Path(a) for a in argv[1:]], Path(argv[0]))
    except (BuildError, InputError) as exc:
        print(f"bincopy: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
