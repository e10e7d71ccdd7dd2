"""Sample installer stage 2: install.img holds a Python that runs the installer and its tools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from repo_factory import write_media

from buildiso import paths
from buildiso.compose.repo import Group, RepoPackage
from buildiso.compose.rpmversion import Evr, Flag, Relation
from buildiso.sample.installer.stage2 import MAX_SIZE, build_stage2
from buildiso.sample.kernel import fetch_kernel

CORE = Group("core", "Core", (), (), (), ())


def pkg(name: str, *, requires: tuple[str, ...] = ()) -> RepoPackage:
    own = Relation(name, Flag.EQ, Evr(0, "1.0", "1.el6"))
    return RepoPackage(
        repo="base", name=name, epoch=0, version="1.0", release="1.el6", arch="x86_64",
        location=f"Packages/{name}-1.0-1.el6.x86_64.rpm",
        requires=tuple(Relation(r) for r in requires), provides=(own,), conflicts=(),
        obsoletes=(), files=(f"/usr/share/{name}/README",),
    )  # fmt: skip


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="chroot into the image needs root (CI runs as root)")
def test_stage2_image_runs_the_installer_python(tmp_path: Path) -> None:
    image = build_stage2(kernel=fetch_kernel(paths.DEFAULT_OUT / "cache"),
                         dest=tmp_path / "install.img")
    assert image.stat().st_size < MAX_SIZE
    root = tmp_path / "root"
    subprocess.run(["unsquashfs", "-q", "-n", "-d", str(root), str(image)], check=True,
                   capture_output=True)
    probe = (
        "import sampleinstaller.main, sampleinstaller.sysconfig, charset_normalizer\n"
        "from pykickstart.version import makeVersion, RHEL6\n"
        "print(type(makeVersion(RHEL6)).__name__)\n"
    )
    out = subprocess.run(["chroot", str(root), "/usr/bin/python3", "-c", probe],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "RHEL6Handler"
    # The installer resolves with buildiso's own code and libsolv, inside the image.
    write_media(root / "tmp" / "media", [pkg("app", requires=("lib",)), pkg("lib")], [CORE])
    probe = (
        "from pathlib import Path\n"
        "from sampleinstaller.packages import resolve\n"
        "from buildiso.compose.depsolve import SOLVER\n"
        "chosen = resolve('%packages --nobase\\napp\\n%end\\n', media_tree=Path('/tmp/media'),"
        " repos=[])\n"
        "print(SOLVER.split()[0], *sorted(str(c.path) for c in chosen))\n"
    )
    out = subprocess.run(["chroot", str(root), "/usr/bin/python3", "-c", probe],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "libsolv",
        "/tmp/media/Packages/app-1.0-1.el6.x86_64.rpm",
        "/tmp/media/Packages/lib-1.0-1.el6.x86_64.rpm",
    ]
    for tool in ("/usr/bin/rpm --version", "/sbin/sfdisk --version", "/sbin/mke2fs -V",
                 "/sbin/mkfs.fat --help", "/sbin/blkid -V", "/usr/bin/efibootmgr --version"):
        proc = subprocess.run(["chroot", str(root), *tool.split()], capture_output=True,
                              text=True, check=False)
        assert "not found" not in proc.stderr and "error while loading" not in proc.stderr, (
            tool, proc.stderr)
    # As RHEL 6's stage 2: util-linux's blkid, no findfs, so a kickstart's
    # "findfs LABEL=x || blkid -L x" takes the blkid path in a test too.
    blkid = subprocess.run(["chroot", str(root), "/sbin/blkid", "-V"], capture_output=True,
                           text=True, check=False)
    assert "util-linux" in blkid.stdout + blkid.stderr
    for where in ("usr/bin", "usr/sbin"):
        assert not (root / where / "findfs").exists() and not (root / where / "findfs").is_symlink()
    # /bin/sh is bash (as RHEL 6 links it): no busybox applet behind the shell's back
    shell = subprocess.run(["chroot", str(root), "/bin/sh", "-c",
                            "echo $BASH_VERSION; command -v findfs || echo no-findfs"],
                           capture_output=True, text=True, check=False)
    assert shell.stdout.split("\n")[0].startswith("5.") and "no-findfs" in shell.stdout
    hashed = subprocess.run(["chroot", str(root), "/usr/bin/python3", "-c",
                             "from sampleinstaller.sysconfig import hash_password\n"
                             "print(hash_password('pw', False))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert hashed.startswith("$6$")
    for mountpoint in ("mnt", "tmp", "run", "dev", "proc", "sys"):
        assert (root / mountpoint).is_dir()


def test_stage2_carries_every_buildiso_module_its_copies_import() -> None:
    """The compose code copied into stage 2 imports nothing of buildiso left behind."""
    import ast

    from buildiso.sample.installer.stage2 import BUILDISO_MODULES

    package = Path(paths.PROJECT_ROOT) / "buildiso"
    carried = set(BUILDISO_MODULES)
    missing = []
    for rel in BUILDISO_MODULES:
        tree = ast.parse((package / rel).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("buildiso"):
                parts = node.module.split(".")[1:]  # type: ignore[union-attr]
                targets = [parts] if parts else [[alias.name] for alias in node.names]
                if parts:
                    targets += [[*parts, alias.name] for alias in node.names]
                found = any(
                    "/".join(t) + ".py" in carried or "/".join(t) + "/__init__.py" in carried
                    for t in targets
                )
                if not found:
                    missing.append(f"{rel}: from {node.module} import ...")
    assert missing == [], missing
