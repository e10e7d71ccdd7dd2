"""buildiso.boottest.diskkey: a published disk's key changes with every input that can change
a byte of the disk, and with nothing else (so scenarios that make a disk alike share it)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bootfakes import iso_media

from buildiso import paths
from buildiso.boottest import diskkey
from buildiso.boottest.diskkey import DiskKey, Environment, canonical, code_digest, derive
from buildiso.boottest.inputs import Account, Inputs, ServerMedia
from buildiso.boottest.onlinetree import OnlineTree
from buildiso.boottest.scenario import Scenario
from buildiso.boottest.scenarioreader import load_scenario, read_scenario
from buildiso.boottest.session import RunOptions
from buildiso.boottest.vocabulary import VOCABULARY
from buildiso.config import Accel, Variant
from buildiso.render.profile import Profile, load_profile

ENV = Environment(tools={"qemu-img": {"version": "qemu-img version 7.2.22", "sha256": "a" * 64}},
                  code="c" * 64)  # fmt: skip
OPTIONS = RunOptions(accel=Accel.TCG, disk_mb=81920)
DVD_SUMS = {Path("/dvd/rhel.iso"): "d" * 64, Path("/elsewhere/rhel.iso"): "d" * 64,
            Path("/dvd/other.iso"): "e" * 64}  # fmt: skip


def _server(**changes: Any) -> ServerMedia:
    server = ServerMedia(name="server", dvd=Path("/dvd/rhel.iso"), kernel=Path("/w/vmlinuz"),
                         initrd=Path("/w/initrd.img"), ks_iso=Path("/w/ks.iso"),
                         account=Account("root", "Bt-Throwaway-9x"), kickstart_sha256="f" * 64)
    return dataclasses.replace(server, **changes)


def _key(scenario: Scenario, inputs: dict[str, Any], *, cell: str = "bios-dvd",
         options: RunOptions = OPTIONS, env: Environment = ENV) -> DiskKey:  # fmt: skip
    index = next(i for i, c in enumerate(scenario.steps) if c.kind == "publish-disk")
    return derive(disk=scenario.steps[index].text("disk"), cell=cell,
                  steps=scenario.steps[:index], kinds=VOCABULARY, inputs=Inputs(inputs),
                  options=options, env=env, dvd_sha256=DVD_SUMS.__getitem__)  # fmt: skip


@pytest.fixture(scope="module")
def old_profile() -> Profile:
    return load_profile(paths.PROFILES_DIR / "email-480.toml", Variant.TEST)


def _upgrade_inputs(tmp_path: Path, profile: Profile, old_profile: Profile) -> dict[str, Any]:
    old = dataclasses.replace(iso_media(tmp_path, old_profile, name="old"), sha256="1" * 64)
    return {"iso": iso_media(tmp_path, profile), "old": old}


def _appendix_inputs(tmp_path: Path, profile: Profile) -> dict[str, Any]:
    return {"iso": iso_media(tmp_path, profile), "server": _server()}


def _edited(tmp_path: Path, ref: str, edit: Callable[[str], str], name: str = "x") -> Scenario:
    text = Path(load_scenario(ref).source).read_text()
    changed = edit(text)
    assert changed != text, "the edit changed nothing"
    path = tmp_path / f"{name}.toml"
    path.write_text(changed)
    return read_scenario(path)


def test_the_key_names_the_disk_the_cell_and_what_made_it(
    tmp_path: Path, profile: Profile, old_profile: Profile
) -> None:
    key = _key(load_scenario("upgrade"), _upgrade_inputs(tmp_path, profile, old_profile))
    assert re.fullmatch(r"old-release\.bios-dvd\.[0-9a-f]{64}", key.name)
    made = key.made_from
    assert [s["do"] for s in made["steps"]] == ["boot-media", "choose-entry", "follow-install",
                                                "boot-local", "firstboot-report"]  # fmt: skip
    media = made["steps"][0]["media"]
    assert media["iso_sha256"] == "1" * 64 and media["profile"]["version"] == "4.8.0"
    assert "folder" not in made["steps"][0]  # logs go somewhere: no byte of the disk
    assert made["machine"] == {"accel": "tcg", "memory_mb": 2048, "new_disk_mb": 81920}
    assert made["tools"] == ENV.tools and made["code"] == ENV.code
    for where in (tmp_path, paths.PROFILES_DIR):  # no path, the profile's included
        assert str(where) not in repr(made)


# Each: what changes, on which scenario. The upgrade's disk is the old release installed
# from OLD.iso; Appendix A's the Minimal server installed from the DVD.
UPGRADE_CHANGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "OLD.iso's bytes (its kickstart, installer, packages)":
        lambda i: {**i, "old": dataclasses.replace(i["old"], sha256="2" * 64)},
    "OLD.iso's profile (a menu label: another entry is pressed)":
        lambda i: {**i, "old": dataclasses.replace(i["old"], profile=dataclasses.replace(
            i["old"].profile, menu=dataclasses.replace(i["old"].profile.menu,
                                                       title="Another title")))},
    "OLD.iso's profile (its disk layout)":
        lambda i: {**i, "old": dataclasses.replace(i["old"], profile=dataclasses.replace(
            i["old"].profile, disk_layout=diskkey_layout("raid1")))},
}  # fmt: skip


def diskkey_layout(name: str) -> Any:
    from buildiso.render.profilemodel import DiskLayout

    return DiskLayout(name)


@pytest.mark.parametrize("what", list(UPGRADE_CHANGES))
def test_each_input_of_the_old_releases_disk_changes_its_key(
    what: str, tmp_path: Path, profile: Profile, old_profile: Profile
) -> None:
    inputs = _upgrade_inputs(tmp_path, profile, old_profile)
    scenario = load_scenario("upgrade")
    assert _key(scenario, UPGRADE_CHANGES[what](inputs)).name != _key(scenario, inputs).name


APPENDIX_CHANGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "the server DVD's bytes (its installer)":
        lambda i: {**i, "server": _server(dvd=Path("/dvd/other.iso"))},
    "the server's kickstart (its root password's hash included)":
        lambda i: {**i, "server": _server(kickstart_sha256="0" * 64)},
}  # fmt: skip


@pytest.mark.parametrize("what", list(APPENDIX_CHANGES))
def test_each_input_of_the_servers_disk_changes_its_key(
    what: str, tmp_path: Path, profile: Profile
) -> None:
    inputs = _appendix_inputs(tmp_path, profile)
    scenario = load_scenario("appendix-a")
    assert _key(scenario, APPENDIX_CHANGES[what](inputs)).name != _key(scenario, inputs).name


def test_the_machine_the_tools_the_code_the_steps_and_the_name_change_the_key(
    tmp_path: Path, profile: Profile, old_profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = _upgrade_inputs(tmp_path, profile, old_profile)
    scenario = load_scenario("upgrade")
    base = _key(scenario, inputs).name
    other_steps = _edited(tmp_path, "upgrade", lambda t: t.replace(
        'entry = "serial-install"', 'entry = "install"'))  # fmt: skip
    renamed = _edited(tmp_path, "upgrade", lambda t: t.replace(
        'disk = "old-release"', 'disk = "old-gateway"'), name="y")  # fmt: skip
    variants = {
        "a making step's parameter": _key(other_steps, inputs).name,
        "the disk's name": _key(renamed, inputs).name,
        "the cell": _key(scenario, inputs, cell="bios-usb").name,
        "the accelerator": _key(scenario, inputs,
                                options=dataclasses.replace(OPTIONS, accel=Accel.KVM)).name,
        "the memory": _key(scenario, inputs,
                           options=dataclasses.replace(OPTIONS, memory_mb=4096)).name,
        "the new disks' size": _key(scenario, inputs,
                                    options=dataclasses.replace(OPTIONS, disk_mb=90000)).name,
        "a tool": _key(scenario, inputs, env=dataclasses.replace(
            ENV, tools={"qemu-img": {"version": "qemu-img version 8.0", "sha256": "a" * 64}})).name,
        "the boot test's code": _key(scenario, inputs,
                                     env=dataclasses.replace(ENV, code="0" * 64)).name,
    }  # fmt: skip
    monkeypatch.setattr(diskkey, "__version__", "9.9.9")
    variants["buildiso's version"] = _key(scenario, inputs).name
    assert {what: key != base for what, key in variants.items()} == dict.fromkeys(variants, True)
    assert len(set(variants.values())) == len(variants)


def test_what_changes_no_byte_of_the_disk_leaves_the_key(
    tmp_path: Path, profile: Profile, old_profile: Profile
) -> None:
    inputs = _upgrade_inputs(tmp_path, profile, old_profile)
    base = _key(load_scenario("upgrade"), inputs).name
    same = {
        "limits and stage names": _edited(tmp_path, "upgrade", lambda t: t.replace(
            "partitioning = 180", "partitioning = 999").replace(
            'do = "boot-local"\nlimit = 120', 'do = "boot-local"\nstage = "disk-boot"\n'
            "limit = 7")),
        "log folders": _edited(tmp_path, "upgrade", lambda t: t.replace(
            'folder = "old-install"', 'folder = "elsewhere"'), name="f"),
        "the steps after publish-disk": _edited(tmp_path, "upgrade", lambda t: t.replace(
            'value = "37"', 'value = "38"'), name="g"),
    }  # fmt: skip
    for what, scenario in same.items():
        assert _key(scenario, inputs).name == base, what
    # OLD.iso found elsewhere, its profile read from another path: same bytes, same key
    moved = {**inputs, "old": dataclasses.replace(
        inputs["old"], path=Path("/mnt/x.iso"), profile=dataclasses.replace(
            inputs["old"].profile, path=Path("/etc/p.toml")))}  # fmt: skip
    assert _key(load_scenario("upgrade"), moved).name == base
    # the product ISO is no input of the old release's disk: every nightly shares it
    newer = {**inputs, "iso": dataclasses.replace(inputs["iso"], sha256="9" * 64)}
    assert _key(load_scenario("upgrade"), newer).name == base


def test_scenarios_that_install_the_server_alike_share_its_disk(
    tmp_path: Path, profile: Profile
) -> None:
    """Appendix B installs the same Minimal server as Appendix A: one published disk."""
    inputs = _appendix_inputs(tmp_path, profile)
    appendix_b = _edited(tmp_path, "appendix-a", lambda t: t.replace(
        'name = "appendix-a"', 'name = "appendix-b"').replace(
        'server = "server-dvd"', 'rhel = "server-dvd"').replace(
        'server = "server"', 'server = "rhel"').replace(
        'account = "server"', 'account = "rhel"').replace(
        "mount /dev/cdrom /media/os", "mount -r /dev/cdrom /media/os"), name="b")  # fmt: skip
    b_inputs = {"iso": inputs["iso"], "rhel": _server(dvd=Path("/elsewhere/rhel.iso"))}
    a, b = _key(load_scenario("appendix-a"), inputs), _key(appendix_b, b_inputs)
    assert a.name == b.name and a.disk == "minimal-server"


def test_the_shipped_appendix_b_starts_from_appendix_as_server_disk(
    tmp_path: Path, profile: Profile
) -> None:
    inputs = _appendix_inputs(tmp_path, profile)
    online = OnlineTree(name="online", root=tmp_path / "tree", public_key=True,
                        repomd_sha256="9" * 64)  # fmt: skip
    a = _key(load_scenario("appendix-a"), inputs)
    b = _key(load_scenario("appendix-b"), {**inputs, "online": online})
    assert a.name == b.name and b.disk == "minimal-server"


def test_an_online_tree_is_known_by_its_metadata_not_its_path(tmp_path: Path) -> None:
    tree = OnlineTree(name="online", root=tmp_path / "a", public_key=True, repomd_sha256="9" * 64)
    elsewhere = dataclasses.replace(tree, root=tmp_path / "b")
    rebuilt = dataclasses.replace(tree, repomd_sha256="8" * 64)
    ident = diskkey.input_identity
    assert ident(tree, DVD_SUMS.__getitem__) == ident(elsewhere, DVD_SUMS.__getitem__)
    assert ident(tree, DVD_SUMS.__getitem__) != ident(rebuilt, DVD_SUMS.__getitem__)
    assert str(tmp_path) not in repr(ident(tree, DVD_SUMS.__getitem__))


def test_canonical_forms_are_stable_and_pathless() -> None:
    @dataclasses.dataclass(frozen=True)
    class Thing:
        path: Path
        names: frozenset[str]
        accel: Accel

    one = canonical(Thing(Path("/a"), frozenset({"b", "a", "c"}), Accel.TCG))
    assert one == {"names": ["a", "b", "c"], "accel": "tcg"}
    with pytest.raises(TypeError):
        canonical(object())


def test_the_code_digest_covers_modules_and_data_not_scenario_files(tmp_path: Path) -> None:
    root = tmp_path / "boottest"
    for rel in ("runner.py", "data/minimal-rhel6-ks.cfg", "scenarios/install.toml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    base = code_digest(root)
    (root / "scenarios/install.toml").write_text("changed")
    assert code_digest(root) == base
    for rel in ("runner.py", "data/minimal-rhel6-ks.cfg"):
        (root / rel).write_text("changed " + rel)
        assert code_digest(root) != base, rel
        base = code_digest(root)


@pytest.mark.integration
def test_the_environment_names_qemus_tools_and_firmware() -> None:
    env = diskkey.environment()
    assert env.tools["qemu-img"]["version"].startswith("qemu-img version")
    assert env.tools["qemu-system-x86_64"]["version"].startswith("QEMU emulator version")
    assert re.fullmatch(r"[0-9a-f]{64}", env.tools["firmware"]["bios-256k.bin"])
    assert env.code == code_digest()
