"""A boot-test scenario as the runner uses it: read from one small TOML file.

A scenario says what it proves (the installation guide's section), on which cells it may
run (firmware × media) and which of them ``--matrix`` runs, its inputs (resolved and
checked before anything boots: ``boottest/inputs.py``) and its steps, each a verb of the
vocabulary with its time limit (``boottest/vocabulary.py``). The shipped scenarios are
``boottest/scenarios/*.toml``; ``boottest/scenarioreader.py`` reads and checks a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from buildiso.boottest.steps import StepCall
from buildiso.config import Firmware, Media

# The fresh install's cells are named by firmware and media alone; other scenarios' cells
# add the scenario's name (bios-dvd-appendix-a), so one artifacts folder can hold both.
DEFAULT_SCENARIO = "install"


@dataclass(frozen=True, order=True)
class Cell:
    """A machine a scenario runs on: its firmware and how the media is attached."""

    firmware: Firmware
    media: Media

    @property
    def name(self) -> str:
        return f"{self.firmware.value}-{self.media.value}"

    @classmethod
    def parse(cls, name: str) -> Cell | None:
        """``bios-usb-files`` → Cell(BIOS, USB_FILES); None if it names no cell."""
        firmware, _, media = name.partition("-")
        try:
            return cls(Firmware(firmware), Media(media))
        except ValueError:
            return None


ALL_CELLS = tuple(Cell(f, m) for f in Firmware for m in Media)


@dataclass(frozen=True)
class Scenario:
    name: str
    proves: str  # the guide's section it proves, in a sentence
    source: str  # where it was read from
    cells: tuple[Cell, ...]  # the cells it may run on
    matrix: tuple[Cell, ...]  # the cells --matrix runs (empty: no matrix)
    note: str  # why it runs on these cells only (shown when another is asked for)
    expected_s: Mapping[str, float]  # measured seconds per cell (shard weights)
    inputs: Mapping[str, str]  # input name -> kind
    steps: tuple[StepCall, ...]

    def run_name(self, cell: Cell) -> str:
        """The cell's folder and its name in results: ``bios-dvd``, ``bios-dvd-upgrade``."""
        return cell.name if self.name == DEFAULT_SCENARIO else f"{cell.name}-{self.name}"

    def limits(self) -> dict[str, float]:
        """Every stage's time limit (unscaled), from the steps."""
        merged: dict[str, float] = {}
        for call in self.steps:
            merged.update(call.limits)
        return merged

    def inputs_of(self, kind: str) -> list[str]:
        return [name for name, k in self.inputs.items() if k == kind]
