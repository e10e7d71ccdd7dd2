"""The sample gateway's First Boot Console on the sample OS itself (chroot): the packages
installed with rpm as the install does, cs-admin with the guide's default password, the
sample's bash, sudo, Python and PAM. cs-admin's login shell runs on a pseudo-terminal, as
getty gives it one; the First Boot Console runs as /etc/profile.d starts it.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_first_boot_console import candidates

from buildiso.render.password import policy_failures
from buildiso.sample.base import CONFLICTING, SampleBase

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot and bind mounts need root"),
]

GUIDE_DEFAULT = "password"  # installation guide 3.3 (docs/product-facts.md)
NEW = "Up-Tq7vKz2mW9x"
PENDING = "var/lib/cs-email/first-boot-pending"


@pytest.fixture(scope="module")
def root(sample_base: SampleBase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed gateway, before its first login (cs-admin as the kickstart makes it)."""
    root = tmp_path_factory.mktemp("gateway")
    root.chmod(0o755)  # "/" as cs-admin sees it
    packages = sorted((sample_base.tree / "Packages").glob("*.rpm"))
    kept = [p for p in packages if not p.name.startswith(tuple(f"{c}-" for c in CONFLICTING))]
    gateway = sorted(sample_base.gateway_rpms.glob("*.rpm"))
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i",
                    "--nosignature", *map(str, kept + gateway)],
                   check=True, capture_output=True)  # fmt: skip
    _chroot(root, "/usr/sbin/useradd", "-m", "cs-admin")
    _chroot(root, "/usr/sbin/chpasswd", stdin=f"cs-admin:{GUIDE_DEFAULT}\n")
    return root


def _chroot(root: Path, *cmd: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["chroot", str(root), *cmd], input=stdin, capture_output=True,
                          text=True, check=False,
                          env={"PATH": "/sbin:/bin:/usr/sbin:/usr/bin", "LANG": "C"})  # fmt: skip
    assert proc.returncode == 0, f"{cmd}: {proc.stdout}\n{proc.stderr}"
    return proc


