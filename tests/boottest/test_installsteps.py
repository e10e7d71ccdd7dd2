"""buildiso.boottest.installsteps: the install scenario's steps following the stages and
classifying failures, against scripted guests and a fake clock (through the real runner,
which turns a run into a result)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bootfakes import (
    CELL,
    MENU,
    MENU_SERIAL,
    Script,
    b64,
    cut_after,
    good_report,
    install_script,
    run_scripted_cell,
)

from buildiso.render.profile import Profile


def test_wait_local_timeout_presses_nothing(tmp_path: Path, profile: Profile) -> None:
    script = [item for item in install_script(report=good_report(profile)) if item[0] != "key2"]
    # the menu's own timeout boots the disk: 60 s after the menu appears
    script += [
        (
            "key1",
            16.0 + 60,
            "protocol",
            f"FIRSTBOOT-RESULT status=ok report={b64(good_report(profile))}\n",
        )
    ]
    result, factory = run_scripted_cell(tmp_path, profile, script, wait_local_timeout=True)
    assert result.passed, result.message
    assert factory.started[0].keys == [["up", "ret"]]
    assert result.stage_map["local-boot"].seconds + result.stage_map["firstboot"].seconds > 55


def test_stuck_in_packages_is_a_stage_timeout(tmp_path: Path, profile: Profile) -> None:
    script = cut_after(install_script(report={}), "name=packages status=start")
    script.append(("key1", 12.0, "console", "installing packages (3/10): cs-email\r\n"))
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert not result.passed
    assert result.failure_class == "timeout-in-stage-packages"
    assert "stuck in stage packages after 60 s" in result.message
    assert "installing packages (3/10): cs-email" in result.message  # last console lines
    assert result.stage_map["packages"].status == "timeout"
    assert (tmp_path / CELL.name / "failure.png").exists()


def test_timeout_scale_stretches_every_stage_limit(tmp_path: Path, profile: Profile) -> None:
    script = cut_after(install_script(report={}), "name=packages status=start")
    result, _ = run_scripted_cell(tmp_path, profile, script, timeout_scale=2.5)
    assert result.failure_class == "timeout-in-stage-packages"
    assert "stuck in stage packages after 150 s" in result.message  # 60 s x 2.5
    assert 150 < result.stage_map["packages"].seconds < 152


def test_silence_between_stages_names_the_next_stage(tmp_path: Path, profile: Profile) -> None:
    script = cut_after(install_script(report={}), "name=kickstart status=ok")
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "timeout-in-stage-partitioning"


@pytest.mark.parametrize(
    ("klass", "expected"),
    [
        ("post", "post"),
        ("media", "media-not-found"),
        ("packages", "packages"),
        ("kickstart", "kickstart"),
        ("disk", "disk"),
    ],
)
def test_installer_failures_keep_their_class(
    tmp_path: Path, profile: Profile, klass: str, expected: str
) -> None:
    script = cut_after(install_script(report={}), "name=media status=start")
    script += [
        ("key1", 4.0, "protocol", "BUILDISO-STAGE name=media status=failed t=4\n"),
        (
            "key1",
            4.1,
            "protocol",
            f'INSTALL-RESULT status=failed class={klass} reason="LABEL=EMAIL_490_190 not found"\n',
        ),
    ]
    result, factory = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == expected
    assert result.message.startswith("LABEL=EMAIL_490_190 not found (stage media)")
    assert result.attempts == 1 and len(factory.specs) == 1  # a product failure is never retried


def test_firmware_that_finds_no_boot_media(tmp_path: Path, profile: Profile) -> None:
    script: Script = [
        (
            "start",
            0.5,
            "firmware",
            "Booting from DVD/CD...\nBoot failed: Could not read from CDROM (code 0004)\n"
            "No bootable device.\n",
        )
    ]
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "firmware"
    assert "No bootable device" in result.message


def test_firmware_silent_until_timeout(tmp_path: Path, profile: Profile) -> None:
    result, _ = run_scripted_cell(tmp_path, profile, [])
    assert result.failure_class == "firmware"
    assert "no boot loader started from the media within 20 s" in result.message


def test_uefi_shell_means_firmware_failure(tmp_path: Path, profile: Profile) -> None:
    script: Script = [
        (
            "start",
            4.0,
            "console",
            'BdsDxe: loading Boot0001 "EFI Internal Shell"\r\nUEFI Interactive Shell v2.2\r\n',
        )
    ]
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "firmware"


def test_boot_loader_without_our_menu(tmp_path: Path, profile: Profile) -> None:
    script: Script = [("start", 0.5, "console", "ISOLINUX 6.04 20200816\r\nboot: \r\n")]
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "menu-not-found"
    assert "'Boot from local drive'" in result.message


def test_menu_that_differs_from_the_profile(tmp_path: Path, profile: Profile) -> None:
    import dataclasses

    other = dataclasses.replace(
        profile, menu=dataclasses.replace(profile.menu, title="Welcome to Acme")
    )
    result, factory = run_scripted_cell(tmp_path, profile, install_script(report={}), profile=other)
    assert result.failure_class == "wrong-menu"
    assert "profile says 'Welcome to Acme'" in result.message
    assert factory.started[0].keys == []  # nothing chosen from a menu that is not ours
    assert (tmp_path / CELL.name / "menu.png").exists()


def test_installed_system_that_does_not_boot(tmp_path: Path, profile: Profile) -> None:
    script = [item for item in install_script(report={}) if item[0] != "key2"]
    script.append(("key2", 1.0, "console", "Booting from Hard Disk...\r\nGRUB loading.\r\n"))
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "installed-system-did-not-boot"
    assert "stuck in stage firstboot after 30 s" in result.message


def test_nothing_after_reboot(tmp_path: Path, profile: Profile) -> None:
    script = cut_after(install_script(report={}), "RESET")
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "installed-system-did-not-boot"
    assert "stage local-boot" in result.message


def test_report_that_breaks_the_profile(tmp_path: Path, profile: Profile) -> None:
    report = good_report(profile)
    report["rpms"].append("postfix-2.6.6-8.el6.x86_64")
    report["tls10"] = True
    result, _ = run_scripted_cell(tmp_path, profile, install_script(report=report))
    assert result.failure_class == "post-install-check"
    assert "forbidden-packages-absent: postfix is installed" in result.message
    assert "tls10: tls10 is True" in result.message
    assert {c.name for c in result.checks if not c.ok} == {"forbidden-packages-absent", "tls10"}


def test_firstboot_failure_and_garbage_report(tmp_path: Path, profile: Profile) -> None:
    script = [item for item in install_script(report={}) if "FIRSTBOOT" not in item[3]]
    failed = script + [
        (
            "key2",
            3.0,
            "protocol",
            'FIRSTBOOT-RESULT status=failed reason="no /root/buildiso-postinstall.json"\n',
        )
    ]
    result, _ = run_scripted_cell(tmp_path, profile, failed)
    assert result.failure_class == "firstboot" and "buildiso-postinstall.json" in result.message
    garbage = script + [("key2", 3.0, "protocol", "FIRSTBOOT-RESULT status=ok report=@@@\n")]
    result, _ = run_scripted_cell(tmp_path / "2", profile, garbage)
    assert result.failure_class == "firstboot" and "not base64 JSON" in result.message


def test_kernel_panic_during_install(tmp_path: Path, profile: Profile) -> None:
    script = cut_after(install_script(report={}), "name=kernel status=start")
    script.append(
        ("key1", 2.0, "console", "Kernel panic - not syncing: VFS: Unable to mount root fs\r\n")
    )
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "kernel-panic"
    assert "Unable to mount root fs" in result.message


def test_qemu_exits_during_install(tmp_path: Path, profile: Profile) -> None:
    script = cut_after(install_script(report={}), "name=packages status=start")
    script.append(("key1", 12.0, "exit", ""))
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "guest-stopped-in-stage-packages"


def test_menu_serial_capture_is_what_the_menu_check_sees() -> None:
    from buildiso.boottest.bootproto import strip_ansi
    from buildiso.boottest.isomenu import menu_on_screen

    assert menu_on_screen(MENU, strip_ansi(MENU_SERIAL)) == []
    assert menu_on_screen(MENU, MENU_SERIAL) != []  # the raw escapes would hide it


def test_reboot_and_menu_within_one_poll_round(tmp_path: Path, profile: Profile) -> None:
    # The installer's result, the reset and the menu of the next boot all arrive between
    # two polls: the menu must still be recognised as the new boot's.
    script = install_script(report=good_report(profile))
    done = next(item[1] for item in script if "INSTALL-RESULT" in item[3])
    script = [
        (trig, done if (trig == "key1" and delay > done) else delay, ch, text)
        for trig, delay, ch, text in script
    ]
    result, factory = run_scripted_cell(tmp_path, profile, script)
    assert result.passed, result.message
    assert factory.started[0].keys == [["up", "ret"], ["ret"]]


@pytest.mark.parametrize(
    "error",
    [
        "Loading vmlinuz... failed: No such file or directory",
        "error: file `/images/pxeboot/vmlinuz' not found.",
    ],
)
def test_boot_loader_that_cannot_load_the_kernel(
    tmp_path: Path, profile: Profile, error: str
) -> None:
    script = [install_script(report={})[0]]  # the menu, then nothing but the error
    script.append(("key1", 1.0, "console", f"\r\n{error}\r\nboot: "))
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "kernel-not-loaded"
    assert error.split("...")[0] in result.message
    assert result.seconds < 10  # not the kernel stage's 30 s limit


def test_local_boot_that_finds_nothing_fails_at_once(tmp_path: Path, profile: Profile) -> None:
    # SeaBIOS from a USB stick: INT 18h goes on to the floppy, not to the installed disk.
    script = [item for item in install_script(report={}) if item[0] != "key2"]
    script.append(("key2", 1.0, "console", "Booting from local disk...\r\n"))
    script.append(
        (
            "key2",
            1.5,
            "firmware",
            "Booting from Floppy...\nBoot failed: could not read the boot disk\n"
            "\nNo bootable device.\n",
        )
    )
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "installed-system-did-not-boot"
    assert "found nothing to boot: 'No bootable device'" in result.message
    assert result.stage_map["firstboot"].seconds < 5  # not the stage's 30 s limit


def _install_set(report: dict[str, object]) -> frozenset[str]:
    rpms = report["rpms"]
    assert isinstance(rpms, list)
    return frozenset(r for r in rpms if not r.startswith("gpg-pubkey-"))


def test_installed_packages_equal_to_the_install_set_pass(tmp_path: Path, profile: Profile) -> None:
    report = good_report(profile)
    result, _ = run_scripted_cell(
        tmp_path, profile, install_script(report=report), install_set=_install_set(report)
    )
    assert result.passed, result.message
    assert any(c.name == "installed-packages" and c.ok for c in result.checks)


def test_installed_packages_that_differ_fail_with_class_packages(
    tmp_path: Path, profile: Profile
) -> None:
    report = good_report(profile)
    wanted = _install_set(report)
    report["rpms"] = [r for r in report["rpms"] if not r.startswith("bash-")] + [
        "bash-4.1.2-29.el6.x86_64",  # another version than the manifest's
        "vim-minimal-7.4.629-5.el6.x86_64",  # not in the install set at all
    ]
    result, _ = run_scripted_cell(
        tmp_path, profile, install_script(report=report), install_set=wanted
    )
    assert result.failure_class == "packages"
    assert result.message.startswith(
        "installed-packages: not in the install set: bash-4.1.2-29.el6.x86_64, "
        "vim-minimal-7.4.629-5.el6.x86_64; in the install set but not installed: "
        "bash-4.1.2-48.el6.x86_64"
    )


GRUB_THEME_ERROR = "error: null src bitmap in grub_video_bitmap_create_scaled."


def test_boot_loader_error_on_the_way_to_the_installer(tmp_path: Path, profile: Profile) -> None:
    # GRUB 2.06's gfxmenu without a desktop-image: an error and a 10 s pause, then the
    # kernel starts anyway. The install would pass; the cell must not.
    script = install_script(report=good_report(profile))
    script.insert(
        1,
        (
            "key1",
            0.5,
            "console",
            f"\r\n{GRUB_THEME_ERROR}\r\n\r\nPress any key"
            " to continue...\r\nLinux version 6.1.0\r\n",
        ),
    )
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "boot-loader-error"
    assert GRUB_THEME_ERROR in result.message and "installer's kernel" in result.message


def test_boot_loader_error_before_the_installed_kernel(tmp_path: Path, profile: Profile) -> None:
    script = install_script(report=good_report(profile))
    script.append(("key2", 1.0, "console", "error: no such device: /grub/grub.conf.\r\n"))
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "boot-loader-error"
    assert "no such device" in result.message and "installed system" in result.message


def test_kernel_messages_are_not_boot_loader_errors(tmp_path: Path, profile: Profile) -> None:
    # After "Linux version", "error: " belongs to the kernel or the installer, not to GRUB.
    script = install_script(report=good_report(profile))
    script.insert(1, ("key1", 0.5, "console", "Linux version 6.1.0\r\nata1: error: { ABRT }\r\n"))
    script.append(("key2", 3.0, "console", "EXT4-fs error: (device vda2) x\r\n"))
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.passed, result.message
