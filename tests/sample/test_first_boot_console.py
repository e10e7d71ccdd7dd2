"""The sample gateway's First Boot Console (buildiso/sample/sources/gateway/first_boot_console.py).

Its pages are driven here through its own ``main`` with answers on a pipe, on a folder
standing in for the installed system's root. Its password policy is a second
implementation of the product's (``buildiso.render.password``): both are run on one list
of candidates and must give the same verdicts, word for word. The chroot tests
(tests/sample/test_first_boot_console_chroot.py) run it with the sample's own Python.
"""

from __future__ import annotations

import importlib.util
import io
import random
import re
import string
import sys
from pathlib import Path
from types import ModuleType

import pytest

from buildiso.render import password as product
from buildiso.sample.rpmbuild import SOURCES_DIR

SCRIPT = SOURCES_DIR / "gateway" / "first_boot_console.py"
WORDS_COPY = SOURCES_DIR / "gateway" / "first-boot-words.txt"
NEW = "Up-Tq7vKz2mW9x"  # meets the policy (asserted below)
GOOD_ANSWERS = ["en_GB.UTF-8", "uk", "Europe/London", "dhcp", NEW, NEW, "offline"]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_first_boot_console", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_first_boot_console"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fbc = _load()


def candidates() -> list[str]:
    """Passwords for both policies: the product tests' good and bad ones, each listed word
    as typed with swaps and padding, sequences, lengths at the limits, odd characters, and
    random strings from a fixed seed."""
    known = sorted(fbc.words(WORDS_COPY))
    swaps = str.maketrans({"a": "@", "o": "0", "e": "3", "s": "$", "i": "1", "t": "7"})
    found = ["Xk9#mRq2vL", "Tr0ub4dor&3", "Gh7!kPz2", "blue-Otter-58", "Ab1!xyz", "abcdefgh",
             "lowerUPPERonly", "Zx9!1234Q", "Qz8!abcdK", "Mm7!dcbaR", "Vr5#qwerB", "Jk3$aaaaW",
             "Pa55word", "P@ssw0rd!", "Dr4g0n!x", "MyW3lc0me#", "Cl3arsw1ft!", "Good\npass9!X",
             "", "a", "Aa1!" * 32, "Aa1!" * 32 + "x", "Zq8#" + "é" * 6, "Tab\tKey9x",
             "Kp2#zz", "Ny6$mlkjQ", "Hu4%0987j", NEW]  # fmt: skip
    for word in known:
        found += [word, word.capitalize() + "#7", word.translate(swaps).capitalize() + "!9x",
                  f"Xy{word}42!", f"{word[:3]}Q#8v{word[3:]}"]  # fmt: skip
    rng = random.Random(20261208)
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*()-_=+|.~ "
    found += ["".join(rng.choice(alphabet) for _ in range(rng.randint(4, 20)))
              for _ in range(400)]  # fmt: skip
    return found


def test_its_word_list_is_the_products() -> None:
    assert WORDS_COPY.read_bytes() == product.WORDS_FILE.read_bytes(), (
        "copy buildiso/render/data/words.txt to sample/sources/gateway/first-boot-words.txt"
    )


