#!/usr/bin/python
"""First Boot Console of the buildiso sample gateway: a stand-in for the vendor's, installed
as /usr/sbin/cs-first-boot-console by cs-email-core 4.9 (the sample OS's Python runs it).

Installation guide, section 3.3 (docs/product-facts.md, "After the install"): cs-admin logs
in with the default password and the First Boot Console appears; its pages set the locale,
the keyboard, the time zone, the network, a new cs-admin password and the repository mode.
/etc/profile.d/cs-first-boot-console.sh starts it through sudo, in place of cs-admin's login
shell, while /var/lib/cs-email/first-boot-pending exists (cs-email-core makes it on a fresh
install, not on an upgrade); the session ends with it, so later logins get the shell.

On the console each page is a title line ``First Boot Console - page N of 6: TITLE``, what
may be chosen, and one prompt ending in ``": "`` per answer (an empty answer keeps the value
in brackets). A refused answer prints ``Refused: WHY`` and shows the page again. Passwords
are read with echo off and never printed. Nothing changes until the last page is answered;
then the password first, the other settings, and the marker last. End of input or Ctrl-C
changes nothing: the next login starts again.

The password page enforces the vendor policy (docs/product-facts.md, "Password policy").
The product's own check (buildiso/render/password.py) is not on the installed system, so
this is a second implementation of the same rules with the same messages, and the same word
list (first-boot-words.txt, a copy of buildiso/render/data/words.txt);
tests/sample/test_first_boot_console.py runs both on one list of candidates.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TextIO

ADMIN = "cs-admin"
PENDING = "var/lib/cs-email/first-boot-pending"
WORDS = "usr/share/cs-email/password-words.txt"
SCRIPTS = "etc/sysconfig/network-scripts"
TITLES = ("Locale Configuration", "Keyboard Configuration", "Time Zone",
          "Network Configuration", "cs-admin Password", "Repository Mode")  # fmt: skip
LOCALES = ("en_US.UTF-8", "en_GB.UTF-8", "de_DE.UTF-8", "fr_FR.UTF-8", "es_ES.UTF-8",
           "it_IT.UTF-8", "nl_NL.UTF-8", "ja_JP.UTF-8", "zh_CN.UTF-8")  # fmt: skip
# console keymap -> X layout, as RHEL 6's system-config-keyboard pairs them
KEYBOARDS = {"us": "us", "uk": "gb", "de": "de", "fr": "fr", "es": "es", "it": "it",
             "nl": "nl", "jp106": "jp"}  # fmt: skip
ZONES = ("UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Madrid",
         "America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Tokyo",
         "Asia/Singapore", "Australia/Sydney")  # fmt: skip
MODES = ("offline", "online")
MAX_ANSWER = 256

# -- the vendor password policy (same rules and messages as buildiso/render/password.py) --
MIN_LENGTH = 8
MAX_LENGTH = 128
SEQUENCE = 4
ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
SWAPS: dict[str, tuple[str, ...]] = {
    "0": ("o",), "1": ("i", "l"), "!": ("i", "l"), "|": ("l", "i"), "3": ("e",),
    "4": ("a",), "@": ("a",), "5": ("s",), "$": ("s",), "7": ("t",), "+": ("t",),
    "8": ("b",), "9": ("g",), "6": ("g",), "2": ("z",),
}  # fmt: skip
MAX_READINGS = 256


@cache
def words(path: Path) -> frozenset[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def _kinds(password: str) -> int:
    tests = (str.isupper, str.islower, str.isdigit, lambda c: not c.isalnum())
    return sum(any(test(c) for c in password) for test in tests)


def _sequence(password: str) -> bool:
    text = password.lower()
    for i in range(len(text) - SEQUENCE + 1):
        run = text[i : i + SEQUENCE]
        if len(set(run)) == 1:
            return True
        steps = {ord(b) - ord(a) for a, b in zip(run, run[1:], strict=False)}
        if run.isalnum() and steps in ({1}, {-1}):
            return True
        if any(run in row or run in row[::-1] for row in ROWS):
            return True
    return False


def _readings(text: str) -> set[str]:
    found = {""}
    for char in text.lower():
        found = {r + o for r in found for o in SWAPS.get(char, (char,))}
        if len(found) > MAX_READINGS:
            found = set(sorted(found)[:MAX_READINGS])
    return found


def _like_a_word(password: str, known: frozenset[str]) -> bool:
    for reading in _readings(password) | {password.lower()}:
        letters = re.sub(r"[^a-z]", "", reading)
        core = reading.strip("0123456789!@#$%^&*()_+-=.,;:?~ ")
        if letters in known or core in known:
            return True
        if any(len(w) >= 5 and w in reading for w in known):
            return True
    return False


def policy_failures(password: str, known: frozenset[str]) -> list[str]:
    """The rules ``password`` breaks; empty when it is acceptable. Never shows it."""
    if len(password) > MAX_LENGTH:
        return [f"at most {MAX_LENGTH} characters"]
    failures = []
    if len(password) < MIN_LENGTH:
        failures.append(f"at least {MIN_LENGTH} characters")
    if not password.isprintable():
        failures.append("printable characters only (no newline, tab or control characters)")
    if _kinds(password) < 3:
        failures.append("at least three of: upper case, lower case, digits, symbols")
    if _sequence(password):
        failures.append(f"no sequences of {SEQUENCE} (such as 1234, abcd, qwer or aaaa)")
    if _like_a_word(password, known):
        failures.append("must not resemble a dictionary word (even with swaps like Pa55word)")
    return failures


# -- the console ---------------------------------------------------------------------------


class Aborted(Exception):
    """The person left (end of input, Ctrl-C): nothing is changed."""


class Terminal:
    """Pages and prompts on the login's terminal."""

    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        self.stdin, self.stdout = stdin, stdout

    def say(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def ask(self, prompt: str, *, secret: bool = False) -> str:
        """One answer. A secret's echo is off before its prompt is shown, so nothing the
        person types after the prompt can appear on the screen."""
        hidden = secret and self.stdin.isatty()
        saved = self._echo_off() if hidden else None
        try:
            self.stdout.write(prompt + ": ")
            self.stdout.flush()
            line = self.stdin.readline(MAX_ANSWER + 2)
        finally:
            if saved is not None:
                self._restore(saved)
        if not line:
            raise Aborted("end of input")
        return line.rstrip("\r\n")

    def _echo_off(self) -> Any:
        import termios

        fd = self.stdin.fileno()
        saved = termios.tcgetattr(fd)
        quiet = termios.tcgetattr(fd)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        return saved

    def _restore(self, saved: Any) -> None:
        import termios

        termios.tcsetattr(self.stdin.fileno(), termios.TCSADRAIN, saved)
        self.stdout.write("\n")  # the Enter that was not echoed


@dataclass(frozen=True)
class Network:
    device: str | None  # the first ifcfg device; None: the machine has none
    mode: str  # dhcp | static
    address: str = ""  # ADDRESS/PREFIX
    gateway: str = ""


@dataclass
class Settings:
    locale: str = ""
    keyboard: str = ""
    zone: str = ""
    network: Network | None = None
    password: str = field(default="", repr=False)
    mode: str = ""


def _values(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a sysconfig file (quotes removed); empty when it is missing."""
    found: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep and re.fullmatch(r"[A-Z0-9_]+", key.strip()):
                found[key.strip()] = value.strip().strip('"')
    return found


def _device(root: Path) -> str | None:
    names = sorted(p.name[len("ifcfg-") :] for p in (root / SCRIPTS).glob("ifcfg-*"))
    return next((n for n in names if n != "lo"), None)


class Console:
    """The six pages, asked in order, then applied."""

    def __init__(self, term: Terminal, root: Path) -> None:
        self.term, self.root = term, root
        self.known = words(root / WORDS)

    def header(self, title: str) -> None:
        number = TITLES.index(title) + 1
        self.term.say(f"\nFirst Boot Console - page {number} of {len(TITLES)}: {title}")

    def refuse(self, why: str) -> None:
        self.term.say(f"Refused: {why}")

    def choose(self, title: str, label: str, choices: Sequence[str], current: str) -> str:
        current = current if current in choices else choices[0]
        while True:
            self.header(title)
            self.term.say("Choices: " + " ".join(choices))
            answer = self.term.ask(f"{label} [{current}]").strip() or current
            if answer in choices:
                return answer
            self.refuse(f"{answer[:40]!r} is not one of the choices")

    def network(self) -> Network:
        device = _device(self.root)
        while True:
            self.header("Network Configuration")
            self.term.say(f"Device: {device or 'none found'}")
            self.term.say("Answer dhcp, or static ADDRESS/PREFIX GATEWAY "
                          "(e.g. static 192.0.2.10/24 192.0.2.1)")  # fmt: skip
            answer = self.term.ask("Network [dhcp]").split() or ["dhcp"]
            try:
                return _network(device, answer)
            except ValueError as exc:
                self.refuse(str(exc))

    def password(self) -> str:
        while True:
            self.header("cs-admin Password")
            self.term.say("The new cs-admin password: at least 8 characters, three of upper "
                          "case, lower case, digits and symbols, no sequences such as 1234, "
                          "nothing like a dictionary word (Pa55word is refused).")  # fmt: skip
            first = self.term.ask("New cs-admin password", secret=True)
            failures = policy_failures(first, self.known)
            if failures:
                self.refuse("; ".join(failures))
                continue
            if self.term.ask("Retype new cs-admin password", secret=True) != first:
                self.refuse("the two passwords differ")
                continue
            return first

    def ask_all(self) -> Settings:
        etc = self.root / "etc/sysconfig"
        keyboard = _values(etc / "keyboard").get("KEYTABLE", "us")
        return Settings(
            locale=self.choose(TITLES[0], "Locale", LOCALES,
                               _values(etc / "i18n").get("LANG", "")),
            keyboard=self.choose(TITLES[1], "Keyboard", tuple(KEYBOARDS), keyboard),
            zone=self.choose(TITLES[2], "Time zone", ZONES, _values(etc / "clock").get("ZONE", "")),
            network=self.network(),
            password=self.password(),
            mode=self.choose(TITLES[5], "Repository mode", MODES, "offline"),
        )  # fmt: skip


def _network(device: str | None, words_: list[str]) -> Network:
    if words_ == ["dhcp"]:
        return Network(device, "dhcp")
    if len(words_) == 3 and words_[0] == "static":
        try:
            iface = ipaddress.IPv4Interface(words_[1])
            gateway = ipaddress.IPv4Address(words_[2])
        except ValueError:
            raise ValueError("not an IPv4 ADDRESS/PREFIX and GATEWAY") from None
        if "/" not in words_[1] or gateway not in iface.network:
            raise ValueError("the gateway must be in the address's network (ADDRESS/PREFIX)")
        return Network(device, "static", str(iface), str(gateway))
    raise ValueError("answer dhcp, or static ADDRESS/PREFIX GATEWAY")


# -- applying --------------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _ifcfg(old: dict[str, str], net: Network) -> str:
    drop = {"BOOTPROTO", "ONBOOT", "IPADDR", "PREFIX", "NETMASK", "GATEWAY"}
    values = {k: v for k, v in old.items() if k not in drop}
    values.update({"DEVICE": net.device or "", "ONBOOT": "yes"})
    if net.mode == "dhcp":
        values["BOOTPROTO"] = "dhcp"
    else:
        address, prefix = net.address.split("/")
        values.update({"BOOTPROTO": "none", "IPADDR": address, "PREFIX": prefix,
                       "GATEWAY": net.gateway})  # fmt: skip
    return "".join(f'{k}="{v}"\n' for k, v in values.items())


def _repo_mode(text: str, online: bool) -> str:
    """A cs-*.repo file with its http(s) repositories (the vendor's online ones) enabled
    when online, every repository disabled when offline."""
    out: list[str] = []
    section: list[str] = []

    def flush() -> None:
        remote = any(re.match(r"\s*baseurl\s*=\s*https?://", ln) for ln in section)
        body = [ln for ln in section if not re.match(r"\s*enabled\s*=", ln)]
        if body and body[0].lstrip().startswith("["):
            body.insert(1, f"enabled={1 if online and remote else 0}")
        out.extend(body)
        section.clear()

    for line in text.splitlines():
        if re.match(r"\s*\[.*\]\s*$", line):
            flush()
        section.append(line)
    flush()
    return "\n".join(out) + "\n"


def apply(root: Path, settings: Settings, set_password: Callable[[str, str], None]) -> None:
    """The answers, put into the system: the password first, the pending marker last."""
    set_password(ADMIN, settings.password)
    etc = root / "etc/sysconfig"
    _write(etc / "i18n", f'LANG="{settings.locale}"\nSYSFONT="latarcyrheb-sun16"\n')
    layout = KEYBOARDS[settings.keyboard]
    _write(etc / "keyboard", f'KEYTABLE="{settings.keyboard}"\nMODEL="pc105+inet"\n'
                             f'LAYOUT="{layout}"\nKEYBOARDTYPE="pc"\n')  # fmt: skip
    utc = "UTC=true\n" if _values(etc / "clock").get("UTC", "true") == "true" else ""
    _write(etc / "clock", f'ZONE="{settings.zone}"\n{utc}')
    zoneinfo = root / "usr/share/zoneinfo" / settings.zone
    if zoneinfo.is_file():
        _write(root / "etc/localtime", zoneinfo.read_text(errors="surrogateescape"))
    net = settings.network
    if net is not None and net.device is not None:
        ifcfg = root / SCRIPTS / f"ifcfg-{net.device}"
        _write(ifcfg, _ifcfg(_values(ifcfg), net))
    for repo in sorted((root / "etc/yum.repos.d").glob("cs-*.repo")):
        _write(repo, _repo_mode(repo.read_text(), settings.mode == "online"))
    (root / PENDING).unlink(missing_ok=True)


def chpasswd(user: str, password: str) -> None:
    """Set the password through PAM (SHA-512, /etc/pam.d); never on a command line."""
    subprocess.run(["/usr/sbin/chpasswd"], input=f"{user}:{password}\n", text=True,
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip


def main(
    *,
    root: Path = Path("/"),
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    set_password: Callable[[str, str], None] = chpasswd,
) -> int:
    term = Terminal(stdin, stdout)
    if root == Path("/") and os.geteuid() != 0:
        term.say("cs-first-boot-console: run it as root (cs-admin: sudo)")
        return 2
    if not (root / PENDING).exists():
        term.say("The First Boot Console is complete.")
        return 0
    term.say("Secure Email Gateway - First Boot Console")
    try:
        settings = Console(term, root).ask_all()
    except (Aborted, KeyboardInterrupt):
        term.say("\nFirst Boot Console interrupted: nothing was changed. Log in again to "
                 "start over.")  # fmt: skip
        return 1
    term.say("\nApplying the settings...")
    try:
        apply(root, settings, set_password)
    except (OSError, subprocess.CalledProcessError) as exc:
        term.say(f"First Boot Console: could not apply the settings ({exc}). Log in again "
                 "to start over.")  # fmt: skip
        return 1
    term.say(f"First Boot Console complete. Log in again as {ADMIN} with the new password.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
