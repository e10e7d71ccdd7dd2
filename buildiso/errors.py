"""User-facing errors. Raised anywhere, caught once in cli.main().

Every error carries a one-line message naming the file, line or package at fault and,
where we know one, a hint saying what to do about it.
"""

from __future__ import annotations


class BuildisoError(Exception):
    """Base class. ``exit_code`` 1 = the build failed, 2 = bad input."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class InputError(BuildisoError):
    """Bad input from the user: profile, kickstart, base tree, RPMs, arguments."""

    exit_code = 2


class ValidationFailed(InputError):
    """Several problems found at once; each is one ``FILE:LINE: message`` line."""

    def __init__(self, problems: list[str], *, what: str = "validation failed") -> None:
        super().__init__(f"{what}: {len(problems)} problem(s)")
        self.problems = problems

    def __str__(self) -> str:
        return "\n".join(self.problems)


class BuildError(BuildisoError):
    """A step that should have worked did not (a tool failed, the disk is full, ...)."""

    exit_code = 1


class ToolMissing(BuildError):
    """An external program is not installed."""

    def __init__(self, tool: str, package: str) -> None:
        super().__init__(
            f"{tool} not found",
            hint=f"install the Debian package {package} (or run ./setup.sh)",
        )
        self.tool = tool
        self.package = package


class Interrupted(BuildisoError):
    """Stopped by Ctrl-C, SIGTERM or SIGHUP after saving what it had (``boot-test``'s partial
    results); the exit code is 128 + the signal's number, as for a process it killed."""

    def __init__(self, message: str, *, exit_code: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code
