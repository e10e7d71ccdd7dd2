"""The online repository `buildiso build` writes next to the ISO, refereed by other tools.

Served over HTTP on 127.0.0.1 as Appendix B's vendor host would serve it: curl fetches the
guide's URL, Debian's dnf resolves cs-email from it (and the sample base for the rest of a
Minimal server), rpmkeys checks every package against the published it-pub.key, gpg reads
the key. Plus the build's own promises: reproducible, in the manifest, rebuilt when edited.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildiso import build, buildinputs, paths
from buildiso.compose import online
from buildiso.config import Variant
from buildiso.render.profile import load_profile
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration

REPO_CONF = "cs-email-repo-conf-3.6.3-1.x86_64.rpm"


def _run(*cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"LANG": "C", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def tree(built_iso: Path) -> Path:
    return built_iso.with_name(online.folder_name(built_iso.stem))


@pytest.fixture(scope="module")
def served(tree: Path) -> Iterator[str]:
    """The tree as a web server's document root on 127.0.0.1 (a free port)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    handler = functools.partial(Quiet, directory=str(tree))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_tree_has_the_guides_layout(tree: Path, sample_base: SampleBase) -> None:
    repo = tree / "rhel6" / "gw" / "os" / "x86_64"
    assert sorted(p.name for p in tree.iterdir()) == ["it-pub.key", "rhel6"]
    assert sorted(p.name for p in repo.iterdir()) == ["Packages", "repodata"]
    shipped = sorted(p.name for p in sample_base.gateway_rpms.glob("*.rpm"))
    assert sorted(p.name for p in (repo / "Packages").iterdir()) == shipped
    # the vendor's key is the one the packages were checked against
    assert (tree / "it-pub.key").read_bytes() == sample_base.gpg_public_key.read_bytes()


