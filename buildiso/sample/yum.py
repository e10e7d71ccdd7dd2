"""The sample OS's ``python`` and ``yum`` packages: Debian's python3.11 and dnf 4.

RHEL 8 did it first: its ``yum`` is dnf. The sample's ``yum`` RPM carries Debian's dnf 4
(python3-dnf over libdnf, libsolv, librepo, python3-rpm, gpgme + gpg and every library ldd
finds), so ``yum remove``, ``yum install --enablerepo=...``, ``yum update`` and gpgcheck on
the installed sample behave like a real client: a libsolv transaction, rpm's own signature
checks, keys imported into the rpm database. The ``python`` RPM carries the interpreter
and its standard library (as RHEL's ``python``, which its yum needs).

Called from the specs' %install (``specs/python.spec``, ``specs/yum.spec``):
``python3 -m buildiso.sample.yum python|yum BUILDROOT``. Files other sample packages own
(glibc's) are pruned by the spec afterwards; libraries both packages need are copied into
both, byte-identical, which rpm accepts as shared files.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from buildiso.errors import BuildError, InputError
from buildiso.run import run
from buildiso.sample.bincopy import copy_with_libs, shared_libraries

PYTHON = Path("/usr/bin/python3.11")
STDLIB = Path("/usr/lib/python3.11")
DIST = Path("/usr/lib/python3/dist-packages")
# Debian packages python3-dnf, python3-libdnf, python3-hawkey, python3-rpm, python3-gpg,
# python3-libcomps: what dnf imports.
DNF_MODULES = ("dnf", "libdnf", "hawkey", "rpm", "gpg", "libcomps")
# gpgme runs gpg (located through gpgconf) to read the vendor key dnf imports.
GPG_TOOLS = (Path("/usr/bin/gpg"), Path("/usr/bin/gpgconf"), Path("/usr/bin/gpg-agent"))
DNF_SCRIPT = Path("/usr/bin/dnf-3")
SOURCES = Path(__file__).resolve().parent / "sources" / "yum"
# Not needed by yum: tests, GUI, packaging helpers, documentation tools.
STDLIB_SKIP = frozenset({
    "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
    "site-packages", "dist-packages", "config-3.11-x86_64-linux-gnu", "__pycache__",
    "venv", "turtle.py", "tests", "idle_test",
})
DYNLOAD_SKIP = ("_test", "xxlimited", "_xxtest", "_tkinter", "audioop", "nis", "ossaudiodev",
                "_dbm", "_gdbm", "_ctypes_test")
DNF_DIRS = ("etc/dnf/vars", "etc/dnf/plugins", "etc/dnf/modules.d", "etc/dnf/protected.d",
            "etc/pki/rpm-gpg", "var/cache/dnf", "var/lib/dnf", "var/log",
            "usr/lib/x86_64-linux-gnu/libdnf/plugins")


def _ignore(directory: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in STDLIB_SKIP or n.endswith((".pyc", ".exe"))}
    if Path(directory).name == "lib-dynload":
        skip |= {n for n in names if n.startswith(DYNLOAD_SKIP)}
    return skip


def _compile(root: Path, *dirs: Path) -> None:
    # Byte-compiled at build time: compiling dnf at its first run under TCG takes long.
    run([PYTHON, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         "-s", root, "-p", "/", *(root / d.relative_to("/") for d in dirs)])


def _require(*paths: Path) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise BuildError(
            f"not found on the build host: {', '.join(missing)}",
            hint="run ./setup.sh (Debian packages python3.11, dnf, python3-dnf, gpg)",
        )


def python_tree(root: Path) -> None:
    """The interpreter, its standard library and extension modules under ``root``."""
    _require(PYTHON, STDLIB)
    shutil.copytree(STDLIB, root / STDLIB.relative_to("/"), ignore=_ignore)
    dynload = sorted((root / STDLIB.relative_to("/") / "lib-dynload").glob("*.so"))
    copy_with_libs([PYTHON, *(STDLIB / "lib-dynload" / p.name for p in dynload)], root)
    for name in ("python3", "python"):
        (root / "usr/bin" / name).symlink_to("python3.11")
    _compile(root, STDLIB)


def yum_tree(root: Path) -> None:
    """dnf 4 with its bindings, libraries and gpg under ``root``; ``yum`` is dnf."""
    sources = [DIST / name for name in DNF_MODULES]
    _require(*sources, *GPG_TOOLS, DNF_SCRIPT, SOURCES / "dnf.conf")
    site = root / DIST.relative_to("/")
    extensions: list[Path] = []
    for source in sources:
        shutil.copytree(source, site / source.name, ignore=_ignore)
        extensions += sorted(source.rglob("*.so"))
    libs = sorted({lib for ext in extensions if "test" not in ext.parts
                   for lib in shared_libraries(ext)})
    copy_with_libs([*libs, *GPG_TOOLS], root)
    bin_dir = root / "usr/bin"
    shutil.copyfile(DNF_SCRIPT, bin_dir / "dnf-3")
    (bin_dir / "dnf-3").chmod(0o755)
    for name in ("dnf", "yum"):
        (bin_dir / name).symlink_to("dnf-3")
    for sub in DNF_DIRS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCES / "dnf.conf", root / "etc/dnf/dnf.conf")
    (root / "etc/yum.conf").symlink_to("dnf/dnf.conf")  # as on RHEL 8
    (root / "etc/dnf/protected.d/yum.conf").write_text("yum\n")
    _compile(root, DIST)


def main(argv: list[str]) -> int:
    builders = {"python": python_tree, "yum": yum_tree}
    if len(argv) != 2 or argv[0] not in builders:
        print("usage: python3 -m buildiso.sample.yum python|yum BUILDROOT", file=sys.stderr)
        return 2
    try:
        builders[argv[0]](Path(argv[1]))
    except (BuildError, InputError) as exc:
        print(f"sample yum: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
