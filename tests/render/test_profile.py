"""buildiso.render.profile: the shipped profile loads; bad values are reported with file and key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from buildiso import paths
from buildiso.config import Variant
from buildiso.errors import InputError
from buildiso.render.profile import (
    EFI_PARTITION_MB,
    REPORT_PATH,
    FirewallPort,
    load_profile,
    unsafe_values,
)

PROFILE = paths.DEFAULT_PROFILE


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # literal strings cannot carry a newline: use a basic string with escapes
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + " }"
    return str(value)


def _dump(data: dict[str, Any]) -> str:
    """Minimal TOML writer for the profile's shape (tables, [[partitions]], variants)."""
    out: list[str] = []
    for key, value in data.items():
        if key == "partitions":
            continue
        if key == "variants":
            for name, table in value.items():
                out.append(f"[variants.{name}]")
                out += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
            continue
        if isinstance(value, dict):
            out.append(f"[{key}]")
            out += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        else:
            out.insert(0, f"{key} = {_toml_value(value)}")
    for part in data.get("partitions", []):
        out.append("[[partitions]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in part.items()]
    return "\n".join(out) + "\n"


def _shipped() -> dict[str, Any]:
    return tomllib.loads(PROFILE.read_text())


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(_dump(data))
    return path


def test_shipped_profile_test_variant() -> None:
    profile = load_profile(PROFILE, Variant.TEST)
    assert (profile.product, profile.version, profile.build) == (
        "Secure Email Gateway",
        "4.9.0",
        190,
    )
    assert profile.iso_name == "EMAIL_490_190.iso"
    assert profile.volume_label == "EMAIL490190"
    assert profile.menu.title == "Welcome to Clearswift Email Solutions"
    assert profile.menu.install_label == "Install Secure Email Gateway"
    assert profile.menu.local_label == "Boot from local drive"
    assert profile.menu.timeout_s == 60
    assert profile.partition("/").size_mb >= 20 * 1024
    assert profile.partition("/var").size_mb == 60 * 1024
    assert profile.packages.remove == ("postfix", "rsyslog", "samba-common")
    assert "cs-email" in profile.packages.install
    assert profile.admin_user == "cs-admin"
    assert profile.signing.key_id == "5522142c"
    assert profile.repos_offline is True and profile.tls10 is False
    assert REPORT_PATH == "/root/buildiso-postinstall.json"


def test_variants_differ_in_var_and_disk_size() -> None:
    test = load_profile(PROFILE, Variant.TEST)
    production = load_profile(PROFILE, Variant.PRODUCTION)
    assert production.partition("/var").size_mb == 200 * 1024
    assert production.min_disk_mb > test.min_disk_mb
    # the disk must hold every partition plus the UEFI system partition
    assert test.min_disk_mb >= sum(p.size_mb for p in test.partitions) + EFI_PARTITION_MB


def test_firewall_ports_from_appendix_e() -> None:
    fw = load_profile(PROFILE, Variant.TEST).firewall
    assert fw.tcp == (22, 25, 53, 80, 389, 443, 636, 3269, 11371)
    assert fw.udp == (53, 123, 19200)
    assert FirewallPort(19200, "udp") in fw.ports
    assert str(FirewallPort(22, "tcp")) == "22:tcp"


def test_boot_arguments_contract() -> None:
    profile = load_profile(PROFILE, Variant.TEST)
    assert profile.install_args == "ks=hd:LABEL=EMAIL490190:/ks.cfg repo=hd:LABEL=EMAIL490190:/"
    assert profile.serial_install_args.endswith(" console=tty0 console=ttyS0,115200")


def test_public_key_missing_fails_only_when_needed(tmp_path: Path) -> None:
    profile = load_profile(PROFILE, Variant.TEST)  # loading does not need the key
    assert not profile.signing.public_key.exists()
    with pytest.raises(InputError, match="5522142c") as info:
        profile.signing.require_public_key()
    assert "allow-unsigned" in str(info.value)


def test_unknown_key_named_with_allowed_keys(tmp_path: Path) -> None:
    data = _shipped()
    data["menu"]["colour"] = "blue"
    path = _write(tmp_path, data)
    with pytest.raises(InputError) as info:
        load_profile(path, Variant.TEST)
    message = str(info.value)
    assert str(path) in message
    assert (
        "menu.colour: unknown key (allowed: bios_disk_signature, bios_localboot, install_label"
        in message
    )


def test_bios_disk_signature(tmp_path: Path) -> None:
    menu = load_profile(PROFILE, Variant.TEST).menu
    assert menu.bios_disk_signature == "0x90014945"
    assert menu.bios_disk_signature_bytes == bytes([0x45, 0x49, 0x01, 0x90])  # as on disk
    for bad in ("0x00000000", "90014945", "0x9001494", "0x90014945a", "0xG0014945"):
        data = _shipped()
        data["menu"]["bios_disk_signature"] = bad
        with pytest.raises(InputError, match=r"menu\.bios_disk_signature"):
            load_profile(_write(tmp_path, data), Variant.TEST)


def test_wrong_type_named(tmp_path: Path) -> None:
    data = _shipped()
    data["menu"]["timeout_s"] = "60"
    with pytest.raises(InputError, match=r"menu\.timeout_s: wrong type str \(expected int\)"):
        load_profile(_write(tmp_path, data), Variant.TEST)


def test_bool_is_not_a_number(tmp_path: Path) -> None:
    data = _shipped()
    data["product"]["build"] = True
    with pytest.raises(InputError, match=r"product\.build: wrong type bool"):
        load_profile(_write(tmp_path, data), Variant.TEST)


def test_out_of_range_named_with_allowed_values(tmp_path: Path) -> None:
    data = _shipped()
    data["menu"]["timeout_s"] = 0
    with pytest.raises(InputError, match=r"menu\.timeout_s: 0 out of range \(allowed: 1\.\.600\)"):
        load_profile(_write(tmp_path, data), Variant.TEST)


def test_choice_lists_allowed_values(tmp_path: Path) -> None:
    data = _shipped()
    data["system"]["selinux"] = "off"
    with pytest.raises(InputError, match=r"allowed: enforcing, permissive, disabled"):
        load_profile(_write(tmp_path, data), Variant.TEST)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    data = _shipped()
    data["menu"]["timeout_s"] = -1
    data["product"]["volume_label"] = "EMAIL 490:190"
    del data["admin"]["user"]
    with pytest.raises(InputError) as info:
        load_profile(_write(tmp_path, data), Variant.TEST)
    text = str(info.value)
    for key in ("menu.timeout_s", "product.volume_label", "admin.user: missing"):
        assert key in text


@pytest.mark.parametrize(
    ("variant", "size", "ok"),
    [
        (Variant.TEST, 61440, True),
        (Variant.TEST, 61439, False),
        (Variant.PRODUCTION, 204800, True),
        (Variant.PRODUCTION, 102400, False),
    ],
)
def test_var_minimum_per_variant(tmp_path: Path, variant: Variant, size: int, ok: bool) -> None:
    data = _shipped()
    data["variants"][variant.value]["sizes_mb"] = {"/var": size}
    path = _write(tmp_path, data)
    if ok:
        assert load_profile(path, variant).partition("/var").size_mb == size
    else:
        with pytest.raises(InputError, match=rf"/var size {size} MB too small .*allowed: >= "):
            load_profile(path, variant)


def test_two_year_tracking_adds_25_percent(tmp_path: Path) -> None:
    data = _shipped()
    data["variants"]["test"]["two_year_tracking"] = True
    with pytest.raises(InputError, match=r"two-year message tracking \(allowed: >= 76800 MB\)"):
        load_profile(_write(tmp_path, data), Variant.TEST)
    data["variants"]["test"]["sizes_mb"] = {"/var": 76800}
    assert load_profile(_write(tmp_path, data), Variant.TEST).two_year_tracking is True


def test_small_root_refused(tmp_path: Path) -> None:
    data = _shipped()
    data["partitions"][0]["size_mb"] = 1024
    with pytest.raises(InputError, match=r"/ size 1024 MB too small"):
        load_profile(_write(tmp_path, data), Variant.TEST)


def test_both_variants_required(tmp_path: Path) -> None:
    data = _shipped()
    del data["variants"]["production"]
    with pytest.raises(InputError, match=r"variants\.production: missing"):
        load_profile(_write(tmp_path, data), Variant.TEST)


@pytest.mark.parametrize(
    ("section", "key", "hostile"),
    [
        ("menu", "title", "Welcome\n%pre\nrm -rf /\n%end"),
        ("menu", "install_label", "Install %post"),
        ("menu", "local_label", "Boot' ; reboot ; '"),
        ("menu", "serial_install_label", 'Install "serial"'),
        ("product", "name", "Gateway $(reboot)"),
        ("system", "timezone", "UTC\nrootpw x"),
        ("gateway", "local_media_mount", "/media/os; rm -rf /"),
        ("product", "volume_label", "EMAIL 490"),
    ],
)
def test_hostile_values_refused(tmp_path: Path, section: str, key: str, hostile: str) -> None:
    data = _shipped()
    data[section][key] = hostile
    with pytest.raises(InputError) as info:
        load_profile(_write(tmp_path, data), Variant.TEST)
    message = str(info.value)
    assert f"{section}.{key}" in message
    assert "not allowed" in message
    assert "\n%pre" not in message  # shown with repr(), it cannot break the error line


def test_hostile_package_name_refused(tmp_path: Path) -> None:
    data = _shipped()
    data["packages"]["install"] = ["cs-email", "%end"]
    with pytest.raises(InputError, match=r"packages\.install\[1\]"):
        load_profile(_write(tmp_path, data), Variant.TEST)


def test_plaintext_password_in_profile_refused(tmp_path: Path) -> None:
    data = _shipped()
    data["admin"]["default_password_hash"] = "Xq7!plainSecret"
    with pytest.raises(InputError, match=r"admin\.default_password_hash: .*SHA-512") as caught:
        load_profile(_write(tmp_path, data), Variant.TEST)
    # the refusal must not echo what may be a real password
    assert "plainSecret" not in str(caught.value)


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[product\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_profile(bad, Variant.TEST)
    with pytest.raises(InputError, match="profile not found"):
        load_profile(tmp_path / "nope.toml", Variant.TEST)


def test_unsafe_values_guards_profiles_built_in_code() -> None:
    import dataclasses

    profile = load_profile(PROFILE, Variant.TEST)
    assert unsafe_values(profile) == []
    evil = dataclasses.replace(
        profile, menu=dataclasses.replace(profile.menu, title="Hi\n%pre\nreboot")
    )
    problems = unsafe_values(evil)
    assert len(problems) == 1 and problems[0].startswith("menu.title:")
    assert re.search(r"\\n%pre", problems[0])


def test_a_label_fat_would_cut_is_refused_with_the_reason(tmp_path: Path) -> None:
    data = _shipped()
    data["product"]["volume_label"] = "EMAIL_490_190"  # 13: Rufus' FAT stick says EMAIL_490_1
    with pytest.raises(InputError) as info:
        load_profile(_write(tmp_path, data), Variant.TEST)
    message = str(info.value)
    assert "product.volume_label" in message
    assert "FAT volume label holds 11" in message and "Rufus" in message
    data["product"]["volume_label"] = "EMAIL490190"
    assert load_profile(_write(tmp_path, data), Variant.TEST).volume_label == "EMAIL490190"
