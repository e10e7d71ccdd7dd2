"""RHEL 6 install-tree metadata: ``.treeinfo`` (INI) and ``.discinfo`` (four lines).

A RHEL 6.10 DVD's ``.treeinfo`` looks like this (pre-productmd format, read by anaconda
13's loader and by yum-based tools with ConfigParser)::

    [general]
    family = Red Hat Enterprise Linux
    timestamp = 1527703290.771853
    variant = Server
    totaldiscs = 1
    version = 6.10
    discnum = 1
    packagedir = Packages
    variants = Server
    arch = x86_64

    [images-x86_64]
    kernel = images/pxeboot/vmlinuz
    initrd = images/pxeboot/initrd.img
    boot.iso = images/boot.iso

    [stage2]
    mainimage = images/install.img

    [checksums]
    images/install.img = sha256:<hex>

TreeInfo keeps every section and key in file order so ``render()`` writes back what it
read, changing only what buildiso changed (checksums, the gateway repo section).
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from buildiso.errors import InputError

# buildiso's own section: RHEL's tools ignore sections they do not know, so the gateway
# repository is described here rather than as an [addon-*], which anaconda would offer
# as an optional RHEL add-on.
GATEWAY_SECTION = "buildiso"

_Section = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class TreeInfo:
    """A parsed ``.treeinfo``: ordered sections of ordered ``key = value`` pairs."""

    sections: tuple[_Section, ...]
    source: str = ".treeinfo"

    # --- reading ---------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, *, source: str = ".treeinfo") -> TreeInfo:
        """Parse ``text``; anything that is not a usable RHEL 6 .treeinfo → InputError."""
        parser = configparser.RawConfigParser(strict=True, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
        try:
            parser.read_string(text, source=source)
        except configparser.Error as exc:
            first = str(exc).splitlines()[0]
            raise InputError(
                f"{source}: not a valid .treeinfo ({first})",
                hint="the base's .treeinfo is damaged: copy the base again from its source",
            ) from exc
        sections = tuple(
            (name, tuple((k, v.strip()) for k, v in parser.items(name)))
            for name in parser.sections()
        )
        info = cls(sections=sections, source=source)
        missing = [k for k in ("family", "version", "arch") if not info.get("general", k)]
        if missing:
            raise InputError(
                f"{source}: [general] lacks {', '.join(missing)}",
                hint="the base tree's .treeinfo is not a RHEL install tree's",
            )
        return info

    def get(self, section: str, key: str) -> str | None:
        for name, items in self.sections:
            if name == section:
                for k, v in items:
                    if k == key:
                        return v
        return None

    def section(self, section: str) -> dict[str, str]:
        for name, items in self.sections:
            if name == section:
                return dict(items)
        return {}

    def _general(self, key: str, default: str = "") -> str:
        value = self.get("general", key)
        return default if value is None else value

    @property
    def family(self) -> str:
        return self._general("family")

    @property
    def version(self) -> str:
        return self._general("version")

    @property
    def arch(self) -> str:
        return self._general("arch")

    @property
    def variant(self) -> str:
        return self._general("variant")

    @property
    def packagedir(self) -> str:
        return self._general("packagedir", "Packages")

    @property
    def timestamp(self) -> str:
        return self._general("timestamp")

    @property
    def mainimage(self) -> str | None:
        return self.get("stage2", "mainimage")

    @property
    def images(self) -> dict[str, str]:
        """The ``[images-<arch>]`` entries: kernel, initrd, boot.iso, ..."""
        return self.section(f"images-{self.arch}")

    @property
    def checksums(self) -> dict[str, tuple[str, str]]:
        """path → (algorithm, hex digest) from ``[checksums]``."""
        result = {}
        for path, value in self.section("checksums").items():
            algo, sep, digest = value.partition(":")
            if not sep or not re.fullmatch(r"[0-9a-fA-F]+", digest):
                raise InputError(
                    f"{self.source}: [checksums] {path} = {value!r} is not ALGO:HEX",
                    hint="the base tree's .treeinfo is damaged",
                )
            result[path] = (algo.lower(), digest.lower())
        return result

    @property
    def gateway_repository(self) -> str | None:
        return self.get(GATEWAY_SECTION, "gateway_repository")

    # --- changing (each returns a new TreeInfo) ----------------------------------------

    def with_values(self, section: str, values: Mapping[str, str]) -> TreeInfo:
        """Set ``values`` in ``section`` (created at the end if missing), keeping order."""
        sections = list(self.sections)
        for i, (name, items) in enumerate(sections):
            if name == section:
                current = dict(items)
                current.update(values)
                sections[i] = (name, tuple(current.items()))
                break
        else:
            sections.append((section, tuple(values.items())))
        return TreeInfo(sections=tuple(sections), source=self.source)

    def with_updated_checksums(self, sha256: Mapping[str, str]) -> TreeInfo:
        """Set ``[checksums]`` entries for the given paths (rel path → sha256 hex).

        Entries for other paths stay as they were; the section is written sorted by path,
        so the output does not depend on the order files were changed in.
        """
        current = self.section("checksums")
        current.update({path: f"sha256:{digest.lower()}" for path, digest in sha256.items()})
        ordered = {path: current[path] for path in sorted(current)}
        sections = [s for s in self.sections if s[0] != "checksums"]
        index = next((i for i, s in enumerate(self.sections) if s[0] == "checksums"), None)
        entry: _Section = ("checksums", tuple(ordered.items()))
        sections.insert(len(sections) if index is None else index, entry)
        return TreeInfo(sections=tuple(sections), source=self.source)

    def without_files(self, paths: Collection[str]) -> TreeInfo:
        """Forget files the media leaves out: their ``[checksums]`` entries and every
        ``[images-*]`` key naming them (``boot.iso = images/boot.iso``). Sections and the
        other keys keep their order."""
        gone = set(paths)
        sections: list[_Section] = []
        for name, items in self.sections:
            if name == "checksums":
                items = tuple((k, v) for k, v in items if k not in gone)
            elif name.startswith("images-"):
                items = tuple((k, v) for k, v in items if v not in gone)
            sections.append((name, items))
        return TreeInfo(sections=tuple(sections), source=self.source)

    def with_gateway_repo(self, *, repository: str, name: str, repomd_sha256: str) -> TreeInfo:
        """Describe the gateway repo (``cs-repo``) and checksum its repomd.xml."""
        info = self.with_values(
            GATEWAY_SECTION,
            {
                "gateway_repository": repository,
                "gateway_packagedir": f"{repository}/Packages",
                "gateway_name": name,
            },
        )
        return info.with_updated_checksums({f"{repository}/repodata/repomd.xml": repomd_sha256})

    def render(self) -> str:
        """The file's text: ``key = value`` lines, a blank line between sections."""
        blocks = []
        for name, items in self.sections:
            lines = [f"[{name}]"] + [f"{k} = {v}" for k, v in items]
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)


@dataclass(frozen=True)
class DiscInfo:
    """``.discinfo``: timestamp, release name, arch, disc numbers (one per line)."""

    timestamp: str
    release: str
    arch: str
    discs: str

    @classmethod
    def parse(cls, text: str, *, source: str = ".discinfo") -> DiscInfo:
        lines = [line.strip() for line in text.splitlines()]
        if len(lines) < 4 or not all(lines[:4]):
            raise InputError(
                f"{source}: expected 4 lines (timestamp, release, arch, discs), "
                f"found {len([x for x in lines if x])}",
                hint="the base tree's .discinfo is damaged",
            )
        return cls(timestamp=lines[0], release=lines[1], arch=lines[2], discs=lines[3])

    def render(self) -> str:
        return f"{self.timestamp}\n{self.release}\n{self.arch}\n{self.discs}\n"
