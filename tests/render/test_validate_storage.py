"""validate on real RHEL 6 kickstarts: LVM, RAID, %pre-written layouts, bounded input.

The valid set (tests/data/ks/valid/) must pass ``validate`` and RHEL 6's own
``ksvalidator -v RHEL6`` (pykickstart 1.74.22, the third-party referee, when installed: if
it refuses a file, the file is not a valid RHEL 6 kickstart and the test is wrong, not the
product). Each broken case edits one
line of a valid file and must fail on exactly that line.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import rhel6_pykickstart

from buildiso import paths
from buildiso.config import Variant
from buildiso.errors import InputError, ValidationFailed
from buildiso.render.profile import load_profile
from buildiso.render.validate import (
    MAX_KICKSTART_BYTES,
    MAX_PROBLEMS,
    validate_command,
    validate_kickstart_text,
)

VALID = Path(__file__).parents[1] / "data" / "ks" / "valid"
VALID_FILES = sorted(VALID.glob("*.ks"))


def _problems(text: str, variant: Variant = Variant.TEST) -> list[str]:
    profile = load_profile(paths.DEFAULT_PROFILE, variant)
    return [str(p) for p in validate_kickstart_text(text, filename="ks.cfg", profile=profile)]


def _edit(name: str, old: str, new: str) -> tuple[str, int]:
    """The valid file ``name`` with its line ``old`` replaced; (text, that line's number)."""
    lines = (VALID / name).read_text().splitlines()
    index = lines.index(old)
    lines[index] = new
    return "\n".join(lines) + "\n", index + 1


def test_valid_set_is_not_empty() -> None:
    assert len(VALID_FILES) >= 6


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.name)
def test_valid_rhel6_kickstart_passes(path: Path) -> None:
    assert _problems(path.read_text()) == []


@pytest.mark.parametrize("path", VALID_FILES, ids=lambda p: p.name)
def test_rhel6_ksvalidator_accepts_the_valid_set(path: Path) -> None:
    # RHEL 6's own ksvalidator (pykickstart 1.74.22): it prints nothing for a file it accepts
    assert rhel6_pykickstart.ksvalidator(path) == ""


def test_valid_set_covers_what_the_issue_lists() -> None:
    text = "\n".join(p.read_text() for p in VALID_FILES)
    for needed in (
        "volgroup ", "logvol ", "raid / --level=1", "--level=10", "ignoredisk --only-use",
        "logging --level", "$6$rounds=5000$", "--percent=", "--recommended", "--ondisk=",
        "clearpart --all --initlabel --drives=", "--driveorder=", "cat > /tmp/storage.ks",
    ):  # fmt: skip
        assert needed in text, needed


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (  # 10 % of a 300 GB group: 30 GB, under the test variant's 60 GB
            "lvm-percent.ks",
            "logvol /var --vgname=vg_gw --name=lv_var --fstype=ext4 --size=1024 --percent=80 "
            "--grow",
            "logvol /var --vgname=vg_gw --name=lv_var --fstype=ext4 --size=1024 --percent=10 "
            "--grow --maxsize=30720",
            "product-rule: /var logical volume vg_gw/lv_var of 30720 MB is too small for the test "
            "variant (minimum 61440 MB)",
        ),
        (  # the group grows with the disk, but only 1 MB of it is guaranteed
            "lvm-grow.ks",
            "logvol /var --vgname=vg0 --name=var --fstype=ext4 --size=61440 --grow",
            "logvol /var --vgname=vg0 --name=var --fstype=ext4 --size=1 --percent=90 --grow",
            "product-rule: /var logical volume vg0/var of 0 MB guaranteed (--grow adds only what "
            "the disk has left) is too small for the test variant (minimum 61440 MB)",
        ),
        (  # RAID 1 holds one member's worth: 10 GB
            "raid1.ks",
            "part raid.12 --size=20480 --ondisk=sdb",
            "part raid.12 --size=10240 --ondisk=sdb",
            None,  # reported on the raid line, checked below
        ),
        (
            "raid1.ks",
            "raid /var --level=RAID1 --device=md1 --fstype=ext4 raid.21 raid.22",
            "raid /var --level=RAID1 --device=md1 --fstype=ext4 raid.21 raid.29",
            "product-rule: /var RAID1 device md1: size unknown before install (a member has no "
            "known size (member raid.29 is not defined))",
        ),
        (
            "raid10-lvm.ks",
            "logvol / --vgname=vg_gw --name=root --fstype=ext4 --size=20480",
            "logvol / --vgname=vg_gw --name=root --fstype=ext4 --recommended",
            "product-rule: / logical volume vg_gw/root: size unknown before install (--recommended "
            "sizes it from the machine's RAM)",
        ),
        (
            "pre-echo-plain.ks",
            'echo "part /var --fstype=ext4 --size=61440 --grow" >> /tmp/part-include',
            'echo "part /var --fstype=ext4 --size=$size --grow" >> /tmp/part-include',
            "product-rule: /var partition: size unknown before install (its size is computed by "
            "the %pre shell at install time)",
        ),
        (
            "pre-include-lvm.ks",
            "logvol / --vgname=vg0 --name=root --size=20480",
            "logvol / --vgname=vg0 --name=root --size=10240",
            "product-rule: / logical volume vg0/root of 10240 MB is too small for the test variant",
        ),
        (
            "pre-include-lvm.ks",
            "%include /tmp/storage.ks",
            "%include /etc/shadow",
            "product-rule: %include /etc/shadow: no %pre writes this file and it is not under /tmp "
            "or on the install media",
        ),
        (
            "lvm-grow.ks",
            "reboot",
            "poweroff",
            "product-rule: 'poweroff': the installation guide's install ends with an automatic "
            "reboot",
        ),
        (
            "raid1.ks",
            "cs-email",
            "cs-email-nope",
            None,  # the missing package is reported at the %packages header
        ),
        (
            "lvm-grow.ks",
            "bootloader --location=mbr",
            "bootloader --location=mbr --boot-drive=sda",
            "rhel6-syntax: bootloader: no such option: --boot-drive",
        ),
    ],
)
def test_broken_case_fails_on_its_line(name: str, old: str, new: str, expected: str | None) -> None:
    text, line = _edit(name, old, new)
    problems = _problems(text)
    if expected is None:
        assert len(problems) == 1, problems
        return
    assert len(problems) == 1 and problems[0].startswith(f"ks.cfg:{line}: {expected}"), problems


