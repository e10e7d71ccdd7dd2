"""Referee for validate's RHEL 6 reader: RHEL 6's own pykickstart (1.74.22) under Python 2.7.

Runs only under Python 2.7 with RHEL 6's pykickstart on PYTHONPATH (the tests start it so,
when it is installed: test_ks_corpus.py, test_ks6reader.py). It reads each kickstart as
anaconda 13 does (KickstartParser, RHEL6 handler, includes not followed) but records every
error instead of stopping at the first, and catches the DeprecationWarnings anaconda logs.

anaconda fetches each ``%ksappend`` file into the kickstart before parsing
(``preprocessKickstart``); here every ``%ksappend`` line stands for an empty file (a blank
line, so line numbers stay those of the text).

stdin: a JSON list of kickstart texts. stdout: a JSON list, one object per text:
{"errors": [[line, message], ...], "fatal": [line or null, message] or null,
 "warnings": [[line or null, message], ...]}
"""

import json
import os
import re
import sys
import tempfile
import warnings

from pykickstart.parser import KickstartParser
from pykickstart.version import RHEL6, makeVersion

try:
    from StringIO import StringIO  # Python 2, where this runs
except ImportError:  # pragma: no cover - imported by Python 3 only for linting
    from io import StringIO

LINE = re.compile(r"line (\d+)")


def _line(message, default):
    match = LINE.search(message)
    return int(match.group(1)) if match else default


def _flat(message):
    return " ".join(str(message).split())


class Recorder(KickstartParser):
    """Records each error the parser goes past (errorsAreFatal=False), with its line."""

    def __init__(self, handler):
        KickstartParser.__init__(
            self, handler, followIncludes=False, errorsAreFatal=False, missingIncludeIsFatal=False
        )
        self.errors = []

    def _recorded(self, method, lineno, args):
        try:
            return method(self, lineno, args)
        except Exception as exc:
            self.errors.append([_line(str(exc), lineno), _flat(exc)])
            raise

    def handleCommand(self, lineno, args):  # noqa: N802 (pykickstart's name)
        return self._recorded(KickstartParser.handleCommand, lineno, args)

    def handlePackageHdr(self, lineno, args):  # noqa: N802
        return self._recorded(KickstartParser.handlePackageHdr, lineno, args)

    def handleScriptHdr(self, lineno, args):  # noqa: N802
        return self._recorded(KickstartParser.handleScriptHdr, lineno, args)


def verdict(path):
    parser = Recorder(makeVersion(RHEL6))
    fatal = None
    stdout, sys.stdout = sys.stdout, StringIO()  # the parser prints what it goes past
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                parser.readKickstart(path)  # readline(): lines end at \n only, as anaconda's
            except (Exception, SystemExit) as exc:  # optparse's error() exits
                fatal = [_line(str(exc), None), type(exc).__name__ + ": " + _flat(exc)]
    finally:
        sys.stdout = stdout
    found = [[_line(str(w.message), None), _flat(w.message)] for w in caught]
    return {"errors": parser.errors, "fatal": fatal, "warnings": found}


def main():
    texts = json.load(sys.stdin)
    handle, path = tempfile.mkstemp(suffix=".ks")
    os.close(handle)
    results = []
    try:
        for text in texts:
            lines = text.split("\n")
            lines = ["" if line.strip().startswith("%ksappend") else line for line in lines]
            with open(path, "wb") as out:
                out.write("\n".join(lines).encode("utf-8"))
            results.append(verdict(path))
    finally:
        os.remove(path)
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
