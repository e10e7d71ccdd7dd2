"""Is a set of RPMs installable on its own? Asked of rpm itself (``rpm -i --test``).

rpm resolves every Requires (sonames, files, versioned names) against the set and
checks every Conflicts, exactly as the installer's rpm will; we only collect its answer.
"""

from __future__ import annotations

import re
from pathlib import Path

from buildiso.errors import BuildError
from buildiso.run import run
from buildiso.tmpdirs import private_dir

# "\tX is needed by Y", "\tX conflicts with Y", "\tfile /f from install of A conflicts with
# file from package B": the indented lines under rpm's "error: ..." headings.
_PROBLEM = re.compile(r"^\s+(.+ (?:is needed by|conflicts with) .+)$")


def install_problems(rpms: list[Path]) -> list[str]:
    """rpm's dependency and conflict problems for installing ``rpms`` together; [] if none."""
    with private_dir("closure") as root:
        proc = run(
            [
                "rpm",
                "--root",
                str(root),
                "--dbpath",
                "/var/lib/rpm",
                "-i",
                "--test",
                "--nosignature",
                "--ignoresize",
                *[str(r) for r in sorted(rpms)],
            ],
            check=False,
        )
    problems = [m.group(1) for line in proc.stderr.splitlines() if (m := _PROBLEM.match(line))]
    if proc.returncode != 0 and not problems:
        raise BuildError(
            f"rpm --test failed without naming a dependency problem: {proc.stderr.strip()}"
        )
    return problems


def require_installable(rpms: list[Path], *, what: str) -> None:
    """BuildError listing every unresolved Requires/Conflicts of ``rpms``."""
    problems = install_problems(rpms)
    if problems:
        raise BuildError(
            f"{what} is not installable on its own: " + "; ".join(problems),
            hint="fix the Requires/Provides of the named spec in buildiso/sample/specs",
        )
