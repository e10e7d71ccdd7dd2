"""Sample installer: the firewall command through the installed system's lokkit, as
anaconda-13.21.263's firewall.py ``Firewall.write()`` does it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from ks_post_runner import post_install_report

from buildiso import paths
from buildiso.boottest.postreport import check_report
from buildiso.config import Variant
from buildiso.render.profile import load_profile
from buildiso.sample.installer.guest import firewall, kickstart

PROFILE = load_profile(paths.DEFAULT_PROFILE, Variant.TEST)
PRODUCT_PORTS = [str(p) for p in PROFILE.firewall.ports]


def _fw(**kw: object) -> SimpleNamespace:
    values: dict[str, object] = {"enabled": True, "trusts": [], "ports": [], "services": []}
    values.update(kw)
    return SimpleNamespace(**values)


def _parsed(tmp_path: Path, line: str) -> object:
    ks = tmp_path / "ks.cfg"
    ks.write_text(f"{line}\n%packages\n@core\n%end\n" if line else "%packages\n@core\n%end\n")
    return kickstart.parse(ks, first_pass=False).firewall


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", ["--service=ssh"]),  # no firewall command: anaconda's default, enabled
        ("firewall --enabled", ["--service=ssh"]),
        ("firewall --disabled --port=22:tcp", ["--disabled"]),
        ("firewall --port=25:tcp,53:udp --trust=eth1",
         ["--service=ssh", "--trust=eth1", "--port=25:tcp", "--port=53:udp"]),
        ("firewall --port=22:tcp,443:tcp", ["--port=22:tcp", "--port=443:tcp"]),
        ("firewall --ssh --http --port=8080", ["--port=8080:tcp", "--service=ssh",
                                               "--service=http"]),
        ("firewall --service=smtp,ssh --port=2525:tcp", ["--port=2525:tcp", "--service=smtp",
                                                        "--service=ssh"]),
    ],
)  # fmt: skip
def test_lokkit_arguments_as_anaconda_builds_them(
    tmp_path: Path, line: str, expected: list[str]
) -> None:
    assert firewall.lokkit_args(_parsed(tmp_path, line)) == [
        "--quiet", "--nostart", "-f", *expected]  # fmt: skip


def test_product_firewall_line(tmp_path: Path) -> None:
    line = f"firewall --enabled --port={','.join(PRODUCT_PORTS)}"
    args = firewall.lokkit_args(_parsed(tmp_path, line))
    assert args == ["--quiet", "--nostart", "-f", *(f"--port={p}" for p in PRODUCT_PORTS)]


class _Runner:
    """Stands in for the chroot: records the command, acts as lokkit would."""

    def __init__(self, *, rules: str = "", code: int = 0, stderr: str = "") -> None:
        self.calls: list[tuple[Path, list[str]]] = []
        self.rules, self.code, self.stderr = rules, code, stderr

    def __call__(self, root: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append((root, argv))
        if self.rules:
            (root / firewall.RULES).write_text(self.rules)
            (root / firewall.SAVED).write_text("# Configuration file for system-config-firewall\n")
            (root / firewall.SAVED).chmod(0o600)
        return subprocess.CompletedProcess(argv, self.code, "", self.stderr)


def _target(tmp_path: Path) -> Path:
    root = tmp_path / "sysimage"
    (root / "etc/sysconfig").mkdir(parents=True)
    return root


def test_lokkit_runs_in_the_target_and_anaconda_rewrites_its_config(tmp_path: Path) -> None:
    root, said = _target(tmp_path), []
    runner = _Runner(rules="*filter\nCOMMIT\n")
    firewall.write(root, _fw(ports=["22:tcp", "25:tcp"]), said.append, run=runner)
    assert runner.calls == [(root, ["/usr/sbin/lokkit", "--quiet", "--nostart", "-f",
                                    "--port=22:tcp", "--port=25:tcp"])]  # fmt: skip
    assert (root / firewall.RULES).read_text() == "*filter\nCOMMIT\n"  # lokkit's, untouched
    saved = root / firewall.SAVED
    assert saved.read_text() == ("# system-config-firewall config written out by anaconda\n\n"
                                 "--port=22:tcp\n--port=25:tcp\n")  # fmt: skip
    assert saved.stat().st_mode & 0o777 == 0o600  # lokkit's mode kept
    assert said == []


def test_lokkit_failing_is_only_logged(tmp_path: Path) -> None:
    root, said = _target(tmp_path), []
    runner = _Runner(code=2, stderr="invalid service 'telnet'.\n")
    firewall.write(root, _fw(services=["telnet"]), said.append, run=runner)
    assert said == ["lokkit: invalid service 'telnet'.", "lokkit exited with status 2"]
    assert not (root / firewall.RULES).exists()
    saved = root / firewall.SAVED  # anaconda writes it whatever lokkit's exit status
    assert saved.read_text().endswith("\n--service=ssh\n--service=telnet\n")
    assert saved.stat().st_mode & 0o777 == 0o644


def test_existing_rules_are_left_alone(tmp_path: Path) -> None:
    root, said = _target(tmp_path), []
    (root / firewall.RULES).write_text("# from a package\n")
    runner = _Runner(rules="never\n")
    firewall.write(root, _fw(ports=["22:tcp"]), said.append, run=runner)
    assert runner.calls == []
    assert (root / firewall.RULES).read_text() == "# from a package\n"
    assert said == ["Error: would have run /usr/sbin/lokkit --quiet --nostart -f --port=22:tcp "
                    "(/etc/sysconfig/iptables exists already)"]  # fmt: skip
    assert (root / firewall.SAVED).is_file()


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_without_lokkit_the_ports_stay_closed_and_the_boot_test_fails(tmp_path: Path) -> None:
    """The real chroot into a target without lokkit: anaconda's error, no rules, and the
    post-install report then shows every Appendix E port closed."""
    root, said = _target(tmp_path), []
    fw = _parsed(tmp_path, f"firewall --enabled --port={','.join(PRODUCT_PORTS)}")
    firewall.write(root, fw, said.append)
    assert len(said) == 1 and said[0].startswith(
        "Error: lokkit run failed: Error running /usr/sbin/lokkit: No such file or directory")
    assert list((root / "etc/sysconfig").iterdir()) == []  # neither rules nor saved config
    report = post_install_report(PROFILE, root, tmp_path)
    assert report["firewall"] == {"tcp": [], "udp": []}
    result = next(r for r in check_report(report, PROFILE) if r.name == "firewall-ports")
    assert not result.ok and "not open: 22/tcp, 25/tcp" in result.message


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_lokkit_without_its_interpreter_is_a_failed_run(tmp_path: Path) -> None:
    root, said = _target(tmp_path), []
    lokkit = root / "usr/sbin/lokkit"
    lokkit.parent.mkdir(parents=True)
    lokkit.write_text("#!/usr/bin/python\n")  # the package without python installed
    lokkit.chmod(0o755)
    firewall.write(root, _fw(ports=["22:tcp"]), said.append)
    assert said[0].startswith("Error: lokkit run failed:")
    assert not (root / firewall.RULES).exists() and not (root / firewall.SAVED).exists()


def _sample_lokkit(root: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """The sample OS's lokkit, run in this process on ``root`` (a chroot stand-in)."""
    import contextlib
    import io
    import sys

    from buildiso.sample.rpmbuild import SOURCES_DIR

    if "sample_lokkit" not in sys.modules:
        import importlib.util

        spec = importlib.util.spec_from_file_location("sample_lokkit",
                                                      SOURCES_DIR / "lokkit" / "lokkit.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["sample_lokkit"] = module
        spec.loader.exec_module(module)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = sys.modules["sample_lokkit"].main(argv[1:], root=root)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def test_telnet_is_a_service_lokkit_refuses_so_nothing_is_configured(tmp_path: Path) -> None:
    """pykickstart 1.74.22 turns the deprecated --telnet into service telnet (pykickstart 3
    refuses the flag); RHEL 6's lokkit refuses that service, and anaconda's second lokkit
    call (selinux) reads it back from the saved configuration and stops too."""
    from buildiso.sample.installer.guest import security

    ks = tmp_path / "ks.cfg"
    ks.write_text("firewall --enabled --telnet --port=22:tcp --ssh\nselinux --permissive\n"
                  "%packages\n@core\n%end\n")  # fmt: skip
    handler = kickstart.parse(ks, first_pass=False)
    assert handler.firewall.services == ["telnet", "ssh"]
    assert firewall.lokkit_args(handler.firewall)[3:] == [
        "--port=22:tcp", "--service=telnet", "--service=ssh"]  # fmt: skip
    root, said = _target(tmp_path), []
    (root / "etc/selinux").mkdir()
    (root / "etc/selinux/config").write_text("SELINUX=enforcing\nSELINUXTYPE=targeted\n")
    firewall.write(root, handler.firewall, said.append, run=_sample_lokkit)
    security.write(root, security.mode(handler.selinux, {}, said.append), said.append,
                   run=_sample_lokkit)  # fmt: skip
    assert not (root / firewall.RULES).exists()
    assert (root / "etc/selinux/config").read_text() == "SELINUX=enforcing\nSELINUXTYPE=targeted\n"
    assert said == ["lokkit: invalid service 'telnet'.", "lokkit exited with status 2",
                    "lokkit: /etc/sysconfig/system-config-firewall: invalid service 'telnet'.",
                    "lokkit exited with status 2"]  # fmt: skip
