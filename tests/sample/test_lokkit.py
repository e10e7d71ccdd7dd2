"""The sample OS's /usr/sbin/lokkit (buildiso/sample/sources/lokkit/lokkit.py).

Expected files are written by hand from RHEL 6's system-config-firewall 1.2.27-7.2.el6_6
(fw_iptables.py ``iptablesClass.write``, fw_sysconfig.py ``write_sysconfig_config``,
fw_selinux.py ``write``, the spec's ipv6-dhcp patch; docs/anaconda13-firewall.md), never
from this lokkit's output.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from buildiso import paths
from buildiso.config import Variant
from buildiso.render.profile import load_profile
from buildiso.sample.rpmbuild import SOURCES_DIR

DATA = Path(__file__).parents[1] / "data" / "lokkit"
SCRIPT = SOURCES_DIR / "lokkit" / "lokkit.py"
IPTABLES = "etc/sysconfig/iptables"
IP6TABLES = "etc/sysconfig/ip6tables"
SAVED = "etc/sysconfig/system-config-firewall"
SE_CONFIG = "etc/selinux/config"
# what the sample's selinux-policy package leaves (its %post, as RHEL 6's selinux-policy)
POLICY_DEFAULT = "# SELinux\nSELINUX=enforcing\nSELINUXTYPE=targeted \n"
ANACONDA_SELINUX = ["--quiet", "--nostart", "--selinux=permissive"]  # security.py write()


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_lokkit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_lokkit"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


lokkit = _load()


def _root(tmp_path: Path) -> Path:
    (tmp_path / "etc/sysconfig").mkdir(parents=True)
    return tmp_path


def _product_args() -> list[str]:
    """What anaconda passes for the product kickstart's firewall line (22:tcp is a port,
    so no --service=ssh)."""
    ports = load_profile(paths.DEFAULT_PROFILE, Variant.TEST).firewall.ports
    return ["--quiet", "--nostart", "-f", *(f"--port={p}" for p in ports)]


def test_product_firewall_in_rhel_6_format(tmp_path: Path) -> None:
    root = _root(tmp_path)
    assert lokkit.main(_product_args(), root=root) == 0
    assert (root / IPTABLES).read_text() == (DATA / "product.iptables").read_text()
    assert (root / IP6TABLES).read_text() == (DATA / "product.ip6tables").read_text()
    assert (root / SAVED).read_text() == (DATA / "product.lokkit-sysconfig").read_text()
    for rel in (IPTABLES, IP6TABLES, SAVED):
        assert (root / rel).stat().st_mode & 0o777 == 0o600, rel


def test_services_and_trusted_interfaces(tmp_path: Path) -> None:
    root = _root(tmp_path)
    args = ["--quiet", "--nostart", "-f", "--service=ssh", "--trust=eth1", "--port=8000-8010:tcp",
            "--service=mdns", "--service=ipsec", "--service=ssh", "--port=8010-8000:tcp"]
    assert lokkit.main(args, root=root) == 0
    head = ["# Firewall configuration written by system-config-firewall",
            "# Manual customization of this file is not recommended.", "*filter",
            ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
            "-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT"]
    assert (root / IPTABLES).read_text().splitlines() == [
        *head, "-A INPUT -p icmp -j ACCEPT", "-A INPUT -i lo -j ACCEPT",
        "-A INPUT -i eth1 -j ACCEPT",
        "-A INPUT -m state --state NEW -m tcp -p tcp --dport 22 -j ACCEPT",
        "-A INPUT -m state --state NEW -m udp -p udp --dport 5353 -d 224.0.0.251 -j ACCEPT",
        "-A INPUT -p ah -j ACCEPT", "-A INPUT -p esp -j ACCEPT",
        "-A INPUT -m state --state NEW -m udp -p udp --dport 500 -j ACCEPT",
        "-A INPUT -m state --state NEW -m tcp -p tcp --dport 8000:8010 -j ACCEPT",
        "-A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT",
        "-A FORWARD -p icmp -j ACCEPT", "-A FORWARD -i lo -j ACCEPT",
        "-A FORWARD -i eth1 -j ACCEPT",
        "-A INPUT -j REJECT --reject-with icmp-host-prohibited",
        "-A FORWARD -j REJECT --reject-with icmp-host-prohibited", "COMMIT",
    ]  # fmt: skip
    assert (root / IP6TABLES).read_text().splitlines() == [
        *head, "-A INPUT -p ipv6-icmp -j ACCEPT", "-A INPUT -i lo -j ACCEPT",
        "-A INPUT -m state --state NEW -m udp -p udp --dport 546 -d fe80::/64 -j ACCEPT",
        "-A INPUT -i eth1 -j ACCEPT",
        "-A INPUT -m state --state NEW -m tcp -p tcp --dport 22 -j ACCEPT",
        "-A INPUT -m state --state NEW -m udp -p udp --dport 5353 -d ff02::fb -j ACCEPT",
        "-A INPUT -m ipv6header --header ah -j ACCEPT",
        "-A INPUT -m ipv6header --header esp -j ACCEPT",
        "-A INPUT -m state --state NEW -m udp -p udp --dport 500 -j ACCEPT",
        "-A INPUT -m state --state NEW -m tcp -p tcp --dport 8000:8010 -j ACCEPT",
        "-A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT",
        "-A FORWARD -p ipv6-icmp -j ACCEPT", "-A FORWARD -i lo -j ACCEPT",
        "-A FORWARD -i eth1 -j ACCEPT",
        "-A INPUT -j REJECT --reject-with icmp6-adm-prohibited",
        "-A FORWARD -j REJECT --reject-with icmp6-adm-prohibited", "COMMIT",
    ]  # fmt: skip
    assert (root / SAVED).read_text().splitlines()[2:] == [
        "--enabled", "--trust=eth1", "--port=8000-8010:tcp", "--service=ssh", "--service=mdns",
        "--service=ipsec",
    ]  # fmt: skip


def test_disabled_removes_the_rules_and_keeps_old_copies(tmp_path: Path) -> None:
    root = _root(tmp_path)
    assert lokkit.main(_product_args(), root=root) == 0
    assert lokkit.main(["--quiet", "--nostart", "-f", "--disabled"], root=root) == 0
    assert not (root / IPTABLES).exists() and not (root / IP6TABLES).exists()
    assert (root / SAVED).read_text().splitlines()[2:] == ["--disabled"]
    assert (root / f"{SAVED}.old").read_text() == (DATA / "product.lokkit-sysconfig").read_text()


def test_without_f_the_saved_configuration_is_changed(tmp_path: Path) -> None:
    root = _root(tmp_path)
    assert lokkit.main(["-qnf", "--port=25:tcp"], root=root) == 0
    assert lokkit.main(["-q", "-n", "--service=https"], root=root) == 0
    rules = (root / IPTABLES).read_text()
    assert "--dport 25 " in rules and "--dport 443 " in rules
    assert (root / f"{IPTABLES}.old").read_text().count("--dport") == 1
    assert lokkit.main(["-qnf", "--service=https"], root=root) == 0  # -f: 25 is gone
    assert "--dport 25 " not in (root / IPTABLES).read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--masq=eth0"], "option --masq is not implemented"),
        (["--forward-port=if=eth0:port=80:proto=tcp:toport=8080"], "--forward-port is not impl"),
        (["--selinuxtype=mls"], "option --selinuxtype is not implemented"),
        (["--selinux=relaxed"], "option --selinux: invalid choice: 'relaxed'"),
        (["--block-icmp=echo-request"], "--block-icmp is not implemented"),
        (["-m", "eth0"], "option -m is not implemented"),
        (["--service=telnet"], "invalid service 'telnet'"),  # not among RHEL 6's services
        (["--port=22:sctp"], "sctp is not a valid protocol"),
        (["--port=70000:tcp"], "invalid port definition 70000"),
        (["--port=22"], "invalid port definition 22."),
        (["--trust=eth0:1"], "invalid interface 'eth0:1'"),
        (["--bogus"], "no such option: --bogus"),
        (["--enabled=yes"], "--enabled option does not take a value"),
        (["--port"], "--port option requires an argument"),
    ],
)
def test_refused_options_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    root = _root(tmp_path)
    assert lokkit.main(["--quiet", "--nostart", "-f", *args], root=root) == 2
    assert message in capsys.readouterr().err
    assert list((root / "etc/sysconfig").iterdir()) == []


def test_activating_the_rules_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _root(tmp_path)
    assert lokkit.main(["--quiet", "-f", "--port=22:tcp"], root=root) == 2
    assert "use --nostart" in capsys.readouterr().err
    assert list((root / "etc/sysconfig").iterdir()) == []


def test_saved_configuration_with_an_unknown_option_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _root(tmp_path)
    (root / SAVED).write_text("--enabled\n--masq=eth0\n")
    assert lokkit.main(["-qn", "--port=22:tcp"], root=root) == 2
    assert "/etc/sysconfig/system-config-firewall: option --masq" in capsys.readouterr().err
    assert not (root / IPTABLES).exists()


def test_no_arguments_prints_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert lokkit.main([], root=tmp_path) == 0
    assert "usage: lokkit" in capsys.readouterr().out


def _settings(root: Path) -> list[str]:
    return [ln for ln in (root / SE_CONFIG).read_text().splitlines() if not ln.startswith("#")]


def _with_policy(tmp_path: Path) -> Path:
    root = _root(tmp_path)
    (root / "etc/selinux").mkdir()
    (root / SE_CONFIG).write_text(POLICY_DEFAULT)
    return root


def test_anacondas_two_calls_firewall_then_selinux(tmp_path: Path) -> None:
    """anaconda runs lokkit -f for the firewall, rewrites system-config-firewall itself,
    then runs lokkit --selinux without -f: that second call also rewrites the firewall files
    from the saved configuration (its --quiet and --nostart are not --selinux words)."""
    root = _with_policy(tmp_path)
    assert lokkit.main(_product_args(), root=root) == 0
    (root / SAVED).write_text((DATA / "product.anaconda-sysconfig").read_text())
    assert lokkit.main(ANACONDA_SELINUX, root=root) == 0
    assert (root / SE_CONFIG).read_text() == (DATA / "selinux-permissive.config").read_text()
    assert (root / SE_CONFIG).stat().st_mode & 0o777 == 0o644
    assert (root / IPTABLES).read_text() == (DATA / "product.iptables").read_text()
    assert (root / f"{IPTABLES}.old").read_text() == (DATA / "product.iptables").read_text()
    assert (root / SAVED).read_text() == (DATA / "product.lokkit-sysconfig").read_text()
    assert (root / f"{SAVED}.old").read_text() == (DATA / "product.anaconda-sysconfig").read_text()


def test_selinux_alone_leaves_the_firewall_files(tmp_path: Path) -> None:
    root = _with_policy(tmp_path)
    (root / SE_CONFIG).chmod(0o600)
    assert lokkit.main(["--selinux=disabled"], root=root) == 0
    assert _settings(root) == ["SELINUX=disabled", "SELINUXTYPE=targeted"]
    assert (root / SE_CONFIG).stat().st_mode & 0o777 == 0o600  # opened for writing: kept
    assert sorted(p.name for p in (root / "etc/sysconfig").iterdir()) == []


def test_an_unchanged_mode_leaves_the_packages_file(tmp_path: Path) -> None:
    root = _with_policy(tmp_path)
    assert lokkit.main(["--selinux=enforcing"], root=root) == 0
    assert (root / SE_CONFIG).read_text() == POLICY_DEFAULT
    assert lokkit.main(["-qnf", "--selinux=enforcing"], root=root) == 0  # -f: old file unread
    assert _settings(root) == ["SELINUX=enforcing", "SELINUXTYPE=targeted"]


def test_the_policy_type_is_kept_and_the_old_place_read(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "etc/selinux").mkdir()
    (root / "etc/sysconfig/selinux").write_text("SELINUX=enforcing\nSELINUXTYPE = mls\nX=1=2\n")
    assert lokkit.main(["--selinux=permissive"], root=root) == 0
    assert _settings(root) == ["SELINUX=permissive", "SELINUXTYPE=mls"]


def test_no_selinux_directory_is_exit_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _root(tmp_path)  # no package made /etc/selinux
    (root / SAVED).write_text((DATA / "product.anaconda-sysconfig").read_text())
    assert lokkit.main(ANACONDA_SELINUX, root=root) == 1
    assert "Failed to write selinux configuration." in capsys.readouterr().out
    assert not (root / "etc/selinux").exists()
    assert (root / IPTABLES).read_text() == (DATA / "product.iptables").read_text()


@pytest.mark.parametrize(
    ("saved", "selinux", "message"),
    [
        ("--service=telnet\n", POLICY_DEFAULT, "system-config-firewall: invalid service 'telnet'"),
        ("--quiet\n", POLICY_DEFAULT, "system-config-firewall: no such option: --quiet"),
        ("--port=22:tcp\n", "SELINUX=on\n", "option --selinux: invalid choice: 'on'"),
    ],
)
def test_a_bad_saved_configuration_stops_the_selinux_call_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], saved: str, selinux: str, message: str
) -> None:
    """A kickstart's firewall --telnet: anaconda saves --service=telnet, which the second
    (selinux) call reads back and refuses: the SELinux mode is never written either."""
    root = _with_policy(tmp_path)
    (root / SE_CONFIG).write_text(selinux)
    (root / SAVED).write_text(saved)
    assert lokkit.main(ANACONDA_SELINUX, root=root) == 2
    assert message in capsys.readouterr().err
    assert (root / SE_CONFIG).read_text() == selinux
    assert sorted(p.name for p in (root / "etc/sysconfig").iterdir()) == [
        "system-config-firewall"]
