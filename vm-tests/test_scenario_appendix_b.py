"""``buildiso boot-test --scenario appendix-b`` for real: the installation guide's Appendix B.

A Minimal RHEL 6.10 server is installed from the sample base ISO (no gateway), boots its
disk with a NIC that reaches one place, the online tree ``buildiso build`` wrote beside the
ISO, served by the run on the host's 127.0.0.1 (QEMU's restricted user network, a relay per
connection). root brings the NIC up (``ifup eth0``), names the vendor's host in
/etc/hosts, and types the guide's commands; then rpm and yum on the server are asked what
happened. Both runs go through the CLI and the scenario runner.

1. As printed (the shipped ``appendix-b.toml``): passes; each command on the console as
   typed; the checks ran and passed; the server's log shows the downloads over HTTP.
   With a ``--disk-cache`` folder: it publishes the installed server as ``minimal-server``.
2. A tampered online tree (one byte of cs-email-repo-conf changed), the same
   ``--disk-cache`` (so it starts from the published server, as Appendix A would), and a scenario
   file of the test's own that first proves the guest reaches neither a web server on the
   host's loopback nor the outside: fails at the guide's ``rpm --checksig`` with class
   ``packages`` and rpm's reason.

Measured figures (wall time, per-stage seconds) are printed: ``pytest -s``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from buildiso.boottest.bootproto import strip_ansi
from buildiso.boottest.console import echoed
from buildiso.boottest.reposerver import RepoServer
from buildiso.boottest.scenarioreader import load_scenario
from buildiso.cli import main
from buildiso.compose import online
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.vm

SHIPPED = load_scenario("appendix-b")
TYPED = [str(c.params["command"]) for c in SHIPPED.steps if c.kind == "type"]
REPO_CONF = "cs-email-repo-conf-3.6.3-1.x86_64.rpm"


def _run(capsys: pytest.CaptureFixture[str], iso: Path, base: SampleBase, scenario: str,
         art: Path, *extra: str) -> tuple[int, dict[str, object]]:  # fmt: skip
    capsys.readouterr()
    code = main(["boot-test", str(iso), "--scenario", scenario, "--server-base", str(base.iso),
                 "--artifacts", str(art), *extra])  # fmt: skip
    print("\n" + capsys.readouterr().out)
    (cell,) = json.loads((art / "summary.json").read_text())["cells"]
    print(f"{cell['cell']}: {cell['seconds']:.0f} s; {cell['message']}; load {os.getloadavg()}")
    return code, cell


@pytest.fixture(scope="module")
def disks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("disks")


def test_appendix_b_as_printed_passes(
    built_iso: Path, sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    disks: Path,
) -> None:
    code, result = _run(capsys, built_iso, sample_base, "appendix-b", tmp_path,
                        "--disk-cache", str(disks))  # fmt: skip
    assert code == 0, f"[{result['failure_class']}] {result['message']}"
    disk = result["disk"]
    assert isinstance(disk, dict) and disk["action"] == "published", disk
    assert str(disk["key"]).startswith("minimal-server.bios-dvd.")
    checks = result["checks"]
    assert isinstance(checks, list)
    assert {c["name"]: c["ok"] for c in checks} == dict.fromkeys(
        ("gateway-version", "forbidden-absent", "cs-repos-disabled", "vendor-key-imported",
         "vendor-signature-ok", "repos-as-packaged", "installed-from-online"), True)  # fmt: skip
    art = tmp_path / "bios-dvd-appendix-b"
    console = strip_ansi((art / "appendix-b" / "console.log").read_text())
    at = 0
    for command in TYPED:  # each as typed, in order (the line editor may wrap the echo)
        found = re.compile(r"# " + echoed(command)).search(console, at)
        assert found, f"{command!r} not on the console after offset {at}"
        at = found.end()
    assert "Complete!" in console[at:]  # yum's own last word after the install
    assert re.search(r"Header V4 RSA/SHA256 Signature, key ID [0-9a-f]{8}: OK", console)
    transcript = json.loads((art / "transcript.json").read_text())
    steps = [t for t in transcript if t.get("command") in TYPED]  # notes have no command
    assert [t["command"] for t in steps] == TYPED and all(t["status"] == 0 for t in steps)
    served = (art / "repo-server.log").read_text()
    for path in (f"/{online.REPO_PATH}/Packages/{REPO_CONF}", f"/{online.PUBLIC_KEY_NAME}",
                 f"/{online.REPO_PATH}/repodata/repomd.xml",
                 f"/{online.REPO_PATH}/Packages/cs-email-4.9.0-190.x86_64.rpm"):  # fmt: skip
        assert f"GET {path!r} 200" in served, path
    stages = result["stages"]
    assert isinstance(stages, dict)
    for stage in ("packages", "server-boot", "network", "step-1", "step-6", "checks"):
        assert stages[stage]["status"] == "ok", stage


def test_a_tampered_tree_fails_at_the_guides_checksig_and_nothing_else_is_reached(
    built_iso: Path, sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    disks: Path,
) -> None:
    tree = tmp_path / "tampered.online"
    shutil.copytree(built_iso.with_name(online.folder_name(built_iso.stem)), tree)
    rpm = tree / online.REPO_PATH / "Packages" / REPO_CONF
    data = bytearray(rpm.read_bytes())
    data[-100] ^= 0xFF  # inside the compressed payload: its digest no longer matches
    rpm.write_bytes(bytes(data))
    # The scenario of a test: before the guide, the server tries a web server of the host's
    # 127.0.0.1 (QEMU's user network shows the host's loopback as 10.0.2.2, unless
    # restrict=on) and an outside address; the step passes only if neither answers.
    (tmp_path / "canary").mkdir()
    with RepoServer(tmp_path / "canary", log_path=tmp_path / "canary.log") as canary:
        text = Path(SHIPPED.source).read_text()
        isolated = ('[[steps]]\ndo = "type"\ncommand = "! curl -s --max-time 5 '
                    f'http://10.0.2.2:{canary.port}/ && ! curl -s --max-time 5 '
                    'http://192.0.2.1/"\nstage = "isolated"\nfails = "network"\nlimit = 60\n\n')
        mine = tmp_path / "appendix-b-tampered.toml"
        mine.write_text(text.replace("# The guide's commands, as printed.\n",
                                     isolated + "# The guide's commands, as printed.\n"))
        code, result = _run(capsys, built_iso, sample_base, str(mine), tmp_path / "art",
                            "--online-tree", str(tree), "--disk-cache", str(disks))  # fmt: skip
    assert canary.requests == []  # the host's own web server was never reached
    assert code == 1
    disk = result["disk"]  # the server the first test published: no install this time
    assert isinstance(disk, dict) and disk["action"] == "started-from", disk
    stages = result["stages"]
    assert isinstance(stages, dict) and "packages" not in stages
    assert stages["isolated"]["status"] == "ok"  # neither the host nor the outside answered
    assert result["failure_class"] == "packages", result["message"]
    message = str(result["message"])
    assert "step-3 `rpm --checksig --verbose cs-email-repo-conf-3.6.3-1.x86_64.rpm` exited 1" in (
        message)
    assert re.search(r"digest: BAD|NOT OK", message), message
    assert stages["step-3"]["status"] == "failed" and "step-4" not in stages