def test_small_raid1_member_reported_on_the_raid_line() -> None:
    text, _ = _edit(
        "raid1.ks",
        "part raid.12 --size=20480 --ondisk=sdb",
        "part raid.12 --size=10240 --ondisk=sdb",
    )
    line = text.splitlines().index("raid / --level=1 --device=md0 --fstype=ext4 raid.11 raid.12")
    assert _problems(text) == [
        f"ks.cfg:{line + 1}: product-rule: / RAID1 device md0 of 10240 MB is too small for the "
        "test variant (minimum 20480 MB)"
    ]


def test_missing_cs_email_named() -> None:
    text, _ = _edit("raid1.ks", "cs-email", "cs-email-nope")
    header = text.splitlines().index("%packages --nobase") + 1
    assert _problems(text) == [
        f"ks.cfg:{header}: product-rule: required package cs-email missing from %packages"
    ]


def test_production_minimum_applies_through_lvm() -> None:
    # 80 % of 300 GB = 240 GB, growing into what / leaves: enough for production (200 GB)
    text = (VALID / "lvm-percent.ks").read_text()
    assert _problems(text, Variant.PRODUCTION) == []
    smaller = text.replace("--percent=80 --grow", "--percent=50 --grow --maxsize=153600")
    problems = _problems(smaller, Variant.PRODUCTION)
    assert (
        len(problems) == 1
        and "of 153600 MB is too small for the production variant" in (problems[0])
    ), problems
    assert _problems(smaller) == []  # 150 GB is fine for the test variant


def test_plaintext_rootpw_still_caught_next_to_rounds_hash() -> None:
    text = (VALID / "raid1.ks").read_text()
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.startswith("rootpw"))
    lines = text.splitlines()
    lines[line - 1] = "rootpw --plaintext hunter2hunter2"
    problems = _problems("\n".join(lines) + "\n")
    assert problems == [
        f"ks.cfg:{line}: product-rule: rootpw: password is not a SHA-512 crypt hash with "
        "--iscrypted"
    ]


def test_forty_megabytes_of_junk_refused_fast(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ks"
    with junk.open("wb") as handle:
        line = b"flibbertigibbet --junk=" + b"x" * 40 + b"\n"
        handle.write(line * (40 * 1024 * 1024 // len(line)))
    started = time.process_time()
    with pytest.raises(InputError) as info:
        validate_command(
            ks_file=junk, media_check=None, profile_path=paths.DEFAULT_PROFILE, variant=Variant.TEST
        )
    # CPU time, not wall clock: refused before parsing, whatever the machine's load
    assert time.process_time() - started < 2
    assert "over the 1024 KiB limit for a kickstart" in str(info.value)
    assert info.value.exit_code == 2


def test_problem_list_is_capped(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ks"
    count = MAX_KICKSTART_BYTES // 40
    junk.write_text("".join(f"junk{n} --x={n}\n" for n in range(count))[:MAX_KICKSTART_BYTES])
    with pytest.raises(ValidationFailed) as info:
        validate_command(
            ks_file=junk, media_check=None, profile_path=paths.DEFAULT_PROFILE, variant=Variant.TEST
        )
    problems = info.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert "more problem(s) from here on (the list stops at 50" in problems[-1]
    assert f"{junk}:1: rhel6-syntax: unknown command 'junk0' (RHEL 6 has no such command)" in (
        problems
    )
    # junk: RHEL 6's parser is not asked past MAX_FINDINGS findings, and the count says so
    assert "(200 rhel6-syntax, 1 input-limit)" in info.value.message


@pytest.mark.parametrize(
    ("include", "accepted"),
    [
        ("/tmp/written-by-a-driver-disk.ks", True),  # /tmp: the installer's own scratch
        ("/mnt/source/extra/part.ks", True),  # on the install media
        ("/mnt/isodir/ks/part.ks", True),
        ("/etc/passwd", False),
        ("/tmp/../etc/passwd", False),  # normalised before it is judged
        ("/mnt/source/../../etc/shadow", False),
    ],
)
def test_include_paths(include: str, accepted: bool) -> None:
    text, line = _edit("pre-include-lvm.ks", "%include /tmp/storage.ks", f"%include {include}")
    problems = [p for p in _problems(text) if "%include" in p]
    if accepted:
        assert problems == []
    else:
        assert problems == [
            f"ks.cfg:{line}: product-rule: %include {include}: no %pre writes this file and it is "
            "not under /tmp or on the install media (/mnt/source, /mnt/isodir, /mnt/stage2): it "
            "would read a file of the installer's own system into the kickstart"
        ]
