"""comps.py: RHEL 6 comps groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso import paths
from buildiso.compose.comps import load_comps
from buildiso.errors import InputError

GATEWAY_COMPS = paths.COMPS_DIR / "cs-email-comps.xml"

RHEL6_COMPS = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>core</id>
    <name>Core</name>
    <name xml:lang="de">Kern</name>
    <default>true</default>
    <uservisible>false</uservisible>
    <packagelist>
      <packagereq type="mandatory">bash</packagereq>
      <packagereq type="default">rsyslog</packagereq>
      <packagereq type="optional">tboot</packagereq>
      <packagereq type="conditional" requires="samba-common">samba-winbind</packagereq>
    </packagelist>
  </group>
  <group>
    <id>base</id>
    <name>Base</name>
    <packagelist>
      <packagereq>postfix</packagereq>
    </packagelist>
  </group>
  <category>
    <id>base-system</id>
    <name>Base System</name>
    <grouplist><groupid>core</groupid></grouplist>
  </category>
</comps>
"""


def test_load_comps(tmp_path: Path) -> None:
    path = tmp_path / "comps.xml"
    path.write_text(RHEL6_COMPS)
    groups = load_comps(path)
    assert sorted(groups) == ["base", "core"]
    core = groups["core"]
    assert core.name == "Core"
    assert (core.mandatory, core.default, core.optional) == (("bash",), ("rsyslog",), ("tboot",))
    assert core.conditional == (("samba-winbind", "samba-common"),)
    assert groups["base"].mandatory == ("postfix",)  # type defaults to mandatory
    assert (core.is_default, groups["base"].is_default) == (True, False)  # no <default>: false
    gateway = load_comps(GATEWAY_COMPS)["cs-email"]
    assert "cs-email" in gateway.mandatory


def test_load_comps_errors(tmp_path: Path) -> None:
    path = tmp_path / "comps.xml"
    path.write_text("<comps><group><id>x</id>")
    with pytest.raises(InputError, match="comps.xml: comps is not valid XML"):
        load_comps(path)
    path.write_text('<comps><group><id>x</id><packagelist><packagereq type="maybe">a'
                    "</packagereq></packagelist></group></comps>")  # fmt: skip
    with pytest.raises(InputError, match="unknown packagereq type 'maybe'"):
        load_comps(path)
