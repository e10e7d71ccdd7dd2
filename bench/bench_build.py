#!/usr/bin/env python3
"""Whole ``buildiso build --base TREE`` against the pipeline a release engineer scripts.

On one DVD-shaped tree (the sample base's tree, hard-linked, plus package-sized filler
files: ``3.8 GB * scale`` in all; cached under out/bench/), in the same run, interleaved
round by round (the order rotates each round) so that a busy neighbour hurts every
variant alike, each run in its own child process:

  copy    ``tar -cf`` of the same bytes into one file, then ``sync FILE`` (buildiso fsyncs
          its image too): the floor, what writing the bytes durably costs
  peer    ``xorriso -as mkisofs`` (same layout as buildiso) + ``implantisomd5`` + ``sha256sum``
          as a release engineer scripts it (no sync: the stricter comparison for us)
  build   ``buildiso build --base TREE --gateway-rpms ... --out ...`` (the whole command)
  master  ``buildiso.master.iso.master_iso`` alone (MD5 implanted, SHA-256, fsync)

Medians per variant, and the medians of the per-round ratios build/peer and master/copy.
Peak memory is the largest sum of the resident sets of a run's process tree, sampled
every 50 ms (buildiso and its xorriso run at the same time). ``--cold`` drops the page
cache before every run (``echo 3 > /proc/sys/vm/drop_caches``, root only): the tree is
then read from the disk, as on a build machine that did not just write it. ``sync`` runs
between runs in any case, so no run pays for the previous one's writeback.

    .venv/bin/python bench/bench_build.py --scale 0.5 --rounds 3
    .venv/bin/python bench/bench_build.py --scale 0.1 --rounds 3 --cold
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The buildiso code measured: this checkout, or (for the "...-before" runs) another one.
CODE = Path(os.environ.get("BENCH_BUILDISO_CODE", ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(CODE))

from bench_master import _BLOCK as FILLER  # noqa: E402
from bench_master import (  # noqa: E402
    EPOCH,
    FULL_BYTES,
    FULL_FILES,
    _tree_bytes,
    _warm,
    buildiso_master,
    peer_master,
)

from buildiso import paths  # noqa: E402
from buildiso.master import iso  # noqa: E402

KINDS = ("copy", "peer", "build", "master")


def make_tree(root: Path, *, scale: float) -> Path:
    """The sample base's tree (hard links) plus filler under Packages/filler/."""
    from buildiso.sample.base import build_sample_base

    sample = build_sample_base(paths.DEFAULT_SAMPLE_BASE)
    # For the build runs (children inherit it): the sample's gateway RPMs and key.
    os.environ["BENCH_SAMPLE"] = json.dumps(
        [str(sample.gateway_rpms), str(sample.gpg_public_key), sample.key_id]
    )
    stamp = root / ".bench-stamp"
    wanted = json.dumps({"scale": scale, "version": 2, "sample": str(sample.tree)})
    tree = root / "tree"
    if not (stamp.is_file() and stamp.read_text() == wanted):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        subprocess.run(["cp", "-al", str(sample.tree), str(tree)], check=True)
        filler = tree / "Packages" / "filler"
        filler.mkdir()
        import random

        count = max(10, round(FULL_FILES * scale))
        mean = FULL_BYTES * scale / count
        rng = random.Random(42)
        for i in range(count):
            size = max(4096, int(rng.lognormvariate(0, 1.0) * mean / 1.65))
            # Not named *.rpm: the build checks every package on its base by rpm's own
            # digests (docs/build-checks.md), and filler is no package.
            with (filler / f"pkg{i:05d}.filler").open("wb") as f:
                f.write(i.to_bytes(8, "big"))
                left = size - 8
                while left > 0:
                    f.write(FILLER[: min(left, len(FILLER))])
                    left -= len(FILLER)
        for path in [filler, *filler.iterdir()]:
            os.utime(path, (EPOCH, EPOCH))
        stamp.write_text(wanted)
    return tree


# --- one measured run, in a child process -------------------------------------------------


def run_one(kind: str, tree: Path, out: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
    if kind == "copy":
        subprocess.run(["tar", "-cf", str(out / "copy.tar"), "-C", str(tree), "."], check=True)
        # On the disk, like buildiso's image (master_iso fsyncs it before publishing).
        subprocess.run(["sync", str(out / "copy.tar")], check=True)
    elif kind == "peer":
        image = out / "peer.iso"
        peer_master(tree, image, env=env)
        sums = subprocess.run(["sha256sum", str(image)], check=True, capture_output=True)
        (out / "SHA256SUM").write_bytes(sums.stdout)
    elif kind == "build":
        # The sample's gateway RPMs and key, found by the parent (not timed here).
        rpms, key, key_id = json.loads(os.environ["BENCH_SAMPLE"])
        subprocess.run(
            [
                sys.executable,
                "-m",
                "buildiso",
                "build",
                "--base",
                str(tree),
                "--gateway-rpms",
                rpms,
                "--gpg-key",
                key,
                "--key-id",
                key_id,
                "--out",
                str(out),
            ],  # fmt: skip
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(CODE)},
        )
    elif kind == "master":
        result = buildiso_master(tree, out / "overlay", out / "master.iso")
        if not hasattr(result, "sha256"):  # code before #15: SHA-256 in a second pass
            iso.sha256_file(out / "master.iso")
    else:
        raise SystemExit(f"unknown run {kind}")


