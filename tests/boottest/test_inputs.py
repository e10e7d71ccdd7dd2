"""buildiso.boottest.inputs and release: a scenario's inputs resolved and checked before
anything boots (real ISOs made with xorriso, no VM)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dvd_factory import _pkg
from repo_factory import write_media

from buildiso import paths
from buildiso.boottest import inputs
from buildiso.boottest.artifacts import RunFolder
from buildiso.boottest.inputs import (
    KICKSTART_TEMPLATE,
    Sources,
    admin_password,
    check_sources,
    install_set_beside,
    profile_of,
    resolve,
)
from buildiso.boottest.onlinetree import OnlineTree, default_online_tree
from buildiso.boottest.release import (
    RepoDefinition,
    package_repos,
    parse_repo_file,
    read_release,
    repo_definitions,
)
from buildiso.boottest.scenario import Cell
from buildiso.boottest.scenarioreader import load_scenario, read_scenario
from buildiso.boottest.vocabulary import needs
from buildiso.cli import main
from buildiso.config import Firmware, Media, Variant
from buildiso.errors import InputError
from buildiso.render.password import ENV_VAR, hash_password
from buildiso.render.profile import Profile
from buildiso.sample.base import SampleBase

OLD_PASSWORD = "Old-Secret-Zk71q"


def _iso(tmp_path: Path, name: str, files: dict[str, str] | None = None,
         gateway: str | None = None) -> Path:  # fmt: skip
    """A small ISO 9660 image: ``files`` (path -> text) and a cs-repo of cs-email ``gateway``."""
    tree = tmp_path / f"{name}-tree"
    tree.mkdir()
    for rel, text in (files or {}).items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    if gateway is not None:
        version, release = gateway.split("-")
        write_media(tree, [
            _pkg("bash", "4.1.2"),
            _pkg("cs-email", version, release=release, repo="cs-repo",
                 requires=[f"cs-email-core = {gateway}", "cs-email-syslog"]),
            _pkg("cs-email-core", version, release=release, repo="cs-repo",
                 obsoletes=["cs-email-legacy < 4.9.0"]),
            _pkg("cs-email-syslog", version, release=release, repo="cs-repo"),
        ], [])  # fmt: skip
    iso = tmp_path / name
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", str(iso), str(tree)],
                   check=True)  # fmt: skip
    return iso


def test_the_release_comes_from_the_isos_cs_repo(tmp_path: Path) -> None:
    release = read_release(_iso(tmp_path, "NEW.iso", gateway="4.9.0-190"), work=tmp_path / "w")
    assert release.versions == {"cs-email": "4.9.0-190", "cs-email-core": "4.9.0-190",
                                "cs-email-syslog": "4.9.0-190"}  # fmt: skip
    assert release.obsoletes == {"cs-email-legacy"}
    assert release.requires == {"cs-email-core", "cs-email-syslog"}
    assert str(release.evr) == "4.9.0-190" and release.location.endswith(".rpm")


@pytest.mark.parametrize("old", ["4.9.0-190", "4.9.0-191", "5.0.0-1"])
def test_an_upgrade_from_an_iso_not_older_is_refused_before_booting(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch, old: str
) -> None:
    new_iso = _iso(tmp_path, "EMAIL_490_190.iso", gateway="4.9.0-190")
    old_iso = _iso(tmp_path, "EMAIL_480_150.iso", gateway=old)
    scenario = load_scenario("upgrade")
    sources = Sources(iso=new_iso, profile=profile, from_iso=old_iso)
    # only the ISOs' repodata is read: no menus, no password, nothing booted
    monkeypatch.setattr(inputs, "read_menu", lambda iso, fw: pytest.fail("read a menu"))
    wanted = {n for n in needs(scenario) if n[0] == "iso" and n[1] in ("release", "signer")}
    with pytest.raises(InputError) as caught:
        resolve(scenario, sources, cells=[Cell(Firmware.BIOS, Media.DVD)], needs=wanted,
                run_folder=RunFolder(tmp_path / "art"), work=tmp_path / "work")  # fmt: skip
    message = str(caught.value)
    assert f"EMAIL_480_150.iso carries cs-email {old}, not older than EMAIL_490_190.iso's " \
           "4.9.0-190: there is nothing to upgrade" in message
    assert caught.value.exit_code == 2 and "\n" not in message


def test_the_cli_refuses_an_upgrade_from_the_same_release_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new_iso = _iso(tmp_path, "EMAIL_490_190.iso", gateway="4.9.0-190")
    old_iso = _iso(tmp_path, "EMAIL_480_150.iso", gateway="4.9.0-190")
    code = main(["boot-test", str(new_iso), "--scenario", "upgrade", "--from", str(old_iso),
                 "--accel", "tcg", "--artifacts", str(tmp_path / "art")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "not older than EMAIL_490_190.iso's 4.9.0-190: there is nothing to upgrade" in err
    assert not (tmp_path / "art").exists()  # refused before anything was written or booted


def test_an_older_release_passes_the_identity_check(tmp_path: Path, profile: Profile) -> None:
    new_iso = _iso(tmp_path, "EMAIL_490_190.iso", gateway="4.9.0-190")
    old_iso = _iso(tmp_path, "EMAIL_480_150.iso", gateway="4.8.0-150")
    found = resolve(load_scenario("upgrade"), Sources(iso=new_iso, profile=profile,
                                                      from_iso=old_iso),
                    cells=[], needs=set(), run_folder=RunFolder(tmp_path / "art"),
                    work=tmp_path / "work")  # fmt: skip
    old = found.iso("old")
    assert old.release is not None and old.release.version == "4.8.0-150"
    assert (old.profile.version, old.profile.build) == ("4.8.0", 150)  # by the ISO's name
    assert [t.role for t in found.tested()] == ["iso", "old"]


def test_options_a_scenario_does_not_take_are_refused(tmp_path: Path, profile: Profile) -> None:
    users = {"previous-release": ["upgrade"], "server-dvd": ["appendix-a"]}
    install = load_scenario("install")
    with pytest.raises(InputError, match="--server-base is only for a scenario with a "
                       r"server-dvd input \(appendix-a\)"):  # fmt: skip
        check_sources(install, Sources(iso=tmp_path, profile=profile, server_base=tmp_path),
                      users=users)  # fmt: skip
    check_sources(install, Sources(iso=tmp_path, profile=profile), users=users)


def test_install_set_read_from_the_manifest_beside_the_iso(tmp_path: Path) -> None:
    iso = tmp_path / "EMAIL_490_190.iso"
    assert install_set_beside(iso) is None  # no manifest: nothing to compare with
    manifest = {
        "install_set": [
            {"name": "busybox", "evr": "1:1.15.1-21.el6", "arch": "x86_64"},
            {"name": "setup", "evr": "2.8.14-23.el6", "arch": "noarch"},
        ]
    }
    path = tmp_path / "EMAIL_490_190.manifest.json"
    path.write_text(json.dumps(manifest))
    # rpm -qa --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}' prints no epoch
    assert install_set_beside(iso) == {"busybox-1.15.1-21.el6.x86_64", "setup-2.8.14-23.el6.noarch"}
    for damaged, message in (
        ("{not json", "not JSON"),
        ('{"install_set": 5}', "install_set: the number 5, expected a list"),
        ('{"install_set": [{"name": "a", "evr": 1, "arch": "x"}]}', "install_set[0].evr"),
        ("[" * 5000 + "]" * 5000, "nested 5000 levels deep"),
    ):
        path.write_text(damaged)
        with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
            install_set_beside(iso)


def test_the_admin_password_must_be_the_one_the_old_iso_was_built_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = hash_password(OLD_PASSWORD, salt="abcdefgh12345678")
    iso = _iso(tmp_path, "EMAIL_480_150.iso", {"ks.cfg": (
        f"rootpw --iscrypted --lock {hashed}\nuser --name=cs-admin --iscrypted "
        f"--password={hashed}\n")})  # fmt: skip
    right, wrong = tmp_path / "right.txt", tmp_path / "wrong.txt"
    right.write_text(OLD_PASSWORD + "\n")
    wrong.write_text("Other-Secret-Qx52\n")
    monkeypatch.delenv(ENV_VAR, raising=False)
    work = tmp_path / "work"
    assert admin_password(iso=iso, user="cs-admin", password_file=right, work=work) == OLD_PASSWORD
    with pytest.raises(InputError) as caught:
        admin_password(iso=iso, user="cs-admin", password_file=wrong, work=work)
    assert "is not the one EMAIL_480_150.iso was built with" in str(caught.value)
    assert "Other-Secret" not in str(caught.value)
    # nothing given: the guide's default is tried, and this ISO was not built with it
    with pytest.raises(InputError, match="built with a custom cs-admin password, not the "
                       "installation guide's default") as caught:  # fmt: skip
        admin_password(iso=iso, user="cs-admin", password_file=None, work=work)
    assert inputs.GUIDE_PASSWORD not in str(caught.value).replace("password", "")
    assert "--password-file" in caught.value.hint
    monkeypatch.setenv(ENV_VAR, OLD_PASSWORD)
    assert admin_password(iso=iso, user="cs-admin", password_file=None, work=work) == OLD_PASSWORD
    assert not list(work.glob("*ks*"))  # the extracted kickstart is not left behind


def test_the_old_profile_is_found_by_the_isos_name_or_refused(tmp_path: Path) -> None:
    found = profile_of(tmp_path / "EMAIL_480_150.iso", variant=Variant.TEST, profile_path=None)
    assert (found.version, found.build) == ("4.8.0", 150)
    with pytest.raises(InputError, match="--from-profile"):
        profile_of(tmp_path / "renamed.iso", variant=Variant.TEST, profile_path=None)
    assert profile_of(tmp_path / "x.iso", variant=Variant.TEST,
                      profile_path=paths.DEFAULT_PROFILE).build == 190  # fmt: skip


def test_the_minimal_server_kickstart_is_valid_rhel6(tmp_path: Path) -> None:
    ks = tmp_path / "ks.cfg"
    root_hash = hash_password("Bt-Only-For-Tests-9x", salt="t")
    ks.write_text(KICKSTART_TEMPLATE.read_text().format(root_hash=root_hash))
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ksvalidator")), "-v", "RHEL6", str(ks)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = ks.read_text()
    assert "part / --fstype=ext4 --size=20480" in text and "part /var " in text
    assert "cs-" not in text  # nothing of the product on the existing server


# --- Appendix B: the repositories cs-email-repo-conf defines, the online tree ------------

CS_EMAIL_REPO = """\
[cs-email]
name=Secure Email Gateway
baseurl=http://repo.clearswift.net/rhel6/gw/os/$basearch/
enabled=0
gpgcheck=1
"""
CS_MEDIA_REPO = "[cs-media]\nname=media\nbaseurl=file:///media/os/cs-repo\n"  # enabled: yum's


def _gateway_iso(tmp_path: Path, repo_files: dict[str, str]) -> tuple[Path, Path]:
    """An ISO whose cs-repo holds cs-email and a real cs-email-repo-conf carrying
    ``repo_files`` (name -> text) in /etc/yum.repos.d; and that cs-repo folder."""
    from rpm_factory import build_rpm

    tree = tmp_path / "iso-tree"
    packages = tree / "cs-repo" / "Packages"
    packages.mkdir(parents=True)
    install = "mkdir -p %{buildroot}/etc/yum.repos.d\n" + "".join(
        f"cat > %{{buildroot}}/etc/yum.repos.d/{name} <<'EOF'\n{text}EOF\n"
        for name, text in repo_files.items()
    )
    built = [
        build_rpm(tmp_path / "rpms", "cs-email", version="4.9.0", release="190",
                  requires=("cs-email-repo-conf",)),
        build_rpm(tmp_path / "rpms", "cs-email-repo-conf", version="3.6.3", release="1",
                  install=install, files=tuple(f"/etc/yum.repos.d/{n}" for n in repo_files)),
    ]  # fmt: skip
    for rpm in built:
        (packages / rpm.name).write_bytes(rpm.read_bytes())
    subprocess.run(["createrepo_c", "-q", "--compatibility", str(tree / "cs-repo")], check=True)
    iso = tmp_path / "EMAIL_490_190.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", str(iso), str(tree)],
                   check=True)  # fmt: skip
    return iso, tree / "cs-repo"


def test_the_repositories_come_from_cs_email_repo_conf_on_the_iso(tmp_path: Path) -> None:
    iso, _ = _gateway_iso(tmp_path, {"cs-email.repo": CS_EMAIL_REPO,
                                     "cs-media.repo": CS_MEDIA_REPO})  # fmt: skip
    work = tmp_path / "work"
    repos = repo_definitions(iso, read_release(iso, work=work), work=work)
    assert repos == (
        RepoDefinition("cs-email", False, "http://repo.clearswift.net/rhel6/gw/os/$basearch/",
                       "/etc/yum.repos.d/cs-email.repo"),
        RepoDefinition("cs-media", True, "file:///media/os/cs-repo",
                       "/etc/yum.repos.d/cs-media.repo"),
    )  # fmt: skip
    assert [r.online for r in repos] == [True, False]
    assert not list(work.glob("*.rpm"))  # the extracted package is not left behind


def test_the_samples_cs_email_repo_conf_defines_both_repositories_disabled(
    sample_base: SampleBase,
) -> None:
    repos = package_repos(sample_base.gateway_rpms / "cs-email-repo-conf-3.6.3-1.x86_64.rpm")
    assert {(r.id, r.enabled, r.online) for r in repos} == {("cs-email", False, True),
                                                            ("cs-media", False, False)}


@pytest.mark.parametrize(
    ("text", "message"),
    [("enabled=0\n", "not a yum repository file"),
     ("[a]\nenabled=maybe\n", r"\[a\] enabled='maybe' is not a yum boolean"),
     ("[a]\nbaseurl=x\n[a]\nbaseurl=y\n", "not a yum repository file"),
     ("[a]\n" + "x" * 70000 + "\n", "larger than 65536 bytes")],
)  # fmt: skip
def test_a_damaged_repo_file_is_one_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_repo_file(text.encode(), file="/etc/yum.repos.d/x.repo", source="p.rpm")


def test_a_package_without_repo_files_is_refused(tmp_path: Path) -> None:
    from rpm_factory import build_rpm

    rpm = build_rpm(tmp_path, "cs-email-repo-conf")
    with pytest.raises(InputError, match="defines no yum repository"):
        package_repos(rpm)


def _online_tree(tmp_path: Path, cs_repo: Path) -> Path:
    root = tmp_path / "EMAIL_490_190.online"
    shutil.copytree(cs_repo, root / "rhel6/gw/os/x86_64")
    (root / "it-pub.key").write_text("key\n")
    return root


def _resolve_online(tmp_path: Path, sources: Sources) -> OnlineTree:
    """A scenario of an ISO and an online tree, its disk booted with the tree reachable."""
    scenario = tmp_path / "online.toml"
    scenario.write_text(
        '[scenario]\nname = "online"\nproves = "x"\n[cells]\nallowed = ["bios-dvd"]\n'
        '[inputs]\niso = "product-iso"\nonline = "online-tree"\n[[steps]]\n'
        'do = "boot-disk"\nnetwork = "online"\nlimit = 60\n'
    )
    found = resolve(read_scenario(scenario), sources, cells=[], needs=set(),
                    run_folder=RunFolder(tmp_path / "art"), work=tmp_path / "work")  # fmt: skip
    return found.online("online")


def test_the_online_tree_beside_the_iso_is_its_repository(tmp_path: Path, profile: Profile) -> None:
    iso, cs_repo = _gateway_iso(tmp_path, {"cs-email.repo": CS_EMAIL_REPO})
    root = _online_tree(tmp_path, cs_repo)
    tree = _resolve_online(tmp_path, Sources(iso=iso, profile=profile))
    assert tree.root == root and tree.public_key and default_online_tree(iso) == root
    # another build's tree (its metadata differs), or no tree: refused before booting
    (root / "rhel6/gw/os/x86_64/repodata/repomd.xml").write_text("<repomd/>\n")
    other = Sources(iso=iso, profile=profile, online_tree=root)
    with pytest.raises(InputError, match="not the repository of EMAIL_490_190.iso"):
        _resolve_online(tmp_path, other)
    shutil.rmtree(root / "rhel6")
    with pytest.raises(InputError, match="has no rhel6/gw/os/x86_64/repodata/repomd.xml"):
        _resolve_online(tmp_path, other)
    with pytest.raises(InputError, match="is not a folder"):
        _resolve_online(tmp_path, Sources(iso=iso, profile=profile,
                                          online_tree=tmp_path / "none"))  # fmt: skip


def test_a_tree_without_the_key_is_served_as_it_is(
    tmp_path: Path, profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    """The guide's rpm --import then fails on the server (class packages): the scenario
    shows what such a tree does to Appendix B instead of refusing it."""
    iso, cs_repo = _gateway_iso(tmp_path, {"cs-email.repo": CS_EMAIL_REPO})
    root = _online_tree(tmp_path, cs_repo)
    (root / "it-pub.key").unlink()
    (root / "it-pub.key").symlink_to(tmp_path / "elsewhere.key")  # a link is no key
    assert not _resolve_online(tmp_path, Sources(iso=iso, profile=profile)).public_key
    assert "no it-pub.key" in caplog.text


def test_a_planted_link_for_the_metadata_is_refused(tmp_path: Path, profile: Profile) -> None:
    iso, cs_repo = _gateway_iso(tmp_path, {"cs-email.repo": CS_EMAIL_REPO})
    root = _online_tree(tmp_path, cs_repo)
    repomd = root / "rhel6/gw/os/x86_64/repodata/repomd.xml"
    (tmp_path / "repomd.xml").write_bytes(repomd.read_bytes())
    repomd.unlink()
    repomd.symlink_to(tmp_path / "repomd.xml")
    with pytest.raises(InputError, match=r"repomd.xml \(a plain file\)"):
        _resolve_online(tmp_path, Sources(iso=iso, profile=profile))


def test_online_tree_is_refused_for_a_scenario_without_one(tmp_path: Path, profile: Profile
                                                           ) -> None:  # fmt: skip
    with pytest.raises(InputError, match=r"--online-tree is only for a scenario with an? "
                       r"online-tree input \(appendix-b\)"):  # fmt: skip
        check_sources(load_scenario("appendix-a"),
                      Sources(iso=tmp_path, profile=profile, online_tree=tmp_path),
                      users={"online-tree": ["appendix-b"]})  # fmt: skip


def test_an_iso_built_without_a_custom_password_logs_in_with_the_guides_default(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide prints the default (docs/product-facts.md, "After the install"); the
    profile's default hash is that password's, so a default-built ISO needs no file."""
    hashed = profile.admin_password_hash
    iso = _iso(tmp_path, "EMAIL_490_190.iso", {"ks.cfg": (
        f"rootpw --iscrypted --lock {hashed}\nuser --name=cs-admin --iscrypted "
        f"--password={hashed}\n")})  # fmt: skip
    monkeypatch.delenv(ENV_VAR, raising=False)
    work = tmp_path / "work"
    assert admin_password(iso=iso, user="cs-admin", password_file=None,
                          work=work) == inputs.GUIDE_PASSWORD  # fmt: skip
    # a password file still wins, and must be the right one
    wrong = tmp_path / "wrong.txt"
    wrong.write_text(OLD_PASSWORD + "\n")
    with pytest.raises(InputError, match="is not the one EMAIL_490_190.iso was built with"):
        admin_password(iso=iso, user="cs-admin", password_file=wrong, work=work)
