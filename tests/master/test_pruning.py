"""pruning.py: what of a RHEL 6 base the product ISO leaves out (boot.iso, efidisk.img,
TRANS.TBL), and the one warning for a listed boot.iso the DVD lacks."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from test_basetree import FILES, make_iso, make_tree

from buildiso.errors import InputError
from buildiso.master import pruning
from buildiso.master.basetree import open_base

BOOT_ISO_SUM = hashlib.sha256(b"stock boot.iso").hexdigest()


def _rhel_like(root: Path, *, boot_iso: bool = False, efidisk: bool = True) -> Path:
    """A tree whose .treeinfo lists boot.iso (in [images-x86_64] and [checksums]) and
    efidisk.img, with TRANS.TBL files in some folders."""
    files = dict(FILES)
    files["TRANS.TBL"] = b"F .treeinfo;1 .treeinfo\n"
    files["images/TRANS.TBL"] = b"F install.img;1 install.img\n"
    files["isolinux/trans.tbl"] = b"a lower-case one still counts\n"
    files["Packages/TRANS-TBL.txt"] = b"not a table"
    if boot_iso:
        files["images/boot.iso"] = b"stock boot.iso"
    if efidisk:
        files["images/efidisk.img"] = b"stock efidisk"
    tree = make_tree(root, files=files)
    text = (tree / ".treeinfo").read_text()
    text = text.replace(
        "initrd = images/pxeboot/initrd.img\n",
        "initrd = images/pxeboot/initrd.img\nboot.iso = images/boot.iso\n",
    )
    extra = f"images/boot.iso = sha256:{BOOT_ISO_SUM}\n"
    if efidisk:
        extra += f"images/efidisk.img = sha256:{hashlib.sha256(b'stock efidisk').hexdigest()}\n"
    (tree / ".treeinfo").write_text(text + extra)
    return tree


def test_plan_for_a_pungi_dvd(tmp_path: Path) -> None:
    tree = _rhel_like(tmp_path / "t")
    for source in (tree, make_iso(tree, tmp_path / "dvd.iso")):
        with open_base(source) as base:
            plan = pruning.plan(base)
        assert plan.removed == (
            "TRANS.TBL", "images/TRANS.TBL", "images/efidisk.img", "isolinux/trans.tbl",
        )  # fmt: skip
        assert plan.listed_absent == ("images/boot.iso",)
        assert plan.manifest_entry() == {
            "removed": list(plan.removed), "listed_absent": ["images/boot.iso"],
        }  # fmt: skip


def test_plan_when_boot_iso_is_there(tmp_path: Path) -> None:
    with open_base(_rhel_like(tmp_path / "t", boot_iso=True, efidisk=False)) as base:
        plan = pruning.plan(base)
        treeinfo = plan.treeinfo(base.treeinfo)
    assert "images/boot.iso" in plan.removed and plan.listed_absent == ()
    assert "boot.iso" not in treeinfo.render()
    assert treeinfo.images == {
        "kernel": "images/pxeboot/vmlinuz", "initrd": "images/pxeboot/initrd.img",
    }  # fmt: skip


def test_nothing_to_prune(tmp_path: Path) -> None:
    with open_base(make_tree(tmp_path / "t")) as base:
        plan = pruning.plan(base)
        assert plan.treeinfo(base.treeinfo) == base.treeinfo
    assert plan == pruning.Pruning(removed=(), listed_absent=())


def test_absent_boot_iso_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), open_base(_rhel_like(tmp_path / "t")) as base:
        assert pruning.verify_base_checksums(base) == ("images/boot.iso",)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "images/boot.iso listed in .treeinfo but not in the tree" in warnings[0].getMessage()


def test_no_warning_for_a_complete_base(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tree = _rhel_like(tmp_path / "t", boot_iso=True)
    with caplog.at_level(logging.WARNING), open_base(tree) as base:
        assert pruning.verify_base_checksums(base) == ()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_mismatch_is_still_refused(tmp_path: Path) -> None:
    tree = _rhel_like(tmp_path / "t")
    (tree / "images" / "efidisk.img").write_bytes(b"edited efidisk")
    with open_base(tree) as base, pytest.raises(InputError) as err:
        pruning.verify_base_checksums(base)
    assert "images/efidisk.img: sha256 does not match .treeinfo" in str(err.value)


def test_trans_tbl_names() -> None:
    assert pruning.is_trans_tbl("TRANS.TBL") and pruning.is_trans_tbl("a/b/trans.tbl")
    assert not pruning.is_trans_tbl("Packages/TRANS.TBL.rpm")
    assert not pruning.is_trans_tbl("XTRANS.TBL")
