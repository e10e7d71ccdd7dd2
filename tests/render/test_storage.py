"""buildiso.render.storage: the size each storage definition guarantees, per mount point."""

from __future__ import annotations

import pytest

from buildiso.render.storage import mounted_volumes, pre_written_lines, pre_written_paths


def _sizes(text: str) -> dict[str, int | None]:
    commands = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    return {v.mount: v.size_mb for v in mounted_volumes(commands, [])}


@pytest.mark.parametrize(
    ("level", "members", "expected"),
    [("1", 2, 1000), ("0", 2, 2000), ("5", 3, 2000), ("6", 4, 2000), ("10", 4, 2000)],
)
def test_raid_level_guarantees(level: str, members: int, expected: int) -> None:
    parts = "\n".join(f"part raid.0{i} --size={1000 + i}" for i in range(members))
    names = " ".join(f"raid.0{i}" for i in range(members))
    assert _sizes(f"{parts}\nraid /var --level={level} --device=md0 {names}") == {"/var": expected}


def test_raid_spares_do_not_count() -> None:
    text = "part raid.01 --size=100\npart raid.02 --size=100\npart raid.03 --size=100\n"
    text += "raid /var --level=5 --device=md0 --spares=1 raid.01 raid.02 raid.03"
    assert _sizes(text) == {"/var": 100}


def test_growing_volumes_share_the_rest_in_proportion_and_respect_maxsize() -> None:
    text = """part pv.01 --size=10000
volgroup vg pv.01
logvol / --vgname=vg --name=root --size=1000
logvol /var --vgname=vg --name=var --size=2000 --grow
logvol /srv --vgname=vg --name=srv --size=1000 --grow
logvol /opt --vgname=vg --name=opt --size=1000 --grow --maxsize=1500"""
    # free = 10000 - 5000 = 5000, shared 2:1:1 among the growing ones; /opt capped
    assert _sizes(text) == {"/": 1000, "/var": 4500, "/srv": 2250, "/opt": 1500}


def test_growing_partition_guarantees_only_its_size() -> None:
    sizes = _sizes("part /var --size=500 --grow\npart swap --recommended\npart /x")
    assert sizes == {"/var": 500, "swap": None, "/x": None}


def test_pre_written_lines_and_paths() -> None:
    body = [
        (5, "cat > /tmp/a.ks <<-EOT"),
        (6, "\tpart / --size=1"),
        (7, "\tEOT"),
        (8, "echo 'part /var --size=2' | tee -a /tmp/b.ks"),
        (9, "# echo 'part /c --size=3' > /tmp/c.ks"),
        (10, 'printf "logvol x\\n" >> /tmp/d.ks'),
    ]
    assert list(pre_written_lines([body])) == [
        (6, "part / --size=1"),
        (8, "part /var --size=2"),
        (10, "logvol x"),
    ]
    assert pre_written_paths([body]) == {"/tmp/a.ks", "/tmp/b.ks", "/tmp/d.ks"}
