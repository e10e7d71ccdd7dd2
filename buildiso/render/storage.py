"""What a kickstart's storage commands guarantee for each mount point, through LVM and RAID.

The product needs separate ``/`` and ``/var`` file systems of at least the installation
guide's minima. They may sit on a partition (``part``), a logical volume (``logvol`` in a
``volgroup``) or a software RAID device (``raid``), and RHEL 6 lets the storage lines come
from a file a ``%pre`` script writes (``%include``). ``mounted_volumes`` parses both — the
command section and the lines a ``%pre`` echoes or writes in a here-document — as RHEL
6's pykickstart reads them (``ks6commands``) and returns, per mount point, the size the
definition *guarantees*:

- a partition guarantees its ``--size``; ``--grow`` may add whatever the disk has left,
  which only the machine knows, so it is not counted;
- a RAID device guarantees what its level makes of its smallest member (RAID 1: one member,
  RAID 0: all, RAID 5: all but one, RAID 6: all but two, RAID 10: half), spares excluded;
- a volume group guarantees the sum of its physical volumes (partitions or RAID devices);
- a logical volume guarantees its ``--size``, or ``--percent`` of its group, plus, with
  ``--grow``, its share of the group's guaranteed space that fixed volumes leave (shared
  in proportion to the growing volumes' base sizes, as anaconda grows them), capped by
  ``--maxsize``;
- ``--recommended`` (a size from the machine's RAM), an existing partition (``--onpart``,
  ``--useexisting``) or a size computed by shell at install time guarantee nothing that can
  be checked here: such a volume has no size, with the reason.
"""

from __future__ import annotations

import re
import shlex
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

STORAGE_COMMANDS = frozenset({"part", "partition", "logvol", "volgroup", "raid"})
MAX_STORAGE_LINES = 1000


def _data_members(level: str, active: int) -> int | None:
    """How many members' worth of data a RAID ``level`` array of ``active`` members holds."""
    counts = {
        "RAID0": active, "RAID1": 1, "RAID4": active - 1, "RAID5": active - 1,
        "RAID6": active - 2, "RAID10": active // 2,
    }  # fmt: skip
    return counts.get(level.upper())


_ECHO = re.compile(r"""\b(?:echo|printf)\s+(?:-[neE]+\s+)*(?:'([^']*)'|"([^"]*)"|([^'"|;&>]+))""")
_HEREDOC = re.compile(r"""<<(-?)\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?""")
_SHELL_VALUE = re.compile(r"\$\([^)]*\)|\$\{?\w+\}?|`[^`]*`")
_SHELL_SIZE = re.compile(r"--(?:size|percent|maxsize)[= ]\S*[$`]")
# Targets a shell line writes: "> f", ">> f", "tee [-a] f", "cp/mv SRC f", "touch f" (an
# empty file a program the %pre runs then fills, as the SSG kickstarts' menu does)
_WRITES = re.compile(
    r"""(?:>>?|\btee\s+(?:-a\s+)?|\btouch\s+(?:-\S+\s+)*|\b(?:cp|mv|install)\s+(?:-\S+\s+)*\S+\s+)\s*['"]?(/[^\s'";|&)]+)"""
)


@dataclass(frozen=True)
class Volume:
    """One mounted file system of the kickstart and the size its definition guarantees."""

    mount: str
    line: int
    kind: str  # "partition", "logical volume vg0/var", "RAID1 device md0"
    size_mb: int | None  # guaranteed size; None when it cannot be known before install
    unknown_why: str = ""  # why size_mb is None
    grows: bool = False  # may end up larger than size_mb (on a bigger disk)

    def describe(self) -> str:
        return f"{self.mount} {self.kind}"


@dataclass(frozen=True)
class _Sized:
    mb: int | None
    why: str = ""
    grows: bool = False


def pre_written_lines(bodies: Iterable[list[tuple[int, str]]]) -> Iterator[tuple[int, str]]:
    """Kickstart lines a ``%pre`` body writes: echoed/printf'ed strings and here-documents."""
    for body in bodies:
        delimiter: str | None = None
        dash = False
        for number, line in body:
            if delimiter is not None:
                if (line.strip() if dash else line) == delimiter:
                    delimiter = None
                else:
                    yield number, line.strip()
                continue
            if line.lstrip().startswith("#"):
                continue
            for match in _ECHO.finditer(line):
                text = next(g for g in match.groups() if g is not None)
                yield number, text.replace("\\n", "").strip()
            heredoc = _HEREDOC.search(line)
            if heredoc is not None:
                dash, delimiter = heredoc.group(1) == "-", heredoc.group(2)


