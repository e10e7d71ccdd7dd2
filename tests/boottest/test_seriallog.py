"""buildiso.boottest.seriallog: incremental reads of a growing serial log."""

from __future__ import annotations

from pathlib import Path

from buildiso.boottest.seriallog import SerialLog


def test_serial_log_reads_increments_and_split_utf8(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    log = SerialLog(path)
    assert log.poll() == ""  # not created yet
    path.write_bytes(b"hello\n")
    assert log.poll() == "hello\n"
    assert log.poll() == ""
    euro = "€".encode()
    with path.open("ab") as fh:
        fh.write(b"price " + euro[:1])
    assert log.poll() == "price "
    with path.open("ab") as fh:
        fh.write(euro[1:] + b"\n")
    assert log.poll() == "€\n"
    assert log.text == "hello\nprice €\n"
