#!/usr/bin/env python3
"""Benchmark buildiso's mastering step against the tools RHEL's own pipeline runs.

Builds (once, cached under out/bench/) a synthetic DVD-shaped tree: isolinux.bin, a FAT
efiboot.img, and ``3700 * scale`` package-sized files totalling about ``3.8 GB * scale``.
Then, in the same run and on the same tree (page cache warmed first, so every run reads
from memory and only the writing and hashing differ):

  copy      tar of the same bytes into one file (the floor: what writing costs)
  xorriso   ``xorriso -as mkisofs`` (same layout as buildiso) + ``implantisomd5``
  buildiso  buildiso.master.iso.master_iso (xorriso streaming, MD5 implanted while writing,
            then the SHA-256 of the final image and the landed-bytes check: what a build
            runs), with how far behind xorriso its MD5 ran

and, for the SHA256SUM both pipelines also need: ``sha256sum`` vs the final read alone
(buildiso.master.imagestream.final_digests, already inside master_iso's figure).
bench/bench_build.py compares the whole ``buildiso build`` command with the peer pipeline.
Each run is a child process; its peak memory is the child's own ru_maxrss plus that of the
programs it ran. Finally the "unchanged rebuild": ``build_sample_iso`` twice on the sample
base, the second one timed (it must find the inputs unchanged and skip the mastering).

    .venv/bin/python bench/bench_master.py --scale 0.05     # quick
    .venv/bin/python bench/bench_master.py --scale 1        # DVD-sized (about 3.8 GB)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The buildiso code measured: this checkout, or another one (bench_build.py --before).
sys.path.insert(0, os.environ.get("BENCH_BUILDISO_CODE", str(ROOT)))

from buildiso import paths  # noqa: E402
from buildiso.master import iso  # noqa: E402

EPOCH = 1_700_000_000
FULL_FILES = 3700
FULL_BYTES = 3_800_000_000
LABEL = "EMAIL_490_190"
_BLOCK = random.Random(490190).randbytes(1 << 20)  # incompressible filler, made once


def make_tree(root: Path, *, scale: float) -> Path:
    """The synthetic tree (reused when the same scale was built before)."""
    stamp = root / ".bench-stamp"
    wanted = json.dumps({"scale": scale, "version": 1})
    if stamp.is_file() and stamp.read_text() == wanted:
        return root / "tree"
    shutil.rmtree(root, ignore_errors=True)
    tree = root / "tree"
    (tree / "isolinux").mkdir(parents=True)
    (tree / "images").mkdir()
    (tree / "Packages").mkdir()
    shutil.copyfile(iso.DEBIAN_ISOHDPFX.parent / "isolinux.bin", tree / "isolinux" / "isolinux.bin")
    (tree / "isolinux" / "isolinux.cfg").write_text("default local\n")
    _efiboot(tree / "images" / "efiboot.img")
    count = max(10, round(FULL_FILES * scale))
    mean = FULL_BYTES * scale / count
    rng = random.Random(42)
    for i in range(count):
        # Package sizes are skewed: many small, a few large (lognormal around the mean).
        size = max(4096, int(rng.lognormvariate(0, 1.0) * mean / 1.65))
        with (tree / "Packages" / f"pkg{i:05d}-1.0-1.el6.x86_64.rpm").open("wb") as f:
            f.write(i.to_bytes(8, "big"))
            left = size - 8
            while left > 0:
                f.write(_BLOCK[: min(left, len(_BLOCK))])
                left -= len(_BLOCK)
    for path in sorted(tree.rglob("*")):
        os.utime(path, (EPOCH, EPOCH))
    stamp.write_text(wanted)
    return tree


def _efiboot(path: Path) -> None:
    with path.open("wb") as f:
        f.truncate(2880 * 1024)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    subprocess.run(["mkfs.fat", "-i", "12345678", str(path)], check=True, capture_output=True)
    subprocess.run(["mmd", "-i", str(path), "::/EFI", "::/EFI/BOOT"], check=True, env=env)
    cfg = path.with_name("grub.cfg")
    cfg.write_text("menuentry x {}\n")
    subprocess.run(
        ["mcopy", "-i", str(path), str(cfg), "::/EFI/BOOT/grub.cfg"], check=True, env=env
    )
    cfg.unlink()


def _tree_bytes(tree: Path) -> tuple[int, int]:
    files = [p for p in tree.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def _warm(tree: Path) -> None:
    for path in sorted(tree.rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                while f.read(1 << 22):
                    pass


def peer_master(tree: Path, image: Path, *, env: dict[str, str]) -> None:
    """The pipeline a release engineer scripts: xorriso -as mkisofs with the RHEL DVD's boot
    options + isohybrid MBR/GPT, then implantisomd5 (the peer every benchmark compares to)."""
    subprocess.run(
        ["xorriso", "-as", "mkisofs", "-o", str(image), "-R", "-J", "-iso-level", "3",
         "-V", LABEL, "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
         "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", "-eltorito-alt-boot",
         "-e", "images/efiboot.img", "-no-emul-boot",
         "-isohybrid-mbr", str(iso.DEBIAN_ISOHDPFX), "-isohybrid-gpt-basdat", "-quiet",
         str(tree)],
        check=True,
        env=env,
    )  # fmt: skip
    subprocess.run(["implantisomd5", "--force", str(image)], check=True, capture_output=True)


def buildiso_master(tree: Path, overlay: Path, image: Path) -> iso.MasterResult:
    """buildiso's mastering of ``tree`` with a one-file overlay (``overlay``, created here)."""
    overlay.mkdir()
    (overlay / "ks.cfg").write_text("# kickstart\n")
    for path in (overlay / "ks.cfg", overlay):
        os.utime(path, (EPOCH, EPOCH))
    plan = iso.MasterPlan(
        base=tree,
        overlay=overlay,
        volume_label=LABEL,
        hybrid_mbr=iso.DEBIAN_ISOHDPFX,
        gpt_disk_guid=iso.gpt_guid_from(b"bench"),
        source_date_epoch=EPOCH,
    )
    return iso.master_iso(plan, dest=image)


