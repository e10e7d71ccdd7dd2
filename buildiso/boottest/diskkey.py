"""The key of a published disk: everything that can change a byte of it, taken by content.

``made_from`` (written into the entry, for people to read) holds:

- the disk's name (``publish-disk``'s ``disk``) and the cell (firmware, how media attach);
- the scenario's steps before ``publish-disk``: each step's kind and parameters, a
  parameter naming an input replaced by that input's identity; not the steps' limits,
  stage names or log folders, which change no byte (so two scenarios that make a disk
  the same way share it: Appendix A and B's Minimal server);
- an ISO input's identity: its sha256 (covering its kickstart, installer and packages)
  and the profile it is checked against, without its paths (the menu labels decide the
  entry pressed, the disk layout the disks);
- a server DVD's identity: the DVD's sha256 (the installer it boots) and the sha256 of
  the kickstart the server is installed with (its root password's hash included);
- the machine: accelerator, memory, the size of new disks;
- the tools: ``qemu-system-x86_64`` and ``qemu-img`` (version line and executable's sha256)
  and the firmware files (SeaBIOS, OVMF);
- the boot test's own code (``buildiso/boottest``'s modules and data files) and buildiso's
  version.

Never a path, an mtime or an inode: the same inputs on another runner give the same key.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildiso import __version__, fingerprint
from buildiso.boottest.diskcache import digest_of, sha256_of
from buildiso.boottest.inputs import Inputs, IsoMedia, ServerMedia
from buildiso.boottest.onlinetree import OnlineTree
from buildiso.boottest.qemu import OVMF_CODE, QEMU
from buildiso.boottest.session import RunOptions
from buildiso.boottest.steps import StepCall, StepKind

BOOTTEST = Path(__file__).resolve().parent
# The firmware QEMU's q35 machine runs for BIOS (Debian's package seabios; `-L help` lists
# where QEMU looks).
SEABIOS = Path("/usr/share/seabios/bios-256k.bin")
TOOLS = (QEMU, "qemu-img")


@dataclass(frozen=True)
class DiskKey:
    """A published disk's key: ``DISK.CELL.DIGEST`` (the entry's folder name)."""

    disk: str
    cell: str
    made_from: Mapping[str, Any]

    @property
    def digest(self) -> str:
        return digest_of(self.made_from)

    @property
    def name(self) -> str:
        return f"{self.disk}.{self.cell}.{self.digest}"

    @property
    def short(self) -> str:
        """For people: the name with the digest's first 12 digits."""
        return f"{self.disk}.{self.cell}.{self.digest[:12]}"


@dataclass(frozen=True)
class Environment:
    """What every key of a run shares: the tools and the boot test's code."""

    tools: Mapping[str, Any]
    code: str


def environment() -> Environment:
    """Probe the tools and hash the code (once per run)."""
    tools: dict[str, Any] = {t: fingerprint.tool_identity(t) for t in TOOLS}
    tools["firmware"] = {p.name: sha256_of(p.resolve()) if p.exists() else "absent"
                         for p in (SEABIOS, OVMF_CODE)}  # fmt: skip
    return Environment(tools=tools, code=code_digest())


def code_digest(root: Path = BOOTTEST) -> str:
    """The boot test's modules and data files (its shipped scenarios excepted: the steps
    that make a disk are keyed themselves)."""
    files = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        and p.relative_to(root).parts[0] != "scenarios"
    )  # fmt: skip
    return fingerprint.tree_digest(root, files)


def canonical(value: object) -> Any:
    """``value`` as JSON data, the same for equal content: dataclasses as tables (fields
    holding a path left out: a path is no content), enums by value, sets sorted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not isinstance(getattr(value, f.name), Path)}  # fmt: skip
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted((canonical(v) for v in value), key=repr)
    if isinstance(value, tuple | list):
        return [canonical(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"{type(value).__name__} has no canonical form")


def input_identity(
    item: IsoMedia | ServerMedia | OnlineTree, dvd_sha256: Callable[[Path], str]
) -> Any:
    if isinstance(item, IsoMedia):
        return {"iso_sha256": item.sha256, "profile": canonical(item.profile)}
    if isinstance(item, OnlineTree):  # its metadata names every package's checksum
        return {"online_repomd_sha256": item.repomd_sha256}
    return {"dvd_sha256": dvd_sha256(item.dvd), "kickstart_sha256": item.kickstart_sha256}


def derive(
    *,
    disk: str,
    cell: str,
    steps: Sequence[StepCall],
    kinds: Mapping[str, StepKind],
    inputs: Inputs,
    options: RunOptions,
    env: Environment,
    dvd_sha256: Callable[[Path], str] | None = None,
) -> DiskKey:
    """The key of the disk ``steps`` make on ``cell`` (``steps``: those before publish-disk;
    ``dvd_sha256``: a run's ``file_sha256_cache``, so a DVD is hashed once)."""
    dvd_sha256 = dvd_sha256 or file_sha256_cache()
    made: list[Any] = []
    for call in steps:
        params: dict[str, Any] = {}
        for param in kinds[call.kind].params:
            if not param.keyed:
                continue
            value = call.params[param.name]
            params[param.name] = (input_identity(inputs.items[str(value)], dvd_sha256)
                                  if param.inputs else canonical(value))  # fmt: skip
        made.append({"do": call.kind, **params})
    made_from = {
        "disk": disk,
        "cell": cell,
        "steps": made,
        "machine": {"accel": options.accel.value, "memory_mb": options.memory_mb,
                    "new_disk_mb": options.disk_mb},
        "tools": canonical(env.tools),
        "code": env.code,
        "buildiso": __version__,
    }  # fmt: skip
    return DiskKey(disk=disk, cell=cell, made_from=made_from)


def file_sha256_cache() -> Callable[[Path], str]:
    """sha256 of a file by its path, each file hashed once per run (a DVD is gigabytes)."""
    known: dict[Path, str] = {}

    def sha256(path: Path) -> str:
        if path not in known:
            with path.open("rb") as fh:  # the DVD the user named (a link to it is fine)
                known[path] = hashlib.file_digest(fh, "sha256").hexdigest()
        return known[path]

    return sha256
