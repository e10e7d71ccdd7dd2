"""Shared pytest fixtures for tests/ and vm-tests/ (session-scoped, cached under out/)."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.config import Variant
from buildiso.render.profile import Profile, load_profile
from buildiso.sample.base import SampleBase, build_sample_base


@pytest.fixture(scope="session")
def profile() -> Profile:
    """The shipped 4.9.0 profile, test variant (frozen, so one instance serves every test)."""
    return load_profile(paths.DEFAULT_PROFILE, Variant.TEST)


@pytest.fixture(scope="session")
def sample_base() -> SampleBase:
    """The sample RHEL-6.10-shaped base (tree, ISO, signed gateway RPMs) in out/sample-base.

    Built once per machine and reused: a cache hit takes seconds when nothing changed.
    """
    return build_sample_base(paths.DEFAULT_SAMPLE_BASE)


@pytest.fixture(scope="session")
def built_iso(sample_base: SampleBase) -> Path:
    """out/EMAIL_490_190.iso built from the sample base, once per session.

    An unchanged rebuild is skipped by buildiso itself (same inputs, ISO untouched).
    """
    from buildiso.build import build_sample_iso

    return build_sample_iso(sample_base, out_dir=paths.DEFAULT_OUT).iso


# --- running the suite on every core (pytest-xdist; README, "Development") --------------
#
# `pytest` runs with one worker per core (pyproject addopts). The VM tests of one file stay
# on one worker (their module fixtures build ISOs once), the longest files are handed out
# first, and a machine-wide count of guest slots (one per core) keeps the guests that run
# at once at most one per core, whichever workers or sessions start them.

# Longest first (minutes under TCG, measured by `pytest --durations`): the scheduler hands
# these out before the unit tests, so no long VM file starts last.
VM_FILES_LONGEST_FIRST = (
    "test_boot_matrix.py", "test_sample_install.py", "test_sample_storage.py",
    "test_scenario_upgrade.py", "test_ci_pipeline.py", "test_scenario_appendix_b.py",
    "test_scenario_appendix_a.py", "test_boot_layouts.py", "test_usb_files.py",
    "test_scenario_first_login.py", "test_boottest_signals.py", "test_scenario_file.py",
    "test_sample_menu.py",
)
GUEST_SLOTS = Path(tempfile.gettempdir()) / "buildiso-guest-slots"
SLOT_COUNT = max(1, os.cpu_count() or 1)  # one guest per core


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """VM tests first, longest file first, then the rest in collection order. Each file
    goes whole to one worker (``--dist loadfile``; xdist's ``loadgroup`` does not group
    under pytest 9.2, whose node IDs xdist 3.8 cannot suffix)."""
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("vm") is None:
            return len(VM_FILES_LONGEST_FIRST) + 1
        name = item.path.name
        return VM_FILES_LONGEST_FIRST.index(name) if name in VM_FILES_LONGEST_FIRST else \
            len(VM_FILES_LONGEST_FIRST)  # fmt: skip

    items.sort(key=rank)  # stable: within a file, the file's own order


@contextmanager
def guest_slots(wanted: int) -> Iterator[None]:
    """Hold ``wanted`` of the machine's guest slots (one per core) while guests run.

    Slots are ``flock``s on files under /tmp, so they hold across xdist workers and test
    sessions, and a killed test frees its slots. Slots are taken under a gate lock, in
    order, so a test needing two is not starved by tests needing one."""
    wanted = min(wanted, SLOT_COUNT)
    GUEST_SLOTS.mkdir(exist_ok=True)
    gate = os.open(GUEST_SLOTS / "gate", os.O_RDWR | os.O_CREAT, 0o644)
    held: dict[int, int] = {}  # slot number -> its locked descriptor
    try:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            for k in range(SLOT_COUNT):  # free slots first, without waiting
                if len(held) == wanted:
                    break
                fd = os.open(GUEST_SLOTS / f"slot{k}", os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held[k] = fd
                except BlockingIOError:
                    os.close(fd)
            for k in range(SLOT_COUNT):  # then wait, in order, for the rest
                if len(held) == wanted:
                    break
                if k not in held:
                    fd = os.open(GUEST_SLOTS / f"slot{k}", os.O_RDWR | os.O_CREAT, 0o644)
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    held[k] = fd
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
        yield
    finally:
        for fd in held.values():
            os.close(fd)
        os.close(gate)


@pytest.fixture(autouse=True)
def _guest_slots(request: pytest.FixtureRequest) -> Iterator[None]:
    """A VM test holds as many slots as guests it runs at once (``@pytest.mark.guests(N)``,
    default one) for its whole call."""
    if request.node.get_closest_marker("vm") is None:
        yield
        return
    marker = request.node.get_closest_marker("guests")
    with guest_slots(int(marker.args[0]) if marker else 1):
        yield
