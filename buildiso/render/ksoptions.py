"""Kickstart option words read the way RHEL 6's pykickstart reads them (Python 2's optparse).

pykickstart 1.74.22 parses every command and section header with ``KSOptionParser``
(``options.py``), a subclass of optparse; modern pykickstart uses argparse, which differs
in ways a real kickstart runs into (docs/anaconda13-parser.md):

- a long option may be shortened to any prefix naming exactly one spelling (``--noch`` is
  ``--nochroot``); a prefix shared by two spellings is "ambiguous", even two spellings of
  one option (``--lo`` for ``--log``/``--logfile``);
- ``--`` ends the options and is dropped; words that are not options are handed back to the
  command, which may use them, refuse them, or (most commands) ignore them;
- an option that takes a value takes the next word whatever it is, but a string value that
  starts with ``--`` is refused (``KSOption``'s string type check);
- no command has a short option: any ``-x`` word is "no such option".

``read_options`` returns each option under its first spelling, so that modern pykickstart,
given those canonical words, never has to guess an abbreviation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class OptionError(Exception):
    """A word RHEL 6's option parser refuses; the message is optparse's, in our words."""


@dataclass(frozen=True)
class OptionSpec:
    """One option: its spellings (the first is canonical) and whether it takes a value."""

    spellings: tuple[str, ...]
    takes_value: bool

    @property
    def name(self) -> str:
        return self.spellings[0]


@dataclass(frozen=True)
class ReadOptions:
    """Options in the order given, as (canonical name, value or None), and the other words."""

    options: tuple[tuple[str, str | None], ...]
    words: tuple[str, ...]

    def has(self, name: str) -> bool:
        return any(option == name for option, _ in self.options)

    def value(self, name: str) -> str | None:
        """The last value given for ``name`` (optparse keeps the last), or None."""
        values = [value for option, value in self.options if option == name]
        return values[-1] if values else None


def _match(word: str, table: dict[str, OptionSpec]) -> OptionSpec:
    if word in table:
        return table[word]
    candidates = sorted(spelling for spelling in table if spelling.startswith(word))
    if not candidates:
        raise OptionError(f"no such option: {word}")
    if len(candidates) > 1:
        raise OptionError(f"ambiguous option: {word} ({', '.join(candidates)}?)")
    return table[candidates[0]]


def read_options(args: Iterable[str], specs: Iterable[OptionSpec]) -> ReadOptions:
    """Options and other words of ``args`` (the words after the command), or OptionError."""
    table = {spelling: spec for spec in specs for spelling in spec.spellings}
    options: list[tuple[str, str | None]] = []
    words: list[str] = []
    pending = list(args)
    while pending:
        word = pending.pop(0)
        if word == "--":
            words.extend(pending)
            break
        if word.startswith("--"):
            spelled, has_value, attached = word.partition("=")
            spec = _match(spelled, table)
            if not spec.takes_value:
                if has_value:
                    raise OptionError(f"{spec.name} option does not take a value")
                options.append((spec.name, None))
                continue
            if has_value:
                value = attached
            elif pending:
                value = pending.pop(0)
            else:
                raise OptionError(f"{spec.name} option requires an argument")
            if len(value) > 2 and value.startswith("--"):
                raise OptionError(f"option {spec.name}: invalid value {value!r} (starts with --)")
            options.append((spec.name, value))
        elif word.startswith("-") and word != "-":
            raise OptionError(f"no such option: {word[:2]}")
        else:
            words.append(word)
    return ReadOptions(tuple(options), tuple(words))
