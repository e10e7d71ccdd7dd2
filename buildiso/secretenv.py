"""The cs-admin password given in ``BUILDISO_CS_ADMIN_PASSWORD``, out of the environment.

Deleting a variable from ``os.environ`` does not change ``/proc/<pid>/environ``: the
kernel keeps the environment block the program was started with for as long as it runs,
and shows it to anyone who may read that file (the same user, root, a crash reporter).
So when the variable is set, the CLI executes itself again (``execve``: same process,
same PID, same arguments) with an environment that lacks it, and hands the password over
through a pipe the new image inherits. The new image reads the pipe at once, closes it and
keeps the password in memory only; ``BUILDISO_PASSWORD_FD`` (the pipe's number, nothing
secret) tells it where to look. tests/hostile/test_hostile_environ.py reads the running
build's ``/proc/<pid>/environ``.

In-process callers (tests calling ``cli.main``) never re-execute: the variable is read
from ``os.environ`` and removed from it, as before.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from buildiso import run

ENV_VAR = "BUILDISO_CS_ADMIN_PASSWORD"
FD_VAR = "BUILDISO_PASSWORD_FD"
# More than any acceptable password (render/password.py MAX_LENGTH characters of UTF-8):
# a longer one is refused there, by its length, never read past this.
MAX_BYTES = 1024

_received: bytes | None = None


def reexec_without_password(argv: list[str] | None = None) -> None:
    """At the CLI's start: re-execute without ``ENV_VAR`` (password through a pipe), or,
    in the re-executed image, take the password from that pipe. Returns when there is
    nothing to do (or ``execve`` failed: then the variable is read the old way)."""
    if FD_VAR in os.environ:
        _receive(os.environ.pop(FD_VAR))
        return
    secret = os.environ.get(ENV_VAR)
    if secret is None:
        return
    data = secret.encode("utf-8", "surrogateescape")[: MAX_BYTES + 1]  # < a pipe's buffer
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
    finally:
        os.close(write_end)
    os.set_inheritable(read_end, True)
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env[FD_VAR] = str(read_end)
    args = list(sys.orig_argv[1:]) if argv is None else argv
    run.replace_process([sys.executable, *args], env)
    os.close(read_end)  # execve failed: the variable is read the old way


def _receive(fd_text: str) -> None:
    global _received
    if not fd_text.isdigit() or int(fd_text) < 3:
        return  # not ours: ignore it
    fd = int(fd_text)
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_BYTES and (chunk := os.read(fd, MAX_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    _received = b"".join(chunks)


def environment_password(environ: Mapping[str, str] | None = None) -> bytes | None:
    """The password given in ``ENV_VAR`` (as handed over, else from ``environ``/os.environ,
    then removed from os.environ), as bytes: at most ``MAX_BYTES + 1`` of them."""
    if environ is not None:
        value = environ.get(ENV_VAR)
    elif _received is not None:
        return _received
    else:
        value = os.environ.pop(ENV_VAR, None)  # read once; nothing started later inherits it
    if value is None:
        return None
    return value.encode("utf-8", "surrogateescape")[: MAX_BYTES + 1]