# --- one measured run, in a child process -------------------------------------------------


def run_one(kind: str, tree: Path, out: Path) -> dict[str, float]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
    lag: dict[str, float] = {}
    started = time.monotonic()
    if kind == "copy":
        subprocess.run(["tar", "-cf", str(out), "-C", str(tree), "."], check=True)
    elif kind == "xorriso":
        peer_master(tree, out, env=env)
    elif kind == "buildiso":
        overlay = out.with_suffix(".overlay")
        shutil.rmtree(overlay, ignore_errors=True)
        follow = buildiso_master(tree, overlay, out).follow
        lag = {"max_lag": follow.max_lag, "lag_at_finish": follow.lag_at_finish,
               "tail_seconds": follow.tail_seconds}  # fmt: skip
        shutil.rmtree(overlay)
    elif kind == "sha256sum":
        subprocess.run(["sha256sum", str(out)], check=True, capture_output=True)
    elif kind == "buildiso-sha256":
        from buildiso.master.imagestream import final_digests

        final_digests(out)
    else:
        raise SystemExit(f"unknown run {kind}")
    seconds = time.monotonic() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": seconds, "self_kib": own, "children_kib": children, **lag}


def measure(kind: str, tree: Path, out: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--run-one", kind, "--tree", str(tree), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def unchanged_rebuild_seconds(work: Path) -> float:
    from buildiso.build import build_sample_iso
    from buildiso.sample.base import build_sample_base

    sample = build_sample_base(paths.DEFAULT_SAMPLE_BASE)
    out = work / "rebuild"
    out.mkdir(exist_ok=True)
    build_sample_iso(sample, out_dir=out)
    started = time.monotonic()
    result = build_sample_iso(sample, out_dir=out)
    seconds = time.monotonic() - started
    if not result.skipped:
        raise SystemExit("the unchanged rebuild was not skipped")
    shutil.rmtree(out)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.25, help="1.0 = DVD-sized (3.8 GB)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per variant (best is kept)")
    parser.add_argument("--work", type=Path, default=paths.DEFAULT_OUT / "bench")
    parser.add_argument("--no-rebuild", action="store_true", help="skip the rebuild timing")
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        print(json.dumps(run_one(args.run_one, args.tree, args.out)))
        return 0

    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    tree = make_tree(work / f"tree-{args.scale:g}", scale=args.scale)
    files, size = _tree_bytes(tree)
    print(f"tree: {files} files, {size / 1e9:.2f} GB ({time.monotonic() - t0:.0f} s to prepare)")
    _warm(tree)

    results: dict[str, dict[str, float]] = {}
    for kind, out_name in (
        ("copy", "copy.tar"),
        ("xorriso", "xorriso.iso"),
        ("sha256sum", "xorriso.iso"),
        ("buildiso", "buildiso.master.iso"),
        ("buildiso-sha256", "buildiso.master.iso"),
    ):
        runs = [measure(kind, tree, work / out_name) for _ in range(args.repeat)]
        results[kind] = min(runs, key=lambda r: r["seconds"])
        if kind in ("copy", "sha256sum"):
            (work / out_name).unlink(missing_ok=True)
    (work / "buildiso.master.iso").unlink(missing_ok=True)
    (work / "xorriso.iso").unlink(missing_ok=True)

    def line(name: str, seconds: float, peak_kib: float) -> str:
        rate = size / seconds / 1e6
        return f"  {name:<36} {seconds:7.2f} s  {rate:6.0f} MB/s  peak {peak_kib / 1024:5.0f} MiB"

    base = results["xorriso"]["seconds"]
    ours = results["buildiso"]["seconds"]
    print(f"runs (best of {args.repeat}):")
    print(line("plain copy (tar)", results["copy"]["seconds"], results["copy"]["children_kib"]))
    print(line("xorriso -as mkisofs + implantisomd5", base, results["xorriso"]["children_kib"]))
    print(
        line(
            "buildiso master_iso",
            ours,
            results["buildiso"]["self_kib"] + results["buildiso"]["children_kib"],
        )
    )
    print(
        line(
            "sha256sum (for SHA256SUM)",
            results["sha256sum"]["seconds"],
            results["sha256sum"]["children_kib"],
        )
    )
    print(
        line(
            "buildiso final read (SHA-256; in master_iso)",
            results["buildiso-sha256"]["seconds"],
            results["buildiso-sha256"]["self_kib"],
        )
    )
    lag = results["buildiso"]
    print(
        f"  MD5 under the write: at most {lag['max_lag'] / 2**20:.0f} MiB behind xorriso,"
        f" {lag['lag_at_finish'] / 2**20:.0f} MiB left when it finished"
        f" (hashed {lag['tail_seconds']:.2f} s after)"
    )
    with_sums = ours / (base + results["sha256sum"]["seconds"])  # ours includes its SHA-256
    print("ratios:")
    print(f"  buildiso (with SHA-256) / (xorriso + implantisomd5) {ours / base:.2f}x")
    print(f"  same, the peer also running sha256sum            {with_sums:.2f}x")
    print(
        f"  buildiso / plain copy                          {ours / results['copy']['seconds']:.2f}x"
    )
    print(
        f"  xorriso+implantisomd5 / plain copy             {base / results['copy']['seconds']:.2f}x"
    )
    if not args.no_rebuild:
        print(
            f"unchanged rebuild (sample base): {unchanged_rebuild_seconds(work):.2f} s"
            "  (target <= 2 s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