class Terminal:
    """cs-admin's login shell (``bash -l``) on a pseudo-terminal inside ``root``, with /dev
    and /proc as a booted system has them (sudo needs both)."""

    def __init__(self, root: Path) -> None:
        script = (f"mount --bind /dev {root}/dev && mount -t proc proc {root}/proc && "
                  f"exec chroot --userspec=cs-admin:cs-admin {root} /usr/bin/env -i "
                  "HOME=/home/cs-admin TERM=vt100 /bin/bash -l")  # fmt: skip
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: a mount namespace of its own, then the login shell
            os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                                  "sh", "-c", script])  # fmt: skip
        self.seen = b""

    def wait_for(self, text: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            assert time.monotonic() < deadline, self.seen.decode(errors="replace")[-800:]
            if not self.read(0.5):
                break
        assert text in self.seen, self.seen.decode(errors="replace")[-800:]

    def read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], wait)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the session ended
            return False
        self.seen += data
        return bool(data)

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def ended(self, timeout: float = 20) -> bool:
        """The session ended (its output drained) within ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.read(0.2):
            pass
        while time.monotonic() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.pid = 0
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)


@pytest.fixture
def terminal(root: Path) -> Iterator[Callable[[], Terminal]]:
    terms: list[Terminal] = []

    def make() -> Terminal:
        terms.append(Terminal(root))
        return terms[-1]

    yield make
    for term in terms:
        term.close()


def test_the_first_login_from_the_console_to_the_shell(
    root: Path, terminal: Callable[[], Terminal]
) -> None:
    assert (root / PENDING).exists()  # a fresh install's %post left it
    # Ctrl-C on the first page: the session ends, no shell, nothing changed
    first = terminal()
    first.wait_for(b"page 1 of 6: Locale Configuration")
    first.wait_for(b"Locale [en_US.UTF-8]: ")
    first.type("\x03")
    first.wait_for(b"nothing was changed")
    assert first.ended() and b"$ " not in first.seen.split(b"Locale [")[1]
    assert (root / PENDING).exists()
    # every page answered, on the terminal: a password is never echoed
    second = terminal()
    for prompt, answer in (("Locale [", "de_DE.UTF-8"), ("Keyboard [", "de"),
                           ("Time zone [", "Europe/Berlin"), ("Network [", "dhcp"),
                           ("New cs-admin password: ", "Pa55word"),
                           ("New cs-admin password: ", NEW),
                           ("Retype new cs-admin password: ", NEW),
                           ("Repository mode [", "offline")):  # fmt: skip
        mark = len(second.seen)
        second.wait_for(prompt.encode())
        while second.seen.rfind(prompt.encode()) < mark:
            second.read(0.5)
        second.type(answer)
    second.wait_for(b"First Boot Console complete")
    assert second.ended()
    assert b"Refused: must not resemble a dictionary word" in second.seen
    # the page words its example (Pa55word), never what was typed
    assert NEW.encode() not in second.seen and b"password: Pa55word" not in second.seen
    assert not (root / PENDING).exists()
    assert 'LANG="de_DE.UTF-8"' in (root / "etc/sysconfig/i18n").read_text()
    assert 'ZONE="Europe/Berlin"' in (root / "etc/sysconfig/clock").read_text()
    # PAM set the new password (SHA-512); openssl is the referee
    entry = next(ln for ln in (root / "etc/shadow").read_text().splitlines()
                 if ln.startswith("cs-admin:")).split(":")  # fmt: skip
    salt = entry[1].split("$")[2]
    proc = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=NEW,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert entry[1].startswith("$6$") and proc.stdout.strip() == entry[1]
    assert entry[2] != "0"  # not expired: the console asked
    # the next login: the shell, and sudo runs the Server Console
    third = terminal()
    third.wait_for(b"[cs-admin@")
    third.type("sudo /usr/sbin/cs-console status; exit")
    third.wait_for(b"version: 4.9.0-190")
    assert third.ended() and b"First Boot Console" not in third.seen


def test_its_policy_on_the_samples_python_gives_the_products_verdicts(root: Path) -> None:
    """The program as installed, run by the sample OS's own interpreter."""
    checked = candidates()
    code = (
        "import importlib.machinery, importlib.util, json, sys\n"
        "from pathlib import Path\n"
        "loader = importlib.machinery.SourceFileLoader('fbc', '/usr/sbin/cs-first-boot-console')\n"
        "m = importlib.util.module_from_spec(importlib.util.spec_from_loader('fbc', loader))\n"
        "sys.modules['fbc'] = m\n"
        "loader.exec_module(m)\n"
        "known = m.words(Path('/usr/share/cs-email/password-words.txt'))\n"
        "print(json.dumps([m.policy_failures(c, known) for c in json.load(sys.stdin)]))\n"
    )
    proc = _chroot(root, "/usr/bin/python", "-c", code, stdin=json.dumps(checked))
    verdicts = json.loads(proc.stdout)
    assert len(verdicts) == len(checked)
    differ = [(c, policy_failures(c), v) for c, v in zip(checked, verdicts, strict=True)
              if policy_failures(c) != v]  # fmt: skip
    assert differ == []


def test_an_upgraded_gateway_does_not_ask_again(
    sample_base: SampleBase, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A 4.8 gateway updated to 4.9 was set up under its old release: no First Boot
    Console at its next login (cs-email-core's %post leaves the marker on a fresh install
    only)."""
    root = tmp_path_factory.mktemp("upgraded")
    packages = sorted((sample_base.tree / "Packages").glob("*.rpm"))
    kept = [p for p in packages if not p.name.startswith(tuple(f"{c}-" for c in CONFLICTING))]
    old = sorted(sample_base.gateway_rpms.with_name("gateway-rpms-480").glob("*.rpm"))
    # cs-email-repo-conf is the same in both releases: not updated
    new = sorted(p for p in sample_base.gateway_rpms.glob("*.rpm") if "repo-conf" not in p.name)
    rpm = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--nosignature"]
    subprocess.run([*rpm, "-i", *map(str, kept + old)], check=True, capture_output=True)
    assert not (root / PENDING).exists()
    subprocess.run([*rpm, "-U", *map(str, new)], check=True, capture_output=True)
    assert (root / "usr/sbin/cs-first-boot-console").is_file()
    assert not (root / PENDING).exists()
