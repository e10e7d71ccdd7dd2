"""Second hostile audit, the rules behind N13-N16 applied where the build reads: every JSON
it reads back is parsed into bounded values (size, depth, numbers, Unicode) with a one-line
error naming the file; no file is read through a symbolic link nobody named; every input
read has a size bound.

Cases: a manifest given to ``diff`` nested 100,000 deep, with an unbounded number, a
non-finite one or a lone surrogate (before: RecursionError or a traceback at print time);
the hidden rebuild state of an output folder damaged the same ways or replaced by a link
(a rebuild, never a traceback or a read through the link); a gateway RPM folder holding a
link to a package elsewhere; an RPM whose header claims gigabytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hostile.hostile_build import build_refused, copy_rpms, sample_args

from buildiso import boundedjson, publish
from buildiso.cli import main
from buildiso.compose.rpms import read_rpm
from buildiso.errors import InputError
from buildiso.sample.base import SampleBase

HOSTILE_JSON = {
    "deep": '{"schema": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "huge number": '{"schema": 1, "x": ' + "9" * 5000 + "}",
    "infinite": '{"schema": 1, "x": 1e999}',
    "nan": '{"schema": 1, "x": NaN}',
    "lone surrogate": '{"schema": 1, "x": "\\udcff"}',
}


@pytest.mark.parametrize("case", sorted(HOSTILE_JSON))
def test_diff_of_a_hostile_manifest_is_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.manifest.json"
    bad.write_text(HOSTILE_JSON[case])
    assert main(["diff", str(bad), str(bad)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"{bad}:" in line and "Traceback" not in line


def test_bounded_reader_refuses_what_json_would_take(tmp_path: Path) -> None:
    for text in HOSTILE_JSON.values():
        with pytest.raises(InputError):
            boundedjson.loads(text, max_depth=16, source="x")
    assert boundedjson.loads('{"a": [1, 2.5, "\\u00e9"]}', max_depth=2, source="x") == {
        "a": [1, 2.5, "é"]
    }
    big = tmp_path / "big.json"
    big.write_text("[" + "0," * 1000 + "0]")
    with pytest.raises(InputError, match="larger than 100 bytes"):
        boundedjson.load(big, max_bytes=100, max_depth=2)
    link = tmp_path / "link.json"
    link.symlink_to(big)
    with pytest.raises(InputError, match="a symbolic link"):
        boundedjson.load(link, max_bytes=10**6, max_depth=2)
    assert len(boundedjson.load(link, max_bytes=10**6, max_depth=2, follow_symlinks=True)) == 1001


def _outputs(tmp: Path) -> publish.Outputs:
    out = tmp / "out"
    out.mkdir()
    outputs = publish.Outputs(out_dir=out, iso_name="EMAIL_490_190.iso")
    outputs.iso.write_bytes(b"iso")
    outputs.sums.write_text("0  EMAIL_490_190.iso\n")
    outputs.manifest.write_text(json.dumps({"schema": 1, "iso": {"sha256": "0"}}))
    return outputs


@pytest.mark.parametrize("case", sorted(HOSTILE_JSON))
def test_damaged_rebuild_state_means_a_rebuild(case: str, tmp_path: Path) -> None:
    outputs = _outputs(tmp_path)
    outputs.state.write_text(HOSTILE_JSON[case])
    assert publish.previous_build(outputs, fingerprint="f") is None
    assert not outputs.state.exists()  # removed: it vouches for nothing


def test_state_or_manifest_replaced_by_a_link_is_not_followed(tmp_path: Path) -> None:
    outputs = _outputs(tmp_path)
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(outputs.manifest.read_text())
    outputs.manifest.unlink()
    outputs.manifest.symlink_to(elsewhere)
    publish.record_state(state_path=outputs.state, iso_path=outputs.iso,
                         manifest_path=elsewhere, fingerprint="f")  # fmt: skip
    assert publish.previous_build(outputs, fingerprint="f") is None
    assert elsewhere.read_text() == json.dumps({"schema": 1, "iso": {"sha256": "0"}})


@pytest.mark.integration
def test_linked_gateway_rpm_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rpms = copy_rpms(sample_base, tmp_path / "rpms")
    web = next(rpms.glob("cs-email-web-*.rpm"))
    web.unlink()
    web.symlink_to(sample_base.gateway_rpms / web.name)
    error = build_refused(sample_args(sample_base, rpms=rpms), tmp_path / "out", capsys)
    assert f"{web.name}: symbolic link(s), not package files" in error


def test_rpm_header_claiming_gigabytes_is_refused_unread(tmp_path: Path) -> None:
    lead = bytes(96)
    bad = tmp_path / "bad-1.0-1.x86_64.rpm"
    intro = b"\x8e\xad\xe8\x01" + bytes(4) + (16).to_bytes(4, "big") + (2**31).to_bytes(4, "big")
    bad.write_bytes(lead + intro + bytes(64))
    with pytest.raises(InputError, match="signature header claims 16 tags, 2147483648 bytes"):
        read_rpm(bad)
    assert os.path.getsize(bad) < 200
