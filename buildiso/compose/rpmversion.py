"""RPM version comparison (rpmvercmp) and dependency relations (``bar >= 2.0``).

Used where buildiso compares versions outside a libsolv pool (RPM headers in rpms.py and
rhel6compat.py, the manifest); the comparison itself is libsolv's, so it agrees with the
install-set resolver (depsolve.py) and with what rpm itself would say.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import solv


def rpmvercmp(a: str, b: str) -> int:
    """Compare two version (or release) strings the way rpm does: -1, 0 or 1.

    libsolv's comparison (the engine that resolves the install set, here and in the sample
    installer): the one version comparison in buildiso. ``~`` sorts before anything,
    ``^`` after the end but before any further segment.
    """
    if a == b:
        return 0
    _LEFT.evr, _RIGHT.evr = a, b
    result = int(_LEFT.evrcmp(_RIGHT))
    return (result > 0) - (result < 0)


# Two scratch solvables in a private pool: libsolv's Python API compares EVRs of solvables.
_POOL = solv.Pool()
_LEFT, _RIGHT = (_POOL.add_repo("evrcmp").add_solvable() for _ in range(2))


@dataclass(frozen=True, order=False)
class Evr:
    """Epoch, version, release. ``release`` None means "any release" in a requirement."""

    epoch: int
    version: str
    release: str | None = None

    @classmethod
    def parse(cls, text: str) -> Evr:
        """Parse ``[E:]V[-R]`` as written in a dependency (``2:1.0-3.el6``)."""
        epoch = 0
        if ":" in text:
            head, text = text.split(":", 1)
            epoch = int(head) if head.isdigit() else 0
        version, sep, release = text.rpartition("-")
        if not sep:
            return cls(epoch, text, None)
        return cls(epoch, version, release)

    def compare(self, other: Evr) -> int:
        """rpm's EVR comparison; a missing release on either side matches any release."""
        if self.epoch != other.epoch:
            return 1 if self.epoch > other.epoch else -1
        result = rpmvercmp(self.version, other.version)
        if result or self.release is None or other.release is None:
            return result
        return rpmvercmp(self.release, other.release)

    def __str__(self) -> str:
        text = f"{self.epoch}:{self.version}" if self.epoch else self.version
        return f"{text}-{self.release}" if self.release is not None else text


class Flag(enum.StrEnum):
    """A relation's comparison, as spelled in primary.xml (``flags="GE"``)."""

    EQ = "EQ"
    LT = "LT"
    LE = "LE"
    GT = "GT"
    GE = "GE"

    @property
    def symbol(self) -> str:
        return {"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}[self.value]

    @classmethod
    def from_sense(cls, sense: int) -> Flag | None:
        """From an rpm header's RPMSENSE bits (LESS=2, GREATER=4, EQUAL=8)."""
        less, greater, equal = bool(sense & 2), bool(sense & 4), bool(sense & 8)
        if less and equal:
            return cls.LE
        if greater and equal:
            return cls.GE
        if less:
            return cls.LT
        if greater:
            return cls.GT
        if equal:
            return cls.EQ
        return None


@dataclass(frozen=True)
class Relation:
    """One Requires/Provides/Conflicts/Obsoletes entry: a name and maybe a version range."""

    name: str
    flag: Flag | None = None
    evr: Evr | None = None

    @classmethod
    def parse(cls, text: str) -> Relation:
        """The inverse of ``str()``: ``"name"`` or ``"name >= [E:]V[-R]"``."""
        name, _, rest = text.strip().partition(" ")
        if not rest:
            return cls(name)
        symbol, _, version = rest.strip().partition(" ")
        flags = {flag.symbol: flag for flag in Flag}
        if symbol not in flags or not version.strip():
            raise ValueError(f"not an RPM relation: {text!r}")
        return cls(name, flags[symbol], Evr.parse(version.strip()))

    def __str__(self) -> str:
        if self.flag is None or self.evr is None:
            return self.name
        return f"{self.name} {self.flag.symbol} {self.evr}"

    def matches(self, provide: Relation) -> bool:
        """Does ``provide`` (a Provides entry of the same name) satisfy this relation?

        Like rpm: an unversioned side matches anything; otherwise the two ranges must
        overlap (a Provides is almost always ``= EVR``).
        """
        if provide.name != self.name:
            return False
        if self.flag is None or self.evr is None or provide.flag is None or provide.evr is None:
            return True
        # rpm's rpmdsCompare: do the two ranges overlap?
        sense = provide.evr.compare(self.evr)
        have, want = _bits(provide.flag), _bits(self.flag)
        if sense < 0:
            return bool(have & _GREATER or want & _LESS)
        if sense > 0:
            return bool(have & _LESS or want & _GREATER)
        return bool(have & want & (_LESS | _GREATER | _EQUAL))


_LESS, _GREATER, _EQUAL = 2, 4, 8


def _bits(flag: Flag) -> int:
    return {
        Flag.EQ: _EQUAL,
        Flag.LT: _LESS,
        Flag.LE: _LESS | _EQUAL,
        Flag.GT: _GREATER,
        Flag.GE: _GREATER | _EQUAL,
    }[flag]