def pre_written_paths(bodies: Iterable[list[tuple[int, str]]]) -> set[str]:
    """Files a ``%pre`` body writes (redirections, tee, cp/mv/install targets)."""
    found: set[str] = set()
    for body in bodies:
        for _, line in body:
            if not line.lstrip().startswith("#"):
                found.update(m.group(1) for m in _WRITES.finditer(line))
    return found


def _shell_name(match: re.Match[str]) -> str:
    """The same shell value always stands for the same word ($d1 -> sh_d1)."""
    return "sh_" + re.sub(r"\W", "", match.group(0))


def _is_storage(text: str) -> bool:
    return text.split(None, 1)[0] in STORAGE_COMMANDS if text.strip() else False


def mounted_volumes(
    commands: list[tuple[int, str]], pre_bodies: list[list[tuple[int, str]]]
) -> list[Volume]:
    """Every file system the storage lines (command section and %pre-written) mount."""
    lines = [(n, t) for n, t in commands if _is_storage(t)]
    computed: list[tuple[int, str]] = []  # sizes the shell computes at install time
    for number, text in pre_written_lines(pre_bodies):
        if not _is_storage(text):
            continue
        words = text.split()
        name = words[1] if len(words) > 1 else ""
        if _SHELL_SIZE.search(text) or (
            _SHELL_VALUE.search(name) and not name.startswith(("raid.", "pv."))
        ):
            computed.append((number, text))
        else:  # e.g. --ondisk=$disk, raid.1.$disk: the size does not depend on the value
            lines.append((number, _SHELL_VALUE.sub(_shell_name, text)))
    handler = _parse(lines)
    volumes = _volumes(handler)
    for number, text in computed:
        words = text.split()
        if len(words) > 1 and not words[1].startswith("-") and words[0] != "volgroup":
            why = "its size is computed by the %pre shell at install time"
            volumes.append(Volume(words[1], number, _kind_of(words), None, why))
    return sorted(volumes, key=lambda v: (v.line, v.mount))


def _kind_of(words: list[str]) -> str:
    return {"logvol": "logical volume", "raid": "RAID device"}.get(words[0], "partition")


def _parse(lines: list[tuple[int, str]]) -> Any:
    """A RHEL 6 handler holding ``lines``, each kept at its own line number.

    The lines are read as RHEL 6 reads them (``ks6commands``). Their errors are the syntax
    check's to report (it sees the command section; %pre-written lines it cannot see are
    checked for size only): what a line defines is kept, its problems are not.
    """
    from buildiso.render.ks6commands import CommandChecker

    checker = CommandChecker()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicates from alternative %pre branches
        # each one is compared with all before it: bounded, as no real layout comes close
        for number, text in sorted(lines, key=lambda item: item[0])[:MAX_STORAGE_LINES]:
            try:
                words = shlex.split(text, comments=True)
            except ValueError:
                continue
            if words:
                checker.check(number, words, text)
    return checker.handler


def _part_size(part: Any) -> _Sized:
    if part.onPart or getattr(part, "useexisting", False) or not part.format and not part.size:
        return _Sized(None, "it reuses an existing partition (--onpart/--noformat)")
    if part.recommended:
        return _Sized(None, "--recommended sizes it from the machine's RAM")
    if not part.size:
        return _Sized(None, "it has no --size")
    return _Sized(part.size, grows=bool(part.grow))


def _raid_size(raid: Any, members: dict[str, _Sized]) -> _Sized:
    if raid.preexist:
        return _Sized(None, "it reuses an existing array (--useexisting)")
    sizes = [members.get(m, _Sized(None, f"member {m} is not defined")) for m in raid.members]
    active = len(sizes) - int(raid.spares or 0)
    count = _data_members(str(raid.level), active)
    if count is None or active < 1 or count < 1:
        return _Sized(None, f"level {raid.level} with {active} active member(s) has no size")
    unknown = next((s for s in sizes if s.mb is None), None)
    if unknown is not None:
        return _Sized(None, f"a member has no known size ({unknown.why})")
    smallest = min(s.mb for s in sizes if s.mb is not None)
    return _Sized(smallest * count, grows=any(s.grows for s in sizes))


