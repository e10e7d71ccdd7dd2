"""The master stage of ``buildiso build``: base + overlay → the ISO, MD5 implanted, hashed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from buildiso.log import step
from buildiso.master import iso
from buildiso.master.basetree import BaseTree
from buildiso.master.imagestream import Consumer, FollowStats
from buildiso.master.staging import Staged, stage_overlay
from buildiso.render.profile import Profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mastered:
    """The written image: its implanted MD5 and the SHA-256 of its final bytes (the one
    SHA256SUM carries), both taken while mastering (master_iso), which also checked that
    the final bytes are those the MD5 was taken from."""

    image: Path  # in the scratch folder, published by buildiso.publish
    size: int
    implanted_md5: str
    sha256: str
    staged: Staged


def master_media(
    *,
    base: BaseTree,
    overlay: Path,
    scratch: Path,
    profile: Profile,
    rendered: Mapping[str, str],
    epoch: int,
    content_seed: bytes,
    verifiers: Sequence[Consumer] = (),
) -> Mastered:
    """Stage what the ISO changes next to ``cs-repo/`` in ``overlay``, then write the image
    (base grafted from where it is) into ``scratch``. ``content_seed`` fixes the GPT GUID.
    ``verifiers`` are fed the final image's bytes in the same read as its SHA-256."""
    with step("staging kickstart, menus, efiboot.img, .treeinfo, .discinfo, media.repo"):
        staged = stage_overlay(
            overlay=overlay, scratch=scratch, base=base, profile=profile,
            rendered=rendered, epoch=epoch,
        )  # fmt: skip
    plan = iso.MasterPlan(
        base=base.source,
        overlay=overlay,
        volume_label=profile.volume_label,
        hybrid_mbr=staged.hybrid_mbr,
        gpt_disk_guid=iso.gpt_guid_from(content_seed),
        source_date_epoch=epoch,
        remove=staged.pruned.removed,
    )
    image = scratch / profile.iso_name
    with step(f"mastering {profile.iso_name} (xorriso; MD5 while writing, then SHA-256)"):
        written = iso.master_iso(
            plan, dest=image, progress=progress_logger("writing"), verifiers=verifiers
        )
    log.info("    %s", follow_summary(written.follow))
    return Mastered(
        image=image,
        size=written.size,
        implanted_md5=written.implant.md5,
        sha256=written.sha256,
        staged=staged,
    )


def follow_summary(stats: FollowStats) -> str:
    """One line on how far behind xorriso the MD5 ran."""
    return (
        f"MD5 under the write: at most {stats.max_lag / 2**20:.0f} MiB behind xorriso, "
        f"{stats.lag_at_finish / 2**20:.0f} MiB left when it finished "
        f"(hashed {stats.tail_seconds:.2f} s after)"
    )


def progress_logger(label: str) -> Callable[[int, int | None], None]:
    state = {"next": 0.0, "t": time.monotonic()}

    def report(done: int, total: int | None) -> None:
        now = time.monotonic()
        # Small images are written in a blink: progress lines only for big ones.
        if total and total >= 256 * 2**20 and (done >= state["next"] or now - state["t"] > 10):
            pct = 100 * done // total
            log.info("    %s: %3d%% (%d of %d MiB)", label, pct, done // 2**20, total // 2**20)
            state["next"] = done + total / 10
            state["t"] = now

    return report
