"""Splitting a scenario's matrix over CI runners: ``buildiso boot-test --matrix --shard K/N``.

Every runner computes the same split from the same cell list, so shard K of N needs no
coordination: each cell lands in exactly one shard. The split balances expected run time
with the longest-processing-time greedy rule (longest cell first, each onto the shard with
the least expected time so far; ties by cell name and shard index, so it is deterministic).
A shard's cells keep the matrix order.

Expected seconds are measured figures, never constants here: a previous run's timings
when given (``--timings-from``), else the scenario file's ``[cells] expected_s``
(``boottest/command.py``, ``cell_seconds``). Every runner must be given the same figures.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from buildiso.errors import InputError

MAX_SHARDS = 256

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
_HINT = (
    "give --shard K/N with 1 <= K <= N, e.g. --shard 1/2 "
    "(GitLab: $CI_NODE_INDEX/$CI_NODE_TOTAL; GitHub: a matrix index counted from 1)"
)

C = TypeVar("C")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as CI engines count (CI_NODE_INDEX)
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def parse_shard(text: str) -> Shard:
    """``"K/N"`` → Shard; InputError (exit 2, one line) for anything else."""
    match = _SHARD.fullmatch(text)
    if match is None:
        raise InputError(f"--shard {text!r}: not of the form K/N", hint=_HINT)
    index, total = int(match.group(1)), int(match.group(2))
    if not 1 <= total <= MAX_SHARDS:
        raise InputError(
            f"--shard {text}: the number of shards must be 1..{MAX_SHARDS}, not {total}",
            hint=_HINT,
        )
    if not 1 <= index <= total:
        raise InputError(f"--shard {text}: shard {index} is not within 1..{total}", hint=_HINT)
    return Shard(index=index, total=total)


def split(
    cells: Sequence[C],
    total: int,
    *,
    name: Callable[[C], str],
    seconds: Callable[[C], float],
) -> list[list[C]]:
    """``total`` shards of ``cells`` (LPT greedy on ``seconds``); each in matrix order."""
    if total < 1:
        raise ValueError(f"total must be >= 1, not {total}")
    names = [name(c) for c in cells]
    if len(set(names)) != len(names):
        raise ValueError(f"cell names are not unique: {sorted(names)}")
    order = sorted(range(len(cells)), key=lambda i: (-seconds(cells[i]), names[i]))
    loads = [0.0] * total
    assigned: list[list[int]] = [[] for _ in range(total)]
    for i in order:
        target = min(range(total), key=lambda k: (loads[k], k))
        loads[target] += seconds(cells[i])
        assigned[target].append(i)
    return [[cells[i] for i in sorted(members)] for members in assigned]


def select(
    cells: Sequence[C], shard: Shard, *, name: Callable[[C], str], seconds: Callable[[C], float]
) -> list[C]:
    """The cells shard ``shard`` runs."""
    return split(cells, shard.total, name=name, seconds=seconds)[shard.index - 1]


def pick(
    cells: Sequence[C],
    *,
    names: Sequence[str],
    shard: Shard | None,
    name: Callable[[C], str],
    seconds: Callable[[C], float],
) -> list[C]:
    """The matrix reduced to ``names`` (all when empty), then shard ``shard`` of it."""
    chosen = list(cells)
    if names:
        known = {name(c): c for c in cells}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InputError(
                f"--cells: no such cell {', '.join(unknown)}",
                hint=f"the matrix has: {', '.join(known)}",
            )
        wanted = set(names)
        chosen = [c for c in cells if name(c) in wanted]
    if shard is None:
        return chosen
    return select(chosen, shard, name=name, seconds=seconds)
