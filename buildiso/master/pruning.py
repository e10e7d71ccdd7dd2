"""What of the base the product ISO leaves out, and why (docs/real-media.md).

- ``images/boot.iso``: RHEL's network-install boot image. Inside the product ISO it would be
  a second, bootable stock RHEL installer with the stock menu (no ``ks=``, an interactive
  install). pungi 2 already masters RHEL 6 DVDs without it (``mkisofs -m boot.iso``) while
  its ``.treeinfo`` still lists it, so a real DVD lists a file it does not carry: that
  absence is expected, not damage.
- ``images/efidisk.img``: RHEL 6's UEFI USB image (a GPT disk whose EFI system partition
  holds grub-legacy, the kernel and the initrd; anaconda's ``scripts/mk-images.efi``). Its
  menu is the stock one and it carries no packages, no ``ks.cfg`` and no ``cs-repo/``: the
  product ISO itself is the product's UEFI stick image (written with ``dd``; for a
  grub-legacy base the build puts the kernel and initrd into ``efiboot.img``, as RHEL did
  for efidisk.img), so the stock one leaves rather than ship a second, different way in.
- ``TRANS.TBL`` (every folder): tables of ISO 9660 name → long name written by
  ``mkisofs -T`` (pungi 2 passes it). They describe the names of the image mkisofs wrote;
  buildiso's image is written by xorriso, whose ISO 9660 names differ and which writes no
  tables. Nothing on the install path reads them (Linux and anaconda use Rock Ridge,
  Windows and USB writers Joliet), and a stale table (one not listing ``ks.cfg`` or
  ``cs-repo``) would be wrong information: they are removed everywhere rather than
  re-derived from a second guess of xorriso's names.

Every other file of the base stays. A file ``.treeinfo`` lists but the base lacks is still
refused (``BaseTree.verify_checksums``) unless it is one the product leaves out anyway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from buildiso.master.basetree import BaseTree
from buildiso.master.treeinfo import TreeInfo

log = logging.getLogger(__name__)

BOOT_ISO = "images/boot.iso"
EFIDISK = "images/efidisk.img"
LEFT_OUT = (BOOT_ISO, EFIDISK)
TRANS_TBL = "TRANS.TBL"


@dataclass(frozen=True)
class Pruning:
    """The base files the product ISO leaves out."""

    removed: tuple[str, ...]  # in the base, not on the product ISO (xorriso -rm), sorted
    listed_absent: tuple[str, ...]  # named by the base's .treeinfo, not in the base

    def treeinfo(self, info: TreeInfo) -> TreeInfo:
        """``info`` without the lines naming what the product leaves out (present or not)."""
        return info.without_files(LEFT_OUT)

    def manifest_entry(self) -> dict[str, list[str]]:
        return {"removed": list(self.removed), "listed_absent": list(self.listed_absent)}


def is_trans_tbl(rel: str) -> bool:
    return rel.rsplit("/", 1)[-1].upper() == TRANS_TBL


def plan(base: BaseTree) -> Pruning:
    """What leaves, from the base's file list and its .treeinfo."""
    files = base.iter_files()
    removed = sorted({rel for rel in files if rel in LEFT_OUT or is_trans_tbl(rel)})
    named = set(base.treeinfo.checksums) | {
        value
        for name, items in base.treeinfo.sections
        if name.startswith("images-")
        for _key, value in items
    }
    absent = sorted(rel for rel in named & set(LEFT_OUT) if not base.exists(rel))
    return Pruning(removed=tuple(removed), listed_absent=tuple(absent))


def verify_base_checksums(base: BaseTree) -> tuple[str, ...]:
    """The base's ``.treeinfo`` checksums (a mismatch is refused), saying once which listed
    files the base lacks and the product leaves out anyway (the manifest records them)."""
    absent = base.verify_checksums(may_be_absent=LEFT_OUT)
    if absent:
        log.warning(
            "warning: base: %s listed in .treeinfo but not in the tree (pungi 2 masters "
            "RHEL 6 DVDs without images/boot.iso); the product ISO leaves %s out anyway, "
            "going on (manifest: base_pruning.listed_absent)",
            ", ".join(absent),
            "it" if len(absent) == 1 else "them",
        )
    return absent
