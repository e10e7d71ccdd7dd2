"""The sample OS's /usr/sbin/lokkit (buildiso/sample/sources/lokkit/lokkit.py).

Expected files are written by hand from RHEL 6's system-config-firewall 1.2.27-7.2.el6_6
(fw_iptables.py ``iptablesClass.write``, fw_sysconfig.py ``write_sysconfig_config``, the
spec's ipv6-dhcp patch; docs/anaconda13-firewall.md), never from this lokkit's output.
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
        (["--selinux=permissive"], "option --selinux is not implemented"),
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
