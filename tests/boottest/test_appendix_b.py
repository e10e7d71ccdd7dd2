"""The shipped ``appendix-b`` scenario by the real runner against a scripted server whose
network is real: its curl, rpm and yum fetch from the session's repository server
(``boottest/reposerver.py``) at the port the boot-disk step gave its machine
(``VmSpec.forward_port``), so the server's start, what it serves and its stop are tested;
and the checks Appendix B adds, on the outputs RHEL 6's and the sample's tools print.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bootfakes import TIMEOUTS, FakeClock, FakeFactory, FakeGuest, Script, iso_media, plan_for
from test_consolesteps import KEY, RELEASE, FakeShell, _server_install, q

from buildiso.boottest.checks import (
    Facts,
    installed_from_online,
    repos_as_packaged,
    vendor_signature_ok,
)
from buildiso.boottest.inputs import Account, OnlineTree, ServerMedia
from buildiso.boottest.release import RepoDefinition
from buildiso.boottest.results import CellResult
from buildiso.boottest.scenario import Cell
from buildiso.boottest.scenarioreader import load_scenario
from buildiso.config import Firmware, Media
from buildiso.render.profile import Profile

CELL = Cell(Firmware.BIOS, Media.DVD)
HOST = "repo.clearswift.net"
REPO_CONF_RPM = "cs-email-repo-conf-3.6.3-1.x86_64.rpm"
RPM_MAGIC = b"\xed\xab\xee\xdb"
REPOS = (
    RepoDefinition("cs-email", False, f"http://{HOST}/rhel6/gw/os/$basearch/",
                   "/etc/yum.repos.d/cs-email.repo"),
    RepoDefinition("cs-media", False, "file:///media/os/cs-repo", "/etc/yum.repos.d/cs-media.repo"),
)  # fmt: skip
SCENARIO = load_scenario("appendix-b")
GUIDE = [str(c.params["command"]) for c in SCENARIO.steps if c.kind == "type"]


class FakeOnlineServer(FakeShell):
    """The Minimal server's console; its network is the relay QEMU would run: a connection
    to 10.0.2.100:80 goes to 127.0.0.1 at the port its machine was started with."""

    prompt = "[root@localhost ~]# "
    logins = ("Password: ",)

    def __init__(self, log: Path, socket_path: Path, *, port: Callable[[], int],
                 **state: Any) -> None:  # fmt: skip
        self.port = port
        self.installed = {"postfix", "rsyslog", "samba-common"}
        self.rpms: dict[str, str] = {}
        self.origins: dict[str, str] = {}
        self.home: dict[str, bytes] = {}
        self.hosts: dict[str, str] = {}
        self.link = False
        self.keys = ""
        super().__init__(log, socket_path, **state)

    def fetch(self, url: str) -> tuple[int, bytes]:
        """(HTTP status, body); status 0: the guest could not connect at all."""
        host, _, path = url.removeprefix("http://").partition("/")
        if not self.link or self.hosts.get(host) != "10.0.2.100" or not self.port():
            return 0, b""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port()}/{path}") as reply:
                return int(reply.status), reply.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def checksig(self, name: str) -> tuple[str, int]:
        data = self.home.get(name.removeprefix("~/"), b"")
        if not data.startswith(RPM_MAGIC):
            return f"error: {name}: not an rpm package (or package manifest)", 1
        state = "OK" if self.keys == KEY else "NOKEY"
        digest = "OK" if data.endswith(b"signed") else "BAD"
        return (f"{name}:\n    Header V4 RSA/SHA256 Signature, key ID {KEY}: {state}\n"
                f"    Header SHA256 digest: OK\n    Payload SHA256 digest: {digest}\n"
                "    MD5 digest: OK"), 0 if state == digest == "OK" else 1  # fmt: skip

    def answer(self, command: str) -> tuple[str, int]:
        words = command.split()
        if command == "ifup eth0":
            self.link = True
            return "\nDetermining IP information for eth0... done.", 0
        if command == f"echo '10.0.2.100 {HOST}' >> /etc/hosts":
            self.hosts[HOST] = "10.0.2.100"
            return "", 0
        if words[:3] == ["curl", "--get", "--remote-name"]:
            status, body = self.fetch(words[3])
            if status == 0:
                return f"curl: (7) Failed to connect to {HOST} port 80: Connection refused", 7
            self.home[words[3].rsplit("/", 1)[1]] = body  # an error page too: no --fail
            return "100  8778  100  8778    0     0  74405      0 --:--:-- --:--:--", 0
        if words[:2] == ["rpm", "--import"]:
            status, body = self.fetch(words[2])
            if status != 200:
                return (f"curl: (22) The requested URL returned error: {status}\n"
                        f"error: {words[2]}: import read failed(-1)."), 1  # fmt: skip
            self.keys = KEY
            return "", 0
        if words[:3] == ["rpm", "--checksig", "--verbose"]:
            return self.checksig(words[3].replace("*", "3.6.3-1.x86_64"))
        if command == f"rpm -ivh {REPO_CONF_RPM}":
            self.rpms["cs-email-repo-conf"] = "3.6.3-1"
            self.origins["cs-email-repo-conf"] = "System"
            return "   1:cs-email-repo-conf", 0
        if command == "yum remove -y postfix rsyslog samba-common":
            self.installed.clear()
            return "Removed: postfix rsyslog samba-common\nComplete!", 0
        if command == "yum install -y cs-email --enablerepo=cs-*":
            status, _ = self.fetch(f"http://{HOST}/rhel6/gw/os/x86_64/repodata/repomd.xml")
            if status != 200:
                return "Error: Unable to find a match: cs-email", 1
            for name, version in RELEASE.versions.items():
                if name not in ("cs-email-legacy", "cs-email-repo-conf"):
                    self.rpms[name], self.origins[name] = version, "cs-email"
            return "Installed: cs-email-4.9.0-190.x86_64\nComplete!", 0
        if command == q("rpms"):
            return "\n".join(f"{n} {v}" for n, v in sorted(self.rpms.items())), 0
        if command == q("checksig"):
            return self.checksig(f"~/{REPO_CONF_RPM}")
        if command == q("origins"):
            return "Installed Packages\n" + "\n".join(
                f"{n}.x86_64    {self.rpms[n]}    @{o}" for n, o in sorted(self.origins.items())
            ), 0
        if command == q("forbidden"):
            return "\n".join(f"package {n} is not installed" if n not in self.installed
                             else f"{n}-2.6.6-8.el6.x86_64" for n in
                             ("postfix", "rsyslog", "samba-common")), 3  # fmt: skip
        if command == q("repos"):
            return ("repo id     repo name         status\ncs-email    Secure Email  disabled\n"
                    "cs-media    install media  disabled"), 0  # fmt: skip
        if command == q("keys"):
            return self.keys, 0 if self.keys else 1
        return f"-sh: {words[0]}: not found", 127


def _tree(tmp_path: Path, *, key: bool = True) -> OnlineTree:
    root = tmp_path / "EMAIL_490_190.online"
    packages = root / "rhel6/gw/os/x86_64/Packages"
    packages.mkdir(parents=True)
    (packages / REPO_CONF_RPM).write_bytes(RPM_MAGIC + b" cs-email-repo-conf signed")
    (root / "rhel6/gw/os/x86_64/repodata").mkdir()
    (root / "rhel6/gw/os/x86_64/repodata/repomd.xml").write_text("<repomd/>\n")
    if key:
        (root / "it-pub.key").write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    return OnlineTree(name="online", root=root, public_key=key)


def _run(tmp_path: Path, profile: Profile, tree: OnlineTree) -> tuple[CellResult, FakeFactory,
                                                                     FakeOnlineServer]:  # fmt: skip
    clock = FakeClock()
    consoles: list[FakeOnlineServer] = []

    class Machine(FakeGuest):
        def __post_init__(self) -> None:
            super().__post_init__()
            consoles.append(FakeOnlineServer(self.files["console"], self.console_socket,
                                             port=lambda: factory.specs[-1].forward_port))

    booted: Script = [("start", 2.0, "console", "\r\nlocalhost login: ")]
    factory = FakeFactory(clock, {"bios-dvd": _server_install(), "bios-dvd#2": booted},
                          guest_type=Machine)  # fmt: skip
    server = ServerMedia(name="server", dvd=tmp_path / "rhel.iso", kernel=tmp_path / "vmlinuz",
                         initrd=tmp_path / "initrd.img", ks_iso=tmp_path / "ks.iso",
                         account=Account("root", "Bt-Throwaway-9x"))  # fmt: skip
    inputs = {"iso": iso_media(tmp_path, profile, release=RELEASE, signer=KEY, repos=REPOS),
              "server": server, "online": tree}  # fmt: skip
    plan = plan_for(tmp_path, profile, factory, scenario=SCENARIO, inputs=inputs,
                    limits={**TIMEOUTS, "login": 10, "checks": 10})  # fmt: skip
    result = plan.run_cell(CELL, clock=clock, sleep=clock.sleep)
    return result, factory, consoles[-1]


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_appendix_b_as_printed_passes_over_the_sessions_server(
    tmp_path: Path, profile: Profile
) -> None:
    result, factory, console = _run(tmp_path, profile, _tree(tmp_path))
    assert result.passed, result.message
    assert result.name == "bios-dvd-appendix-b"
    assert {c.name: c.ok for c in result.checks} == dict.fromkeys(
        ("gateway-version", "forbidden-absent", "cs-repos-disabled", "vendor-key-imported",
         "vendor-signature-ok", "repos-as-packaged", "installed-from-online"), True)  # fmt: skip
    install, booted = factory.specs
    assert install.forward_port == 0  # the install reaches nothing
    assert booted.forward_port > 0 and _refused(booted.forward_port)  # stopped with the cell
    commands = [c for c in console.typed[2:] if c != "echo BUILDISO-RC=$?"]
    assert commands[: len(GUIDE)] == GUIDE
    log = (Path(result.artifacts) / "repo-server.log").read_text()
    for path in (f"/rhel6/gw/os/x86_64/Packages/{REPO_CONF_RPM}", "/it-pub.key",
                 "/rhel6/gw/os/x86_64/repodata/repomd.xml"):  # fmt: skip
        assert f"GET {path!r} 200" in log, path
    for stage in ("server-boot", "network", "hosts", "step-1", "step-6", "checks"):
        assert result.stage_map[stage].status == "ok", stage


def test_a_tree_without_the_key_fails_rpm_import_with_packages_and_curls_reason(
    tmp_path: Path, profile: Profile
) -> None:
    result, factory, _ = _run(tmp_path, profile, _tree(tmp_path, key=False))
    assert result.failure_class == "packages"
    assert "step-2 `rpm --import http://repo.clearswift.net/it-pub.key` exited 1" in result.message
    assert "curl: (22) The requested URL returned error: 404" in result.message
    assert result.stage_map["step-2"].status == "failed" and "step-3" not in result.stage_map
    assert _refused(factory.specs[-1].forward_port)  # a failed cell stops its server too
    assert "GET '/it-pub.key' 404" in (Path(result.artifacts) / "repo-server.log").read_text()


def test_a_tampered_package_fails_the_guides_checksig_step(tmp_path: Path, profile: Profile
                                                           ) -> None:  # fmt: skip
    tree = _tree(tmp_path)
    rpm = tree.root / "rhel6/gw/os/x86_64/Packages" / REPO_CONF_RPM
    rpm.write_bytes(rpm.read_bytes().replace(b"signed", b"tampered"))
    result, _, _ = _run(tmp_path, profile, tree)
    assert result.failure_class == "packages"
    assert "step-3" in result.message
    assert "exited 1: Payload SHA256 digest: BAD |" in result.message  # rpm's word, not the tail
    assert result.stage_map["step-3"].status == "failed"


def test_a_network_left_down_fails_the_download_with_class_network(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeOnlineServer, "answer", _ifup_fails(FakeOnlineServer.answer))
    result, _, _ = _run(tmp_path, profile, _tree(tmp_path))
    assert result.failure_class == "network"
    assert "network `ifup eth0` exited 1: Determining IP information for eth0... failed." in (
        result.message)


def _ifup_fails(answer: Callable[[FakeOnlineServer, str], tuple[str, int]]
                ) -> Callable[[FakeOnlineServer, str], tuple[str, int]]:  # fmt: skip
    def patched(self: FakeOnlineServer, command: str) -> tuple[str, int]:
        if command == "ifup eth0":
            return "\nDetermining IP information for eth0... failed.", 1
        return answer(self, command)

    return patched


# --- the checks Appendix B adds, on the tools' own words ------------------------------------

RPM_418_OK = f"""\
/root/{REPO_CONF_RPM}:
    Header V4 RSA/SHA256 Signature, key ID {KEY}: OK
    Header SHA256 digest: OK
    Header SHA1 digest: OK
    Payload SHA256 digest: OK
    MD5 digest: OK
