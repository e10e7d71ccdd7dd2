"""Second hostile audit, N15 and N16: the profile reader bounds what it reads.

N15: an unbounded ``[firewall] ports`` list (every port, tcp and udp) rendered a 1.3 MB
ks.cfg that ``buildiso validate`` itself refuses. Now every list of the profile has a
maximum, named in a one-line error, and a profile with every list at its maximum renders a
kickstart that ``validate`` accepts.
N16: a 6 KB profile holding a 1000-deep array gave a ``RecursionError`` traceback. Now the
nesting depth is checked before the TOML parser recurses: one line, exit 2. The file's size
is bounded too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.cli import main

PORTS = re.compile(r"ports = \[.*?\]\n", re.DOTALL)


def _profile(tmp: Path, ports_toml: str) -> Path:
    text = paths.DEFAULT_PROFILE.read_text()
    assert PORTS.search(text)
    path = tmp / "profile.toml"
    path.write_text(PORTS.sub(lambda _m: f"ports = {ports_toml}\n", text, count=1))
    return path


def _render(profile: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["render", "--profile", str(profile), "--out", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize(
    ("protos", "count", "message"),
    [
        (("tcp",), 2000, "firewall.ports: 2000 entries (allowed: at most 128)"),
        (("tcp", "udp"), 65535, "larger than 256 KiB: not a profile"),  # every port: 1.4 MB
    ],
    ids=["2000-ports", "every-port"],
)
def test_too_many_ports_is_one_line(
    protos: tuple[str, ...], count: int, message: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    listed = [f'"{n}/{proto}"' for n in range(1, count + 1) for proto in protos]
    code, err = _render(_profile(tmp_path, f"[{', '.join(listed)}]"), tmp_path / "r", capsys)
    assert code == 2
    (line,) = err.splitlines()
    assert message in line
    assert not (tmp_path / "r").exists()


def test_longest_lists_render_a_kickstart_validate_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from buildiso.render.profilereader import MAX_LIST

    ports = [f'"{n}/tcp"' for n in range(1000, 1000 + MAX_LIST)]
    profile = _profile(tmp_path, f"[{', '.join(ports)}]")
    text = profile.read_text()
    extra = ", ".join(f'"cs-extra-{i:03d}-{"x" * 80}"' for i in range(MAX_LIST - 1))
    text = text.replace('install = ["cs-email"]', f'install = ["cs-email", {extra}]')
    profile.write_text(text)
    code, err = _render(profile, tmp_path / "r", capsys)
    assert code == 0, err
    ks = tmp_path / "r" / "ks.cfg"
    assert main(["validate", str(ks), "--profile", str(profile)]) == 0
    assert "--port=1000:tcp," in ks.read_text()


@pytest.mark.parametrize(
    "nested",
    ["[" * 1000 + "]" * 1000, "{a = " * 1000 + "1" + "}" * 1000],
    ids=["array", "inline-table"],
)
def test_deep_nesting_is_one_line(
    nested: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = _profile(tmp_path, nested)
    assert len(profile.read_bytes()) < 10_000
    code, err = _render(profile, tmp_path / "r", capsys)
    assert code == 2
    (line,) = err.splitlines()
    assert f"{profile}: line " in line and "nested deeper than" in line


def test_nesting_inside_strings_and_comments_is_not_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    brackets = "[" * 200
    profile = _profile(tmp_path, '["22/tcp"]  # ' + brackets)
    text = profile.read_text().replace(
        'description = "test and demo installs"', f"description = 'test{brackets}'\n# {brackets}"
    )
    profile.write_text(text)
    code, err = _render(profile, tmp_path / "r", capsys)
    assert code == 2  # the description's pattern refuses the brackets: read, not a depth error
    assert "variants.test.description" in err and "nested deeper" not in err


def test_huge_profile_is_refused_unread(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = _profile(tmp_path, '["22/tcp"]')
    with profile.open("a") as f:
        f.write("# padding\n" * 200_000)
    code, err = _render(profile, tmp_path / "r", capsys)
    assert code == 2
    (line,) = err.splitlines()
    assert "larger than" in line and str(profile) in line
