"""SOURCE_DATE_EPOCH (reproducible-builds.org): the one place that reads the variable."""

from __future__ import annotations

import os
import re

from buildiso.errors import InputError


def epoch_from_env() -> int | None:
    """The variable as seconds since 1970; None when unset or empty (derive one instead)."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]{1,12}", value):
        raise InputError(
            f"SOURCE_DATE_EPOCH={value!r} is not a number of seconds since 1970",
            hint="unset it (buildiso derives one from its inputs) or set e.g. "
            "$(git log -1 --format=%ct)",
        )
    return int(value)
