"""buildiso.render.templates: golden files, menu contracts, hostile input, the kickstart's shell.

Golden files: tests/data/golden/<variant>/<path>.expected for every rendered file of every
flavour and variant. After an intended template or profile change, regenerate them with

    BUILDISO_UPDATE_GOLDEN=1 .venv/bin/pytest tests/render/test_templates.py

and review the diff before committing.

The %pre/%post scripts are run for real (dash, and dash with busybox's awk/sed/grep, the
tools of a busybox system) against a fake root directory: absolute paths in the script are
redirected into tmp_path, and rpm/df/chage are small fakes that log their arguments.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.config import EfiFlavour, IsolinuxFlavour, Variant
from buildiso.errors import InputError, ValidationFailed
from buildiso.render.password import ENV_VAR
from buildiso.render.profile import Profile, load_profile
from buildiso.render.templates import (
    EFI_MENU_PATHS,
    ISOLINUX_FILES,
    render_command,
    render_efi_menu,
    render_grub2_theme,
    render_isolinux,
    render_kickstart,
    render_media_files,
)
from buildiso.render.validate import validate_kickstart_text

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
REGEN = os.environ.get("BUILDISO_UPDATE_GOLDEN") == "1"


def _profile(variant: Variant = Variant.TEST) -> Profile:
    return load_profile(paths.DEFAULT_PROFILE, variant)


def _golden_cases() -> list[tuple[Variant, str, str]]:
    cases = []
    for variant in Variant:
        cases.append((variant, "ks.cfg", "ks.cfg"))
        # syslinux 4 media without chain.c32: no disk-signature %post
        cases.append((variant, "ks-localboot", "ks-localboot.cfg"))
        for iso in IsolinuxFlavour:
            cases.append((variant, f"isolinux-{iso.value}", f"isolinux/{iso.value}/isolinux.cfg"))
        for efi in EfiFlavour:
            cases.append((variant, f"efi-{efi.value}", f"{EFI_MENU_PATHS[efi]}"))
        cases.append((variant, "grub2-theme", "EFI/BOOT/theme.txt"))
    return cases


def _render_case(variant: Variant, kind: str) -> str:
    profile = _profile(variant)
    if kind in ("ks.cfg", "ks-localboot"):
        return render_kickstart(
            profile, password_hash=profile.admin_password_hash, chain_local=kind == "ks.cfg"
        )
    if kind == "grub2-theme":
        return render_grub2_theme(profile)
    if kind.startswith("isolinux-"):
        return render_isolinux(profile, flavour=IsolinuxFlavour(kind.removeprefix("isolinux-")))
    return render_efi_menu(profile, flavour=EfiFlavour(kind.removeprefix("efi-")))


@pytest.mark.parametrize(("variant", "kind", "rel"), _golden_cases())
def test_golden(variant: Variant, kind: str, rel: str) -> None:
    text = _render_case(variant, kind)
    golden = GOLDEN / variant.value / f"{rel}.expected"
    if REGEN:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"{golden} missing: run BUILDISO_UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == golden.read_text(), f"{golden} differs (regenerate on purpose, then review)"


def test_render_media_files_paths() -> None:
    profile = _profile()
    for efi, efi_path in (
        (EfiFlavour.GRUB_LEGACY, "EFI/BOOT/BOOTX64.conf"),
        (EfiFlavour.GRUB2, "EFI/BOOT/grub.cfg"),
    ):
        files = render_media_files(
            profile,
            isolinux=IsolinuxFlavour.SYSLINUX6,
            efi=efi,
            password_hash=profile.admin_password_hash,
        )
        theme = ["EFI/BOOT/theme.txt"] if efi is EfiFlavour.GRUB2 else []
        assert sorted(files) == sorted(["ks.cfg", "isolinux/isolinux.cfg", efi_path, *theme])
    assert "ldlinux.c32" in ISOLINUX_FILES[IsolinuxFlavour.SYSLINUX6]
    assert "ldlinux.c32" not in ISOLINUX_FILES[IsolinuxFlavour.SYSLINUX4]


# --- menus ---------------------------------------------------------------------------
ARGS = "ks=hd:LABEL=EMAIL490190:/ks.cfg repo=hd:LABEL=EMAIL490190:/"
SERIAL = "console=tty0 console=ttyS0,115200"


@pytest.mark.parametrize("flavour", list(IsolinuxFlavour))
def test_isolinux_contract(flavour: IsolinuxFlavour) -> None:
    text = render_isolinux(_profile(), flavour=flavour)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "serial 0 115200"  # syslinux wants it first
    assert "timeout 600" in lines
    assert "menu title Welcome to Clearswift Email Solutions" in lines
    labels = [line.removeprefix("menu label ") for line in lines if line.startswith("menu label ")]
    assert labels == [
        "Install Secure Email Gateway",
        "Install Secure Email Gateway (serial console)",
        "Boot from local drive",
    ]
    blocks = text.split("\nlabel ")[1:]
    install, serial, local = blocks
    assert f"append initrd=initrd.img {ARGS}\n" in install and "kernel vmlinuz" in install
    assert f"append initrd=initrd.img {ARGS} {SERIAL}\n" in serial
    assert "menu default" in local
    if flavour is IsolinuxFlavour.SYSLINUX6:
        # chain.c32 finds the installed disk by the signature the kickstart's %post writes
        assert "com32 chain.c32\n" in local and "append mbr:0x90014945\n" in local
        assert "\n  localboot " not in local and "swap" not in local
    else:
        assert "localboot 0xffff\n" in local and "chain.c32" not in local
    assert "menu default" not in install + serial
    assert "^" not in text  # no hotkey markers: they split the serial mirror's text
    if flavour is IsolinuxFlavour.SYSLINUX6:
        assert "ui vesamenu.c32" in lines
    else:
        assert "default vesamenu.c32" in lines


def test_syslinux4_base_with_its_own_chain_c32_chain_loads() -> None:
    text = render_isolinux(_profile(), flavour=IsolinuxFlavour.SYSLINUX4, base_has_chain=True)
    local = text.split("\nlabel local\n")[1]
    assert "com32 chain.c32\n" in local and "append mbr:0x90014945\n" in local
    assert "\n  localboot " not in local
    files = render_media_files(
        _profile(),
        isolinux=IsolinuxFlavour.SYSLINUX4,
        efi=EfiFlavour.GRUB_LEGACY,
        password_hash=_profile().admin_password_hash,
        base_has_chain=True,
    )
    assert files["isolinux/isolinux.cfg"] == text
    assert "chain.c32" in ISOLINUX_FILES[IsolinuxFlavour.SYSLINUX6]


def test_grub2_contract() -> None:
    text = render_efi_menu(_profile(), flavour=EfiFlavour.GRUB2)
    assert "search --no-floppy --set=root --label EMAIL490190" in text
    assert "serial --unit=0 --speed=115200" in text
    assert "terminal_input console serial" in text and "terminal_output console serial" in text
    assert 'set default="local"' in text and "set timeout=60" in text
    entries = re.findall(r'menuentry "([^"]+)" --id (\S+) \{(.*?)\n\}', text, re.S)
    assert [(name, ident) for name, ident, _ in entries] == [
        ("Install Secure Email Gateway", "install"),
        ("Install Secure Email Gateway (serial console)", "install-serial"),
        ("Boot from local drive", "local"),
    ]
    assert f"linux /images/pxeboot/vmlinuz {ARGS}\n" in entries[0][2]
    assert "initrd /images/pxeboot/initrd.img" in entries[0][2]
    assert f"{ARGS} {SERIAL}" in entries[1][2]
    # chain-load the installed system's loader (OVMF ignores "exit"'s return); exit as fallback
    local = entries[2][2]
    assert "search --no-floppy --file --set=installed /EFI/redhat/grub.efi" in local
    assert "chainloader ($installed)/EFI/redhat/grub.efi" in local
    assert local.index("chainloader") < local.index("exit")
    # the graphical menu (its theme shows the title on screen) only when font and gfxmenu
    # load, and the serial port stays a terminal output
    gfx = text[text.index("if loadfont ") : text.index("\nmenuentry ")]
    assert "if loadfont /EFI/BOOT/fonts/ascii.pf2; then" in gfx and "if insmod gfxmenu; then" in gfx
    assert "set theme=/EFI/BOOT/theme.txt" in gfx and "terminal_output gfxterm serial" in gfx
    assert "if insmod png; then" in gfx  # the theme's background picture is a PNG


def test_grub2_theme_shows_the_title() -> None:
    theme = render_grub2_theme(_profile())
    assert 'title-text: "Welcome to Clearswift Email Solutions"' in theme
    fonts = set(re.findall(r'font = "([^"]+)"|font: "([^"]+)"', theme))
    assert {a or b for a, b in fonts} == {"Unifont Regular 16"}  # the name inside ascii.pf2
    assert "+ boot_menu {" in theme and 'id = "__timeout__"' in theme
    # desktop-color alone trips GRUB 2.06's "null src bitmap" error when an entry starts
    assert 'desktop-image: "background.png"' in theme


def test_grub_legacy_contract() -> None:
    text = render_efi_menu(_profile(), flavour=EfiFlavour.GRUB_LEGACY)
    titles = re.findall(r"^title (.*)$", text, re.M)
    assert titles == [
        "Install Secure Email Gateway",
        "Install Secure Email Gateway (serial console)",
        "Boot from local drive",
    ]
    assert "default=2" in text and "timeout=60" in text  # 0-based: the local entry
    assert f"kernel /images/pxeboot/vmlinuz {ARGS}\n" in text
    assert f"kernel /images/pxeboot/vmlinuz {ARGS} {SERIAL}\n" in text


# --- kickstart -----------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(Variant))
def test_rendered_kickstart_passes_validation(variant: Variant) -> None:
    profile = _profile(variant)
    text = render_kickstart(profile, password_hash=profile.admin_password_hash)
    assert validate_kickstart_text(text, filename="ks.cfg", profile=profile) == []
    var_size = profile.partition("/var").size_mb
    assert f"echo 'part /var --fstype=ext4 --size={var_size} --grow'" in text
    assert (
        "%packages --nobase\n@core\ncs-email\nsystem-config-firewall-base\n"
        "-postfix\n-rsyslog\n-samba-common\n%end"
    ) in text
    assert "repo --name=cs-repo --baseurl=file:///mnt/source/cs-repo" in text
    assert "%post --log=/root/ks-post.log --erroronfail" in text


@pytest.mark.integration
def test_real_ksvalidator_accepts_rendered_kickstart(tmp_path: Path) -> None:
    ks = tmp_path / "ks.cfg"
    profile = _profile()
    ks.write_text(render_kickstart(profile, password_hash=profile.admin_password_hash))
    venv_tool = Path(sys.executable).parent / "ksvalidator"  # pykickstart's, next to python
    ksvalidator = str(venv_tool) if venv_tool.exists() else shutil.which("ksvalidator")
    assert ksvalidator, "ksvalidator not installed: run ./setup.sh (pykickstart)"
    proc = subprocess.run([ksvalidator, "-v", "RHEL6", str(ks)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = tmp_path / "bad.cfg"
    bad.write_text(
        ks.read_text().replace("bootloader --location=mbr", "bootloader --boot-drive=sda")
    )
    proc = subprocess.run([ksvalidator, "-v", "RHEL6", str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "--boot-drive" in proc.stdout + proc.stderr


def test_custom_password_only_as_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "Xk9#mRq2vL"
    monkeypatch.setenv(ENV_VAR, secret)
    out = tmp_path / "out"
    render_command(
        profile_path=paths.DEFAULT_PROFILE,
        variant=Variant.PRODUCTION,
        password_file=None,
        isolinux_flavour=IsolinuxFlavour.SYSLINUX4,
        efi_flavour=EfiFlavour.GRUB2,
        out_dir=out,
    )
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == [
        "EFI/BOOT/grub.cfg", "EFI/BOOT/theme.txt", "isolinux/isolinux.cfg", "ks.cfg"
    ]  # fmt: skip
    ks = (out / "ks.cfg").read_text()
    assert secret not in ks
    assert re.search(r"^user --name=cs-admin --iscrypted --password=\$6\$", ks, re.M)
    assert _profile().admin_password_hash not in ks  # the custom hash replaced the default


def test_weak_custom_password_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "Pa55word")
    out = tmp_path / "out"
    with pytest.raises(InputError, match="dictionary word"):
        render_command(
            profile_path=paths.DEFAULT_PROFILE,
            variant=Variant.TEST,
            password_file=None,
            isolinux_flavour=IsolinuxFlavour.SYSLINUX4,
            efi_flavour=EfiFlavour.GRUB_LEGACY,
            out_dir=out,
        )
    assert not out.exists()


@pytest.mark.parametrize(
    "hostile",
    [
        "Welcome\n%pre\nreboot\n%end",
        "Install %post",
        "Boot' ; exit ; '",
        'A "quoted" title',
        "a\\b",
    ],
)
def test_hostile_profile_values_refused_before_rendering(hostile: str) -> None:
    profile = _profile()
    evil = dataclasses.replace(
        profile, menu=dataclasses.replace(profile.menu, install_label=hostile)
    )
    with pytest.raises(ValidationFailed) as info:
        render_media_files(
            evil,
            isolinux=IsolinuxFlavour.SYSLINUX4,
            efi=EfiFlavour.GRUB2,
            password_hash=profile.admin_password_hash,
        )
    assert "menu.install_label" in str(info.value)


def test_bad_hash_refused() -> None:
    profile = _profile()
    with pytest.raises(ValidationFailed, match="SHA-512"):
        render_kickstart(profile, password_hash="password")
    with pytest.raises(ValidationFailed, match="SHA-512"):
        render_kickstart(profile, password_hash=profile.admin_password_hash + "\n%pre")


# --- the kickstart's shell scripts, run for real ---------------------------------------
def _section(ks: str, header: str) -> str:
    start = ks.index(header + "\n") + len(header) + 1
    return ks[start : ks.index("\n%end\n", start) + 1]


def _fake_tool(bindir: Path, name: str, body: str) -> None:
    path = bindir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _fake_root(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    for d in ("etc/yum.repos.d", "etc/sysconfig", "root", "opt/tomcat/conf", "media"):
        (root / d).mkdir(parents=True)
    (root / "etc/passwd").write_text(
        "root:x:0:0::/root:/bin/sh\ncs-admin:x:500:500::/home/cs-admin:/bin/sh\n"
    )
    (root / "etc/shadow").write_text(
        "root:!:19000:0:99999:7:::\ncs-admin:$6$x$y:19000:0:99999:7:::\n"
    )
    (root / "etc/yum.repos.d/cs-online.repo").write_text(
        "[cs-updates]\nname=online\nbaseurl=https://example.invalid/\nenabled=1\ngpgcheck=1\n"
    )
    (root / "etc/yum.repos.d/redhat.repo").write_text(
        "[rhel-6-server-rpms]\nname=RHEL\nbaseurl=https://x/\n"
    )
    (root / "etc/sysconfig/iptables").write_text(
        "*filter\n:INPUT ACCEPT [0:0]\n"
        "-A INPUT -m state --state NEW -m tcp -p tcp --dport 443 -j ACCEPT\n"
        "-A INPUT -m state --state NEW -m tcp -p tcp --dport 22 -j ACCEPT\n"
        "-A INPUT -m state --state NEW -m udp -p udp --dport 123 -j ACCEPT\n"
        "-A INPUT -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n"
    )
    (root / "opt/tomcat/conf/server-bind.xml").write_text(
        '<Connector port="443" sslEnabledProtocols="TLSv1.2" ciphers="TLS_A,TLS_B"/>\n'
    )
    (root / "opt/tomcat/conf/server-bind2.xml").write_text(
        '<Connector sslEnabledProtocols="TLSv1.2" ciphers="TLS_A"/>\n'
        '<Connector sslEnabledProtocols="TLSv1.2" ciphers="TLS_RSA_WITH_AES_256_CBC_SHA,TLS_B"/>\n'
    )
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.log"
    _fake_tool(
        bindir,
        "rpm",
        f'echo "rpm $*" >> {log}\n'
        'case "$1" in\n'
        "  -qa) printf '%s\\n' cs-email-4.9.0-190.x86_64 bash-4.1.2-48.el6.x86_64 "
        "rsyslog-5.8.10-12.el6.x86_64 ;;\n"
        '  -q) if [ "$2" = rsyslog ]; then echo rsyslog-5.8.10-12.el6.x86_64; '
        'else echo "package $2 is not installed"; exit 1; fi ;;\n'
        "  -e) exit 0 ;;\n"
        "esac\n",
    )
    _fake_tool(
        bindir,
        "df",
        'echo "Filesystem 1048576-blocks Used Available Capacity Mounted on"\n'
        'for a in "$@"; do case "$a" in\n'
        '  /) echo "/dev/sda2 20158 900 18234 5% /" ;;\n'
        '  /var) echo "/dev/sda3 60476 300 57100 1% /var" ;;\n'
        "esac; done\n",
    )
    _fake_tool(
        bindir,
        "chage",
        f'echo "chage $*" >> {log}\n'
        f'sed -i "s/^$3:\\([^:]*\\):[0-9]*:/$3:\\1:0:/" {root}/etc/shadow\n',
    )
    return root, bindir


def _redirect(script: str, root: Path) -> str:
    # one pass, so the fake root's own path is never rewritten again
    return re.sub(
        r"(?<![\w.])(/etc/|/opt/tomcat|/root/|/media/os|/sys/block)",
        lambda m: f"{root}{m.group(1)}",
        script,
    )


def _toolsets(tmp_path: Path) -> list[tuple[str, str]]:
    """(name, PATH prefix): the system's awk/sed/grep, and busybox's."""
    sets = [("system", "")]
    busybox = shutil.which("busybox")
    if busybox:
        bb = tmp_path / "busybox-tools"
        bb.mkdir()
        for tool in ("awk", "sed", "grep", "cat", "mkdir", "ls"):
            (bb / tool).symlink_to(busybox)
        sets.append(("busybox", f"{bb}:"))
    return sets


def _run_sh(script: str, *, path_prefix: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    shell = shutil.which("dash") or "/bin/sh"
    env = {"PATH": path_prefix + os.environ["PATH"], "LANG": "C"}
    return subprocess.run([shell, "-c", script], capture_output=True, text=True, env=env, cwd=cwd)


@pytest.mark.parametrize("firmware", ["bios", "uefi"])
def test_pre_writes_firmware_dependent_partitions(tmp_path: Path, firmware: str) -> None:
    profile = _profile()
    ks = render_kickstart(profile, password_hash=profile.admin_password_hash)
    fw = tmp_path / "sys-firmware-efi"
    if firmware == "uefi":
        fw.mkdir()
    out = tmp_path / "part-include"
    script = _section(ks, "%pre --log=/tmp/ks-pre.log --erroronfail")
    script = script.replace("/sys/firmware/efi", str(fw)).replace("/tmp/part-include", str(out))
    proc = _run_sh(script, path_prefix="", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    expected = [
        "part / --fstype=ext4 --size=20480",
        "part /var --fstype=ext4 --size=61440 --grow",
    ]
    if firmware == "uefi":
        expected.insert(0, "part /boot/efi --fstype=efi --size=200")
    assert lines == expected


@pytest.mark.parametrize("tls10", [False, True])
def test_post_configures_gateway_and_writes_report(tmp_path: Path, tls10: bool) -> None:
    profile = dataclasses.replace(_profile(), tls10=tls10)
    ks = render_kickstart(profile, password_hash=profile.admin_password_hash)
    config = _section(ks, "%post --log=/root/ks-post.log --erroronfail")
    report = _section(ks, "%post --log=/root/ks-post-report.log --erroronfail")
    reports = []
    for name, prefix in _toolsets(tmp_path):
        work = tmp_path / name
        work.mkdir()
        root, bindir = _fake_root(work)
        for script in (config, report):
            assert "RPM=/bin/rpm" in script
            script = script.replace("RPM=/bin/rpm", f"RPM={bindir}/rpm")
            proc = _run_sh(_redirect(script, root), path_prefix=f"{bindir}:{prefix}", cwd=work)
            assert proc.returncode == 0, f"{name}: {proc.stdout}\n{proc.stderr}"
        calls = (work / "calls.log").read_text()
        assert "rpm -e --nodeps rsyslog" in calls and "rpm -e --nodeps postfix" not in calls
        # the First Boot Console asks for the new password: PAM must not first
        assert "chage" not in calls
        for repo in (root / "etc/yum.repos.d").glob("*.repo"):
            text = repo.read_text()
            assert "enabled=1" not in text, repo
            assert text.count("enabled=0") == text.count("\n[") + text.startswith("[")
        local = (root / "etc/yum.repos.d/cs-local-media.repo").read_text()
        assert "[cs-local-media]" in local and "/media/os/cs-repo" in local
        bind = (root / "opt/tomcat/conf/server-bind.xml").read_text()
        bind2 = (root / "opt/tomcat/conf/server-bind2.xml").read_text()
        if tls10:
            assert (
                'sslEnabledProtocols="TLSv1,TLSv1.2" '
                'ciphers="TLS_A,TLS_B,TLS_RSA_WITH_AES_256_CBC_SHA"' in bind
            )
            assert bind2.count("TLSv1,TLSv1.2") == 2
            assert bind2.count("TLS_RSA_WITH_AES_256_CBC_SHA") == 2  # not appended twice
        else:
            assert "TLSv1," not in bind + bind2
        data = json.loads((root / "root/buildiso-postinstall.json").read_text())
        reports.append(data)
        # rsyslog was "installed" by the fake rpm when the report ran (rpm -e is a no-op)
        assert data == {
            "schema": 1,
            "product": "Secure Email Gateway",
            "version": "4.9.0",
            "build": 190,
            "rpms": [
                "bash-4.1.2-48.el6.x86_64",
                "cs-email-4.9.0-190.x86_64",
                "rsyslog-5.8.10-12.el6.x86_64",
            ],
            "forbidden_present": ["rsyslog"],
            "filesystems": {
                "/": {"size_mb": 20158, "device": "/dev/sda2"},
                "/var": {"size_mb": 60476, "device": "/dev/sda3"},
            },
            "arrays": {},
            "users": {"cs-admin": {"exists": True, "password_expired": False}},
            "firewall": {"tcp": [22, 443], "udp": [123]},
            "repos_enabled": [],
            "tls10": tls10,
        }
    assert all(r == reports[0] for r in reports)


def test_post_scripts_parse_under_busybox_sh() -> None:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.fail("busybox not installed: run ./setup.sh (busybox-static)")
    profile = dataclasses.replace(_profile(), tls10=True)
    ks = render_kickstart(profile, password_hash=profile.admin_password_hash)
    headers = re.findall(r"^(%(?:pre|post)[^\n]*)$", ks, re.M)
    assert len(headers) == 5
    for header in headers:
        proc = subprocess.run(
            [busybox, "sh", "-n", "-c", _section(ks, header)], capture_output=True, text=True
        )
        assert proc.returncode == 0, f"{header}: {proc.stderr}"


def test_profile_file_name_cannot_inject(tmp_path: Path) -> None:
    evil = tmp_path / "evil\n%pre\nreboot\n%end\n.toml"
    evil.write_text(paths.DEFAULT_PROFILE.read_text())
    profile = load_profile(evil, Variant.TEST)
    ks = render_kickstart(profile, password_hash=profile.admin_password_hash)
    assert "\n%pre\nreboot" not in ks
    assert "(the product profile)" in ks


# --- the firewall line and lokkit's package ---------------------------------------------
def _packages_lines(ks: str) -> list[str]:
    return _section(ks, "%packages --nobase").splitlines()


def test_firewall_ports_bring_lokkit_into_packages() -> None:
    """anaconda opens the ports with the installed system's /usr/sbin/lokkit, which
    "%packages --nobase" with @core does not install (RHEL 6: it is in @base)."""
    profile = _profile()
    ks = render_kickstart(profile, password_hash=profile.admin_password_hash)
    assert _packages_lines(ks) == ["@core", "cs-email", "system-config-firewall-base",
                                   "-postfix", "-rsyslog", "-samba-common"]  # fmt: skip
    firewall = next(line for line in ks.splitlines() if line.startswith("firewall "))
    assert firewall == "firewall --enabled --port=" + ",".join(map(str, profile.firewall.ports))


@pytest.mark.parametrize("where", ["install", "remove"])
def test_lokkit_package_listed_by_the_profile_is_not_added(where: str) -> None:
    profile = _profile()
    packages = dataclasses.replace(
        profile.packages,
        **{where: (*getattr(profile.packages, where), "system-config-firewall-base")},
    )
    profile = dataclasses.replace(profile, packages=packages)
    lines = _packages_lines(render_kickstart(profile, password_hash=profile.admin_password_hash))
    assert sum("system-config-firewall-base" in line for line in lines) == 1


def test_no_firewall_ports_no_lokkit_and_no_empty_port_option() -> None:
    profile = _profile()
    profile = dataclasses.replace(profile, firewall=dataclasses.replace(profile.firewall, ports=()))
    ks = render_kickstart(profile, password_hash=profile.admin_password_hash)
    assert "system-config-firewall-base" not in _packages_lines(ks)
    assert "\nfirewall --enabled\nselinux " in ks  # anaconda adds --service=ssh itself


@pytest.mark.parametrize(("mode", "added"), [("enforcing", False), ("permissive", True),
                                             ("disabled", True)])  # fmt: skip
def test_a_selinux_mode_other_than_the_default_brings_lokkit(mode: str, added: bool) -> None:
    """anaconda sets the mode with the installed system's lokkit (security.py); without it
    the file stays selinux-policy's default, enforcing (docs/anaconda13-firewall.md)."""
    profile = _profile()
    profile = dataclasses.replace(
        profile, firewall=dataclasses.replace(profile.firewall, ports=()),
        system=dataclasses.replace(profile.system, selinux=mode))  # fmt: skip
    ks = render_kickstart(profile, password_hash=profile.admin_password_hash)
    assert ("system-config-firewall-base" in _packages_lines(ks)) is added
    assert f"\nselinux --{mode}\n" in ks
