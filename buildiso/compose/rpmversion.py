"""RPM version comparison (rpmvercmp) and dependency relations (``bar >= 2.0``).

Shared by the RPM header reader (rpms.py), the repodata reader (repo.py) and the
install-set resolver (depsolve.py), so a ``Requires`` read from a header and one read
from primary.xml compare the same way rpm itself would.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


def rpmvercmp(a: str, b: str) -> int:
    """Compare two version (or release) strings the way rpm does: -1, 0 or 1.

    Segments of digits compare numerically, segments of letters as strings, a digit
    segment beats a letter segment, ``~`` sorts before anything (even the end) and
    ``^`` after the end but before any further segment. Other characters only separate.
    """
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        # Skip separators (anything that is not alphanumeric, ~ or ^).
        while i < len(a) and not (a[i].isalnum() or a[i] in "~^"):
            i += 1
        while j < len(b) and not (b[j].isalnum() or b[j] in "~^"):
            j += 1
        # Tilde: sorts before everything, including the end of the string.
        a_tilde = i < len(a) and a[i] == "~"
        b_tilde = j < len(b) and b[j] == "~"
        if a_tilde or b_tilde:
            if not a_tilde:
                return 1
            if not b_tilde:
                return -1
            i += 1
            j += 1
            continue
        # Caret: sorts after the end of the string but before any other segment.
        a_caret = i < len(a) and a[i] == "^"
        b_caret = j < len(b) and b[j] == "^"
        if a_caret or b_caret:
            if i >= len(a):
                return -1
            if j >= len(b):
                return 1
            if not a_caret:
                return 1
            if not b_caret:
                return -1
            i += 1
            j += 1
            continue
        if i >= len(a) or j >= len(b):
            break
        numeric = a[i].isdigit()
        si, sj = i, j
        if numeric:
            while i < len(a) and a[i].isdigit():
                i += 1
            while j < len(b) and b[j].isdigit():
                j += 1
        else:
            while i < len(a) and a[i].isalpha():
                i += 1
            while j < len(b) and b[j].isalpha():
                j += 1
        seg_a, seg_b = a[si:i], b[sj:j]
        if not seg_b:
            # Segments of different kinds: the numeric one is newer.
            return 1 if numeric else -1
        if numeric:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
    a_left, b_left = i < len(a), j < len(b)
    if a_left == b_left:
        return 0
    return 1 if a_left else -1


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