"""
RPM_48_OK = f"""\
/root/{REPO_CONF_RPM}:
    Header V4 RSA/SHA1 Signature, key ID {KEY}: OK
    Header SHA1 digest: OK (0123456789abcdef0123456789abcdef01234567)
    MD5 digest: OK (0123456789abcdef0123456789abcdef)
    V4 RSA/SHA1 Signature, key ID {KEY}: OK
"""


def _facts(**now: str) -> Facts:
    return Facts(now=now, before=None, release=RELEASE, signer=KEY, setting=None, repos=REPOS)


@pytest.mark.parametrize(
    ("output", "ok"),
    [(RPM_418_OK, True), (RPM_48_OK, True),
     (RPM_418_OK.replace(f"{KEY}: OK", f"{KEY}: NOKEY"), False),
     (RPM_418_OK.replace(KEY, "0badc0de"), False),  # signed, but by another key
     (RPM_418_OK.replace("Payload SHA256 digest: OK", "Payload SHA256 digest: BAD"), False),
     (f"/root/{REPO_CONF_RPM}:\n    Header SHA256 digest: OK\n    MD5 digest: OK\n", False),
     ("error: open of /root/cs-email-repo-conf-*.rpm failed: No such file or directory", False)],
)  # fmt: skip
def test_vendor_signature_ok_wants_the_vendor_key_and_every_line_ok(output: str, ok: bool
                                                                    ) -> None:  # fmt: skip
    check = vendor_signature_ok(_facts(checksig=output))
    assert check.ok is ok, check.message


@pytest.mark.parametrize(
    ("listing", "ok", "says"),
    [("repo id  repo name  status\ncs-email  online  disabled\ncs-media  media  disabled\n",
      True, "cs-email disabled, cs-media disabled, and so they are"),
     ("cs-email  online  enabled: 5\ncs-media  media  disabled\n", False,
      "{'cs-email': 'enabled'}"),
     ("cs-email  online  disabled\n", False, "{'cs-media': 'not defined'}")],
)  # fmt: skip
def test_repos_as_packaged_compares_with_the_packages_own_definition(
    listing: str, ok: bool, says: str
) -> None:
    check = repos_as_packaged(_facts(repos=listing))
    assert check.ok is ok and says in check.message, check.message


def test_installed_from_online_reads_yums_origin_column() -> None:
    online = ("Installed Packages\ncs-email.x86_64  4.9.0-190  @cs-email\n"
              "cs-email-core.x86_64\n    4.9.0-190  @cs-email\n"  # a wrapped line
              "cs-email-repo-conf.x86_64  3.6.3-1  @System\n"
              "cs-email-syslog.x86_64  4.9.0-190  @cs-email\n"
              "cs-email-web.x86_64  4.9.0-190  @cs-email\n")  # fmt: skip
    assert installed_from_online(_facts(origins=online)).ok
    media = online.replace("@cs-email\ncs-email-repo", "@cs-media\ncs-email-repo")
    check = installed_from_online(_facts(origins=media))
    assert not check.ok and "'cs-email-core': 'cs-media'" in check.message
    check = installed_from_online(_facts(origins="Installed Packages\n"))
    assert not check.ok and "'cs-email': 'not installed'" in check.message