def _volumes(handler: Any) -> list[Volume]:
    volumes: list[Volume] = []
    containers: dict[str, _Sized] = {}  # raid.NN / pv.NN name -> guaranteed size
    for part in handler.partition.partitions:
        size = _part_size(part)
        if part.mountpoint.startswith(("raid.", "pv.")):
            containers[part.mountpoint] = size
        elif part.mountpoint:
            volumes.append(Volume(part.mountpoint, part.lineno, "partition", size.mb,
                                  size.why, size.grows))  # fmt: skip
    for raid in handler.raid.raidList:
        size = _raid_size(raid, containers)
        kind = f"{str(raid.level).upper()} device md{raid.device}"
        if raid.mountpoint.startswith("pv."):
            containers[raid.mountpoint] = size
        elif raid.mountpoint:
            volumes.append(Volume(raid.mountpoint, raid.lineno, kind, size.mb, size.why,
                                  size.grows))  # fmt: skip
    groups = {vg.vgname: _group_size(vg, containers) for vg in handler.volgroup.vgList}
    lvs_by_group: dict[str, list[Any]] = {}
    for lv in handler.logvol.lvList:
        lvs_by_group.setdefault(lv.vgname, []).append(lv)
    for name, lvs in lvs_by_group.items():
        group = groups.get(name, _Sized(None, f"volume group {name} is not defined"))
        for lv, size in zip(lvs, _lv_sizes(lvs, group), strict=True):
            if lv.mountpoint and lv.mountpoint != "none":
                volumes.append(Volume(lv.mountpoint, lv.lineno, f"logical volume {name}/{lv.name}",
                                      size.mb, size.why, size.grows))  # fmt: skip
    return volumes


def _group_size(vg: Any, containers: dict[str, _Sized]) -> _Sized:
    if vg.preexist:
        return _Sized(None, f"volume group {vg.vgname} already exists (--useexisting)")
    sizes = [containers.get(p, _Sized(None, f"physical volume {p} is not defined"))
             for p in vg.physvols]  # fmt: skip
    if not sizes:
        return _Sized(None, f"volume group {vg.vgname} has no physical volumes")
    unknown = next((s for s in sizes if s.mb is None), None)
    if unknown is not None:
        return _Sized(None, f"a physical volume of {vg.vgname} has no known size ({unknown.why})")
    return _Sized(sum(s.mb for s in sizes if s.mb is not None), grows=any(s.grows for s in sizes))


def _lv_sizes(lvs: list[Any], group: _Sized) -> list[_Sized]:
    """Guaranteed size of each logical volume of one group, in order."""
    bases: list[_Sized] = []
    for lv in lvs:
        if lv.preexist:
            bases.append(_Sized(None, "it reuses an existing logical volume (--useexisting)"))
        elif lv.recommended:
            bases.append(_Sized(None, "--recommended sizes it from the machine's RAM"))
        elif lv.percent:
            if group.mb is None:
                why = f"--percent of a group without a known size: {group.why}"
                bases.append(_Sized(None, why))
            else:
                bases.append(_Sized(group.mb * int(lv.percent) // 100, grows=group.grows))
        elif lv.size:
            bases.append(_Sized(int(lv.size)))
        elif lv.grow:
            bases.append(_Sized(0))
        else:
            bases.append(_Sized(None, "it has no --size"))
    if group.mb is None:
        return [b if b.mb is None or not lv.grow else _Sized(b.mb, grows=True)
                for lv, b in zip(lvs, bases, strict=True)]  # fmt: skip
    used = sum(b.mb for b in bases if b.mb is not None)
    free = max(group.mb - used, 0)
    growing = [i for i, lv in enumerate(lvs) if lv.grow and bases[i].mb is not None]
    weight = sum(bases[i].mb or 0 for i in growing)
    out = list(bases)
    for i in growing:
        base = bases[i].mb or 0
        share = free * base // weight if weight else free // len(growing)
        size = base + share
        cap = int(lvs[i].maxSizeMB or 0)
        out[i] = _Sized(min(size, cap) if cap else size, grows=group.grows)
    return out