def test_curl_fetches_appendix_b_urls(served: str, tree: Path, tmp_path: Path) -> None:
    url = f"{served}/{online.REPO_PATH}/Packages/{REPO_CONF}"
    proc = _run("curl", "--fail", "--silent", "--get", "--remote-name", url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / REPO_CONF).read_bytes() == (tree / online.REPO_PATH / "Packages" /
                                                   REPO_CONF).read_bytes()  # fmt: skip
    proc = _run("curl", "--fail", "--silent", "--remote-name", f"{served}/it-pub.key",
                cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0 and (tmp_path / "it-pub.key").is_file()


def test_gpg_reads_it_pub_key_as_the_signing_key(
    tree: Path, sample_base: SampleBase, tmp_path: Path
) -> None:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    proc = _run("gpg", "--homedir", str(home), "--batch", "--with-colons", "--show-keys",
                str(tree / "it-pub.key"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    fingerprints = [ln.split(":")[9] for ln in proc.stdout.splitlines() if ln.startswith("fpr:")]
    assert fingerprints and fingerprints[0][-8:].lower() == sample_base.key_id


def test_rpm_checks_every_package_against_it_pub_key(tree: Path, tmp_path: Path) -> None:
    db = tmp_path / "rpmdb"
    db.mkdir()
    imported = _run("rpmkeys", "--dbpath", str(db), "--import", str(tree / "it-pub.key"))
    assert imported.returncode == 0, imported.stderr
    packages = sorted((tree / online.REPO_PATH / "Packages").glob("*.rpm"))
    proc = _run("rpmkeys", "--dbpath", str(db), "--checksig", *map(str, packages))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(packages) and all(ln.endswith("digests signatures OK") for ln in lines)
    # the same check without the key fails: rpmkeys is refereeing, not nodding
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run("rpmkeys", "--dbpath", str(empty), "--checksig", str(packages[0])).returncode != 0


def test_repodata_is_what_rhel6_yum_reads(tree: Path) -> None:
    repomd = (tree / online.REPO_PATH / "repodata" / "repomd.xml").read_text()
    hrefs = re.findall(r'<location href="([^"]+)"', repomd)
    assert any(h.endswith("primary.sqlite.bz2") for h in hrefs)  # createrepo_c --compatibility
    assert any(h.endswith("primary.xml.gz") for h in hrefs)
    assert not any(h.endswith((".zst", ".zck")) for h in hrefs)


def test_dnf_resolves_cs_email_from_the_served_tree(
    served: str, sample_base: SampleBase, tmp_path: Path
) -> None:
    """A Minimal server's own repository (the sample base) plus the online one, over HTTP,
    gpgcheck against the published key: cs-email and its gateway packages come from it."""
    root = tmp_path / "installroot"
    root.mkdir()
    proc = _run(
        "dnf", "--installroot", str(root), "--releasever", "6", "--forcearch", "x86_64",
        "--noplugins", "--setopt", "reposdir=/dev/null", "--setopt", f"cachedir={tmp_path}/c",
        "--repofrompath", f"base,file://{sample_base.tree}",
        "--repofrompath", f"cs-online,{served}/{online.REPO_PATH}/",
        "--setopt", "cs-online.gpgcheck=1", "--setopt", f"cs-online.gpgkey={served}/it-pub.key",
        "--setopt", "base.gpgcheck=0",
        "install", "--assumeno", "cs-email",
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert "Operation aborted." in output, output  # --assumeno after a resolved transaction
    for name in ("cs-email", "cs-email-core", "cs-email-web", "cs-email-syslog"):
        assert re.search(rf"^ {name} +x86_64 +4\.9\.0-190 +cs-online ", output, re.M), name
    assert not re.search(r"^ cs-email\S* .* base ", output, re.M)


def test_the_manifest_lists_the_tree_file_by_file(built_iso: Path, tree: Path) -> None:
    manifest = json.loads(built_iso.with_name("EMAIL_490_190.manifest.json").read_text())
    entry = manifest["online"]
    assert entry["repository"] == "rhel6/gw/os/x86_64" and entry["public_key"] == "it-pub.key"
    assert online.published_intact(tree, entry["files"])
    assert f"rhel6/gw/os/x86_64/Packages/{REPO_CONF}" in entry["files"]


def test_an_edited_tree_is_rebuilt_and_a_new_key_is_published(
    sample_base: SampleBase, built_iso: Path, tmp_path: Path
) -> None:
    """Same inputs into another folder: the same tree (reproducible, mtimes pinned);
    an edited tree is not trusted; a key file with other bytes (same key) is published."""
    out = tmp_path / "out"

    def again(public_key: Path) -> build.BuildResult:
        return build.build_iso(
            base_path=sample_base.tree, gateway_rpms=sample_base.gateway_rpms,
            profile=load_profile(paths.DEFAULT_PROFILE, Variant.TEST), password_file=None,
            out_dir=out, key=buildinputs.SigningKey(sample_base.key_id, public_key),
            allow_unsigned=False,
        )  # fmt: skip

    def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
        return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else b"",
                                                 p.stat().st_mtime_ns)
                for p in sorted(root.rglob("*"))}  # fmt: skip

    first = again(sample_base.gpg_public_key)
    main_tree = built_iso.with_name(online.folder_name(built_iso.stem))
    assert snapshot(first.online) == snapshot(main_tree)
    key = first.online / "it-pub.key"
    key.write_bytes(key.read_bytes().replace(b"-----\n\n", b"-----\nComment: edited\n\n", 1))
    second = again(sample_base.gpg_public_key)
    assert not second.skipped and snapshot(second.online) == snapshot(main_tree)

    rearmored = tmp_path / "RPM-GPG-KEY-rearmored"
    text = sample_base.gpg_public_key.read_text()
    rearmored.write_text(text.replace("-----\n\n", "-----\nComment: same key\n\n", 1))
    assert rearmored.read_text() != text
    third = again(rearmored)
    assert not third.skipped
    assert (third.online / "it-pub.key").read_bytes() == rearmored.read_bytes()
    assert third.sha256 == first.sha256  # the ISO does not carry the key file


def test_a_build_that_fails_leaves_no_tree(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from buildiso.cli import main

    rpms = tmp_path / "rpms"
    shutil.copytree(sample_base.gateway_rpms, rpms)
    (rpms / "cs-email-core-4.9.0-190.x86_64.rpm").unlink()  # cs-email requires it
    out = tmp_path / "out"
    args = ["build", "--base", str(sample_base.tree), "--gateway-rpms", str(rpms),
            "--gpg-key", str(sample_base.gpg_public_key), "--key-id", sample_base.key_id,
            "--out", str(out)]  # fmt: skip
    assert main(args) == 2
    assert "unresolved dependency" in capsys.readouterr().err
    assert not out.exists()
