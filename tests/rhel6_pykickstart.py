"""RHEL 6's own pykickstart (1.74.22), the referee of validate's RHEL 6 rules, when installed.

Not a dependency: RHEL 6's pykickstart runs only under Python 2.7. Where it is unpacked with
its ``ksvalidator-rhel6`` wrapper (``BUILDISO_RHEL6_PYKICKSTART``, default
/work/rhel6-pykickstart, see its README.local), the referee tests run it; elsewhere they
skip and say why. Its code is never part of this repository.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("BUILDISO_RHEL6_PYKICKSTART", "/work/rhel6-pykickstart"))
KSVALIDATOR = ROOT / "ksvalidator-rhel6"
REFEREE = Path(__file__).parent / "render" / "rhel6_referee.py"


def _python2() -> Path | None:
    """The Python 2.7 the wrapper runs RHEL 6's ksvalidator with."""
    try:
        match = re.search(r"exec\s+(\S*python2[.0-9]*)\b", KSVALIDATOR.read_text())
    except OSError:
        return None
    return Path(match.group(1)) if match else None


def require() -> Path:
    """The Python 2.7 to run the referee with, or skip the test saying what is missing."""
    if not KSVALIDATOR.is_file():
        pytest.skip(
            f"RHEL 6's pykickstart is not installed ({KSVALIDATOR} missing; set "
            "BUILDISO_RHEL6_PYKICKSTART to an unpacked pykickstart r1.74.22-1)"
        )
    python2 = _python2()
    if python2 is None or not python2.is_file():
        pytest.skip(f"{KSVALIDATOR} names no Python 2.7 interpreter that exists")
    return python2


def ksvalidator(path: Path) -> str:
    """``ksvalidator -v RHEL6 PATH``'s output (it exits 0 even when it prints an error)."""
    require()
    result = subprocess.run(
        [str(KSVALIDATOR), "-v", "RHEL6", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return " ".join((result.stdout + result.stderr).split())


def referee(texts: list[str]) -> list[dict[str, list[object]]]:
    """RHEL 6's parser on each text (rhel6_referee.py): errors, fatal error, warnings."""
    python2 = require()
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{ROOT}:{ROOT / 'stub'}",  # the urlgrabber stub (local files only)
    }
    result = subprocess.run(
        [str(python2), str(REFEREE)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    found: list[dict[str, list[object]]] = json.loads(result.stdout)
    return found
