"""The suite's guest slots (conftest.py): flocks that bound the guests running at once."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest

from conftest import GUEST_SLOTS, SLOT_COUNT, guest_slots


def _free_slots() -> int:
    """Slots another process could take now (a fresh descriptor conflicts with ours)."""
    free = 0
    for k in range(SLOT_COUNT):
        fd = os.open(GUEST_SLOTS / f"slot{k}", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            free += 1
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    return free


@pytest.fixture()
def idle_machine() -> None:
    """Slot counting needs no VM test holding slots meanwhile (another worker's)."""
    with guest_slots(SLOT_COUNT):
        pass
    if _free_slots() != SLOT_COUNT:
        pytest.skip("a VM test of another worker or session holds guest slots")


def test_slots_are_held_for_the_block_and_freed_after(idle_machine: None) -> None:
    with guest_slots(1):
        assert _free_slots() == SLOT_COUNT - 1
    with guest_slots(99):  # more than the machine has: all of them, not a deadlock
        assert _free_slots() == 0
    assert _free_slots() == SLOT_COUNT


def test_a_test_wanting_every_slot_waits_for_one_holding_a_slot(idle_machine: None) -> None:
    got = threading.Event()

    def other() -> None:
        with guest_slots(SLOT_COUNT):
            got.set()

    with guest_slots(1):
        waiter = threading.Thread(target=other)
        waiter.start()
        assert not got.wait(0.5)  # blocked while our slot is held
    waiter.join(30)
    assert got.is_set()