def test_its_policy_gives_the_products_verdicts() -> None:
    known = fbc.words(WORDS_COPY)
    checked = candidates()
    differ = [(c, product.policy_failures(c), fbc.policy_failures(c, known)) for c in checked
              if product.policy_failures(c) != fbc.policy_failures(c, known)]  # fmt: skip
    assert differ == []
    # the list exercises every rule, and both verdicts
    verdicts = [product.policy_failures(c) for c in checked]
    assert sum(not v for v in verdicts) > 20
    for rule in ("at least 8", "at most 128", "printable", "three of", "sequences", "dictionary"):
        assert any(rule in f for v in verdicts for f in v), rule


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An installed system's files as the product's install leaves them."""
    (tmp_path / "var/lib/cs-email").mkdir(parents=True)
    (tmp_path / fbc.PENDING).touch()
    (tmp_path / "usr/share/cs-email").mkdir(parents=True)
    (tmp_path / fbc.WORDS).write_bytes(WORDS_COPY.read_bytes())
    sysconfig = tmp_path / "etc/sysconfig"
    (sysconfig / "network-scripts").mkdir(parents=True)
    (sysconfig / "i18n").write_text('LANG="en_US.UTF-8"\nSYSFONT="latarcyrheb-sun16"\n')
    (sysconfig / "clock").write_text('ZONE="UTC"\nUTC=true\n')
    (sysconfig / "network-scripts/ifcfg-lo").write_text('DEVICE="lo"\n')
    (sysconfig / "network-scripts/ifcfg-eth0").write_text(
        'DEVICE="eth0"\nHWADDR="52:54:00:12:34:56"\nTYPE="Ethernet"\nONBOOT="no"\n'
        'NM_CONTROLLED="yes"\nBOOTPROTO="dhcp"\n'
    )
    repos = tmp_path / "etc/yum.repos.d"
    repos.mkdir(parents=True)
    (repos / "cs-email.repo").write_text(
        "[cs-email]\nname=online\nbaseurl=http://repo.clearswift.net/rhel6/gw/os/$basearch/\n"
        "enabled=0\ngpgcheck=1\nskip_if_unavailable=1\n"
    )
    (repos / "cs-media.repo").write_text(
        "[cs-media]\nname=media\nbaseurl=file:///media/os/cs-repo\nenabled=0\ngpgcheck=1\n"
    )
    return tmp_path


class Run:
    def __init__(self, root: Path, answers: list[str]) -> None:
        self.passwords: list[tuple[str, str]] = []
        out = io.StringIO()
        self.code = fbc.main(root=root, stdin=io.StringIO("".join(a + "\n" for a in answers)),
                             stdout=out, set_password=lambda u, p: self.passwords.append((u, p)))
        self.out = out.getvalue()

    def titles(self) -> list[str]:
        return [ln.split(": ", 1)[1] for ln in self.out.splitlines()
                if ln.startswith("First Boot Console - page ")]  # fmt: skip


def test_the_six_pages_in_order_then_the_settings_applied(root: Path) -> None:
    run = Run(root, GOOD_ANSWERS)
    assert run.code == 0, run.out
    assert run.titles() == list(fbc.TITLES)
    assert run.titles()[0] == "Locale Configuration" and run.titles()[4] == "cs-admin Password"
    assert "page 1 of 6: Locale Configuration" in run.out
    assert run.passwords == [("cs-admin", NEW)]
    assert NEW not in run.out  # never shown
    assert "Locale [en_US.UTF-8]: " in run.out  # the current value, kept by an empty answer
    sysconfig = root / "etc/sysconfig"
    assert (sysconfig / "i18n").read_text() == 'LANG="en_GB.UTF-8"\nSYSFONT="latarcyrheb-sun16"\n'
    assert (sysconfig / "keyboard").read_text() == (
        'KEYTABLE="uk"\nMODEL="pc105+inet"\nLAYOUT="gb"\nKEYBOARDTYPE="pc"\n')  # fmt: skip
    assert (sysconfig / "clock").read_text() == 'ZONE="Europe/London"\nUTC=true\n'
    assert (sysconfig / "network-scripts/ifcfg-eth0").read_text() == (
        'DEVICE="eth0"\nHWADDR="52:54:00:12:34:56"\nTYPE="Ethernet"\nNM_CONTROLLED="yes"\n'
        'ONBOOT="yes"\nBOOTPROTO="dhcp"\n'
    )
    assert (sysconfig / "network-scripts/ifcfg-lo").read_text() == 'DEVICE="lo"\n'
    for repo in ("cs-email.repo", "cs-media.repo"):  # offline: all disabled
        assert "enabled=0" in (root / "etc/yum.repos.d" / repo).read_text()
    assert not (root / fbc.PENDING).exists()
    assert run.out.rstrip().endswith("Log in again as cs-admin with the new password.")
    # a second start: nothing more to do
    again = Run(root, [])
    assert again.code == 0 and "complete" in again.out and again.passwords == []


def test_empty_answers_keep_the_values_shown(root: Path) -> None:
    run = Run(root, ["", "", "", "", NEW, NEW, ""])
    assert run.code == 0, run.out
    assert 'LANG="en_US.UTF-8"' in (root / "etc/sysconfig/i18n").read_text()
    assert 'ZONE="UTC"' in (root / "etc/sysconfig/clock").read_text()


def test_online_mode_enables_the_online_repositories_only(root: Path) -> None:
    assert Run(root, [*GOOD_ANSWERS[:-1], "online"]).code == 0
    online = (root / "etc/yum.repos.d/cs-email.repo").read_text()
    assert "enabled=1" in online and "enabled=0" not in online
    assert "skip_if_unavailable=1" in online
    assert "enabled=0" in (root / "etc/yum.repos.d/cs-media.repo").read_text()


def test_a_static_address(root: Path) -> None:
    answers = [*GOOD_ANSWERS[:3], "static 192.0.2.10/24 192.0.2.1", *GOOD_ANSWERS[4:]]
    assert Run(root, answers).code == 0
    ifcfg = (root / "etc/sysconfig/network-scripts/ifcfg-eth0").read_text()
    assert 'BOOTPROTO="none"\nIPADDR="192.0.2.10"\nPREFIX="24"\nGATEWAY="192.0.2.1"\n' in ifcfg


@pytest.mark.parametrize(
    ("page", "bad", "why"),
    [
        (0, "xx_YY.UTF-8", "is not one of the choices"),
        (1, "dvorak", "is not one of the choices"),
        (2, "Mars/Olympus", "is not one of the choices"),
        (3, "static 192.0.2.10/24 198.51.100.1", "the gateway must be in the address's network"),
        (3, "static nonsense", "answer dhcp, or static"),
        (5, "sometimes", "is not one of the choices"),
    ],
)
def test_a_refused_answer_shows_the_page_again(root: Path, page: int, bad: str, why: str) -> None:
    answers = list(GOOD_ANSWERS)
    answers.insert(page if page < 5 else 6, bad)
    run = Run(root, answers)
    assert run.code == 0, run.out
    assert "Refused: " in run.out and why in run.out
    title = fbc.TITLES[page]
    assert run.titles().count(title) == 2 and run.titles()[-1] == "Repository Mode"


def test_the_password_page_enforces_the_policy_and_the_retype(root: Path) -> None:
    answers = [*GOOD_ANSWERS[:4], "Pa55word", "Short1!", NEW, "Up-Different-9q", NEW, NEW,
               "offline"]  # fmt: skip
    run = Run(root, answers)
    assert run.code == 0, run.out
    refusals = re.findall(r"Refused: [^\n]*", run.out)  # a pipe echoes no Enter
    assert refusals == [
        "Refused: must not resemble a dictionary word (even with swaps like Pa55word)",
        "Refused: at least 8 characters",
        "Refused: the two passwords differ",
    ]
    assert run.titles().count("cs-admin Password") == 4
    assert run.passwords == [("cs-admin", NEW)]
    for typed in ("Short1!", "Up-Different-9q", NEW):
        assert typed not in run.out


def test_the_guides_default_is_refused_as_the_new_password(root: Path) -> None:
    default = "password"  # installation guide 3.3 (docs/product-facts.md)
    run = Run(root, [*GOOD_ANSWERS[:4], default, NEW, NEW, "offline"])
    assert run.code == 0 and "Refused: " in run.out
    assert run.passwords == [("cs-admin", NEW)]


def test_leaving_midway_changes_nothing(root: Path) -> None:
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    run = Run(root, GOOD_ANSWERS[:5])  # gone at the retype prompt
    assert run.code == 1 and "nothing was changed" in run.out
    assert run.passwords == []
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_a_failed_password_change_keeps_the_console_pending(root: Path) -> None:
    def refuse(user: str, password: str) -> None:
        raise OSError("chpasswd: cannot lock /etc/shadow")

    out = io.StringIO()
    stdin = io.StringIO("".join(a + "\n" for a in GOOD_ANSWERS))
    code = fbc.main(root=root, stdin=stdin, stdout=out, set_password=refuse)
    assert code == 1 and "could not apply" in out.getvalue()
    assert (root / fbc.PENDING).exists()
    assert 'LANG="en_US.UTF-8"' in (root / "etc/sysconfig/i18n").read_text()


def test_a_machine_without_a_network_device(root: Path) -> None:
    (root / "etc/sysconfig/network-scripts/ifcfg-eth0").unlink()
    run = Run(root, GOOD_ANSWERS)
    assert run.code == 0 and "Device: none found" in run.out
    assert sorted(p.name for p in (root / "etc/sysconfig/network-scripts").iterdir()) == [
        "ifcfg-lo"]  # fmt: skip