def _tree_rss_kib(pid: int) -> int:
    """Sum of VmRSS over ``pid`` and its descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        me = int(status.parent.name)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(me)
        rss[me] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def measure(
    kind: str, tree: Path, out: Path, *, cold: bool, before: Path | None
) -> dict[str, float]:
    """One run of ``kind`` (``build-before``: ``build`` with the code in ``before``)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    os.sync()
    if cold:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    env = {**os.environ, "BUILDISO_OUT": str(paths.DEFAULT_OUT)}
    # As a user runs it: with cached bytecode (this session's shell may disable it).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if kind.endswith("-before"):
        assert before is not None
        env["BENCH_BUILDISO_CODE"] = str(before)
    what = kind.removesuffix("-before")
    argv = [sys.executable, __file__, "--run-one", what, "--tree", str(tree), "--out", str(out)]
    peak = 0
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.05):
            peak = max(peak, _tree_rss_kib(proc.pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    proc.returncode = rc = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    if rc != 0:
        raise SystemExit(f"{kind} failed (exit code {rc})")
    shutil.rmtree(out)
    # CPU time of the whole process tree: less moved by busy neighbours than wall time.
    return {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_kib": peak}


def hash_rates() -> dict[str, float]:
    """MB/s per core (CPU time, so a busy neighbour hardly moves it) of the two hashes
    every image needs: MD5 (implanted) and SHA-256 (SHA256SUM), as hashlib runs them."""
    import hashlib

    block = FILLER * 64  # 64 MiB
    rates = {}
    for name in ("md5", "sha256"):
        digest = hashlib.new(name)
        started = time.thread_time()
        for _ in range(4):
            digest.update(block)
        rates[name] = 4 * len(block) / (time.thread_time() - started) / 1e6
    return rates


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.25, help="1.0 = DVD-sized (3.8 GB)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before runs")
    parser.add_argument("--kinds", default=",".join(KINDS), help="variants to run")
    parser.add_argument("--work", type=Path, default=paths.DEFAULT_OUT / "bench")
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout of buildiso (e.g. git archive of main): adds build-before "
        "and master-before runs, interleaved with the others",
    )
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_one(args.run_one, args.tree, args.out)
        return 0

    kinds = [k for k in args.kinds.split(",") if k]
    if args.before:
        kinds += [f"{k}-before" for k in ("build", "master") if k in kinds]
    work: Path = args.work
    t0 = time.monotonic()
    tree = make_tree(work / f"buildtree-{args.scale:g}", scale=args.scale)
    files, size = _tree_bytes(tree)
    print(f"tree: {files} files, {size / 1e9:.2f} GB ({time.monotonic() - t0:.0f} s to prepare)")
    print(
        f"mode: {'cold (page cache dropped before each run)' if args.cold else 'warm page cache'}"
    )
    print(f"load before: {_uptime()}")
    if not args.cold:
        _warm(tree)
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    for r in range(args.rounds):
        order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
        for kind in order:
            result = measure(kind, tree, work / "run", cold=args.cold, before=args.before)
            runs[kind].append(result)
            print(
                f"  round {r + 1}: {kind:<13} {result['seconds']:7.2f} s wall"
                f"  {result['cpu']:7.2f} s CPU",
                flush=True,
            )
    print(f"load after:  {_uptime()}")

    def med(kind: str, what: str = "seconds") -> float:
        return statistics.median(r[what] for r in runs[kind])

    print(f"medians of {args.rounds} interleaved rounds:")
    names = {
        "copy": "plain copy (tar -cf + sync FILE)",
        "peer": "xorriso -as mkisofs + implantisomd5 + sha256sum",
        "build": "buildiso build --base TREE (whole command)",
        "master": "buildiso master_iso (MD5 + SHA-256 + fsync)",
        "build-before": "buildiso build, --before code",
        "master-before": "master_iso + sha256_file, --before code",
    }
    for kind in kinds:
        peak = max(r["peak_kib"] for r in runs[kind]) / 1024
        print(
            f"  {names[kind]:<50} {med(kind):7.2f} s  {size / med(kind) / 1e6:6.0f} MB/s"
            f"  CPU {med(kind, 'cpu'):6.2f} s  peak {peak:5.0f} MiB"
        )

    def ratio(a: str, b: str, goal: str) -> None:
        if a in runs and b in runs:
            pairs = list(zip(runs[a], runs[b], strict=True))
            per_round = [x["seconds"] / y["seconds"] for x, y in pairs]
            cpu = statistics.median(x["cpu"] / y["cpu"] for x, y in pairs)
            spread = ", ".join(f"{v:.2f}" for v in per_round)
            print(
                f"  {a + ' / ' + b:<28} wall {statistics.median(per_round):.2f}x"
                f"  CPU {cpu:.2f}x  (wall per round: {spread}; {goal})"
            )

    print("ratios (median of the per-round ratios):")
    ratio("build", "peer", "goal <= 0.6")
    ratio("master", "copy", "goal <= 1.3")
    ratio("peer", "copy", "for reference")
    ratio("build-before", "peer", "before")
    ratio("master-before", "copy", "before")
    ratio("build", "build-before", "after / before")
    ratio("master", "master-before", "after / before")
    rates = hash_rates()
    # The SHA-256 covers the implanted MD5 text, which needs the whole image's MD5 first:
    # however the image is written, mastering costs at least one MD5 and one SHA-256 pass
    # one after the other (buildiso/master/imagestream.py says why).
    floor = 1 / rates["md5"] + 1 / rates["sha256"]
    print(
        f"hashes on this CPU: MD5 {rates['md5']:.0f} MB/s, SHA-256 {rates['sha256']:.0f} MB/s"
        f" per core -> mastering cannot beat {1 / floor:.0f} MB/s"
    )
    if "copy" in runs:
        copy_rate = size / med("copy") / 1e6
        print(
            f"  so master / copy >= {copy_rate * floor:.2f}x at this run's copy speed"
            f" ({copy_rate:.0f} MB/s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
