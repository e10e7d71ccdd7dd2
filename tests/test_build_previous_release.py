"""profiles/email-480.toml: the previous release builds EMAIL_480_150.iso by the same rule,
from the sample's gateway-rpms-480 (the offline upgrade's starting point)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.cli import main
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration


def test_the_previous_release_builds_its_own_iso(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rpms = sample_base.gateway_rpms.with_name("gateway-rpms-480")
    code = main([
        "build", "--profile", str(paths.PROFILES_DIR / "email-480.toml"),
        "--base", str(sample_base.tree), "--gateway-rpms", str(rpms),
        "--gpg-key", str(rpms / "RPM-GPG-KEY-buildiso-sample"), "--key-id", sample_base.key_id,
        "--out", str(tmp_path),
    ])
    assert code == 0
    iso = tmp_path / "EMAIL_480_150.iso"
    assert iso.is_file()
    capsys.readouterr()
    assert main(["inspect", str(iso), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["volume_label"] == "EMAIL480150"
    names = {Path(p).name for p in report["gateway_packages"]}
    assert {"cs-email-4.8.0-150.x86_64.rpm", "cs-email-legacy-4.8.0-150.x86_64.rpm",
            "cs-email-repo-conf-3.6.3-1.x86_64.rpm"} <= names
    assert not any(n.startswith("cs-email-syslog") for n in names)  # added only in 4.9
