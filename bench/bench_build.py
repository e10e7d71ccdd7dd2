#!/usr/bin/env python3
"""Whole ``buildiso build --base TREE`` against the near-floor and the peer pipelines.

For each ``--size``, a DVD-shaped tree (the sample base's tree, hard-linked, plus
package-sized filler files up to that size; cached under out/bench/), then, in the same
run, interleaved round by round (the order rotates each round, so that a busy neighbour
hurts every variant alike), each run in its own child process:

  floor   the near-floor pipeline: ``tar -cf`` of the tree into one file, then one read of
          that file feeding MD5 and SHA-256 in two threads (hashlib, mmap), its fsync
          overlapping the read — the bytes written durably and both digests taken, with
          nothing of ISO 9660, the implant or any check
  peer    ``xorriso -as mkisofs`` (same layout as buildiso) + ``implantisomd5`` +
          ``sha256sum``, as a release engineer scripts it (no sync: the stricter
          comparison for us)
  build   ``buildiso build --base TREE --gateway-rpms ... --out ...`` (the whole command:
          inputs, fingerprint, compose, mastering with the landed-bytes check, fsync,
          publish)
  master  ``buildiso.master.iso.master_iso`` alone (optional: ``--kinds``)
  copy    ``tar -cf`` + ``sync FILE`` (optional)

Printed per size: medians of the rounds with their spread, the median of the per-round
ratios build/floor (goal <= 1.0) and build/peer (goal <= 0.6), the process-tree peak
memory (goal <= 150 MiB; sampled every 50 ms), how far behind xorriso the build's MD5 ran
(from its log), the load (``uptime``) before and after, the page cache and disk state,
and the hash speeds of this CPU (MD5, SHA-256, CRC-32; CPU time, one core). ``sync``
runs between runs, so no run pays for the previous one's writeback. ``--cold`` drops the
page cache before every run (root only). ``--results FILE`` appends the figures to a
markdown file (bench/results/). One command for the coordinator:

    .venv/bin/python bench/bench_build.py --size 1.8G --size 4G \\
        --results bench/results/$(date +%F)-master.md
    git archive main | tar -x -C /tmp/before && \\
      .venv/bin/python bench/bench_build.py --size 1.8G --before /tmp/before  # before/after
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import mmap
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The buildiso code measured: this checkout, or (for the "...-before" runs) another one.
CODE = Path(os.environ.get("BENCH_BUILDISO_CODE", ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(CODE))

from bench_master import _BLOCK as FILLER  # noqa: E402
from bench_master import (  # noqa: E402
    EPOCH,
    _tree_bytes,
    _warm,
    buildiso_master,
    peer_master,
)

from buildiso import paths  # noqa: E402

KINDS = ("floor", "peer", "build", "master", "copy")
DEFAULT_KINDS = "floor,peer,build"
FILLER_MEAN = 1_000_000  # bytes per filler package (lognormal around it, like a DVD's)
NAMES = {
    "floor": "near-floor: tar -cf, then MD5 || SHA-256 (+ fsync)",
    "peer": "peer: xorriso -as mkisofs + implantisomd5 + sha256sum",
    "build": "buildiso build --base TREE (whole command)",
    "master": "buildiso master_iso alone",
    "copy": "tar -cf + sync FILE",
    "build-before": "buildiso build, --before code",
    "master-before": "master_iso, --before code",
}
_FOLLOW_LINE = re.compile(r"MD5 under the write: .*")


def parse_size(text: str) -> int:
    """``1.8G``, ``4G``, ``500M`` (decimal units, like the issue's figures) -> bytes."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([MG])B?", text.strip(), re.I)
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r}: give e.g. 1.8G or 500M")
    return int(float(match[1]) * {"M": 10**6, "G": 10**9}[match[2].upper()])


def make_tree(root: Path, *, size: int) -> Path:
    """The sample base's tree (hard links) plus package-sized filler files (not packages)
    under Packages/filler/, ``size`` bytes in all (reused when made before for that size)."""
    from buildiso.sample.base import build_sample_base

    sample = build_sample_base(paths.DEFAULT_SAMPLE_BASE)
    # For the build runs (children inherit it): the sample's gateway RPMs and key.
    os.environ["BENCH_SAMPLE"] = json.dumps(
        [str(sample.gateway_rpms), str(sample.gpg_public_key), sample.key_id]
    )
    stamp = root / ".bench-stamp"
    wanted = json.dumps({"size": size, "version": 3, "sample": str(sample.tree)})
    tree = root / "tree"
    if not (stamp.is_file() and stamp.read_text() == wanted):
        import random

        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        subprocess.run(["cp", "-al", str(sample.tree), str(tree)], check=True)
        filler = tree / "Packages" / "filler"
        filler.mkdir()
        left = size - _tree_bytes(tree)[1]
        rng = random.Random(42)
        i = 0
        while left > 4096:
            # Package sizes are skewed: many small, a few large (lognormal).
            want = max(4096, min(left, int(rng.lognormvariate(0, 1.0) * FILLER_MEAN / 1.65)))
            # Not named *.rpm: the build checks every package on its base by rpm's own
            # digests, and filler is no package.
            with (filler / f"pkg{i:05d}.filler").open("wb") as f:
                f.write(i.to_bytes(8, "big"))
                rest = want - 8
                while rest > 0:
                    f.write(FILLER[: min(rest, len(FILLER))])
                    rest -= len(FILLER)
            left -= want
            i += 1
        for path in [filler, *filler.iterdir()]:
            os.utime(path, (EPOCH, EPOCH))
        stamp.write_text(wanted)
    return tree


# --- one measured run, in a child process -------------------------------------------------


def near_floor_digests(image: Path) -> tuple[str, str]:
    """MD5 and SHA-256 of ``image`` in one read (two threads), its fsync overlapping."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = image.stat().st_size
    with (
        image.open("rb") as f,
        mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mapped,
        ThreadPoolExecutor(max_workers=3) as pool,
    ):
        synced = pool.submit(os.fsync, f.fileno())
        for start in range(0, size, 16 << 20):
            with memoryview(mapped)[start : start + (16 << 20)] as block:
                for job in [pool.submit(md5.update, block), pool.submit(sha.update, block)]:
                    job.result()
            mapped.madvise(mmap.MADV_DONTNEED, start, min(16 << 20, size - start))
        synced.result()
    return md5.hexdigest(), sha.hexdigest()


def run_one(kind: str, tree: Path, out: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)}
    if kind == "floor":
        image = out / "floor.tar"
        subprocess.run(["tar", "-cf", str(image), "-C", str(tree), "."], check=True)
        md5, sha = near_floor_digests(image)
        (out / "SUMS").write_text(f"{md5}\n{sha}  {image.name}\n")
    elif kind == "copy":
        subprocess.run(["tar", "-cf", str(out / "copy.tar"), "-C", str(tree), "."], check=True)
        subprocess.run(["sync", str(out / "copy.tar")], check=True)
    elif kind == "peer":
        image = out / "peer.iso"
        peer_master(tree, image, env=env)
        sums = subprocess.run(["sha256sum", str(image)], check=True, capture_output=True)
        (out / "SHA256SUM").write_bytes(sums.stdout)
    elif kind == "build":
        # The sample's gateway RPMs and key, found by the parent (not timed here).
        rpms, key, key_id = json.loads(os.environ["BENCH_SAMPLE"])
        proc = subprocess.run(
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
                str(out / "build"),
            ],  # fmt: skip
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(CODE)},
            cwd=out,  # not the checkout: "-m" would import buildiso from the current folder
        )
        follow = _FOLLOW_LINE.search(proc.stderr)
        (out / "follow.txt").write_text(follow[0] if follow else "")
    elif kind == "master":
        result = buildiso_master(tree, out / "overlay", out / "master.iso")
        follow = getattr(result, "follow", None)
        if follow is not None:
            (out / "follow.txt").write_text(
                f"MD5 under the write: at most {follow.max_lag / 2**20:.0f} MiB behind "
                f"xorriso, {follow.lag_at_finish / 2**20:.0f} MiB left when it finished "
                f"(hashed {follow.tail_seconds:.2f} s after)"
            )
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


Run = dict[str, float | str]


def measure(kind: str, tree: Path, out: Path, *, cold: bool, before: Path | None) -> Run:
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
    follow = out / "follow.txt"
    lag = follow.read_text() if follow.is_file() else ""
    shutil.rmtree(out)
    # CPU time of the whole process tree: less moved by busy neighbours than wall time.
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_kib": peak,
        "follow": lag,
    }


def hash_rates() -> dict[str, float]:
    """MB/s per core (CPU time, so a busy neighbour hardly moves it) of the two digests
    every image needs, MD5 (implanted) and SHA-256 (SHA256SUM), and of the CRC-32 of the
    landed-bytes check, as hashlib and zlib run them here (medians of 3)."""
    block = memoryview(FILLER * 64)  # 64 MiB
    crc32: Callable[[memoryview], object] = zlib.crc32
    rates = {}
    for name in ("md5", "sha256", "crc32"):
        samples = []
        for _ in range(3):
            update = crc32 if name == "crc32" else hashlib.new(name).update
            started = time.thread_time()
            for _ in range(4):
                update(block)
            samples.append(4 * len(block) / (time.thread_time() - started) / 1e6)
        rates[name] = statistics.median(samples)
    return rates


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _meminfo() -> str:
    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())

    def gib(name: str) -> str:
        return f"{int(fields[name].split()[0]) / 2**20:.1f} GiB"

    return (
        f"RAM {gib('MemTotal')}, available {gib('MemAvailable')}, page cache "
        f"{gib('Cached')}, dirty {int(fields['Dirty'].split()[0]) // 1024} MiB"
    )


def _disk(path: Path) -> str:
    df = (
        subprocess.run(
            ["df", "--output=source,fstype,avail", "-h", str(path)], capture_output=True, text=True
        )
        .stdout.splitlines()[-1]
        .split()
    )
    return f"{path} on {df[0]} ({df[1]}), {df[2]} free"


def _machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"{os.cpu_count()} cores ({model})"


class Report:
    """Printed lines, also kept for the --results markdown."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def bench_size(args: argparse.Namespace, kinds: list[str], size: int, say: Report) -> None:
    work: Path = args.work
    t0 = time.monotonic()
    tree = make_tree(work / f"buildtree-{size / 1e9:g}G", size=size)
    files, total = _tree_bytes(tree)
    say(f"### tree {total / 1e9:.2f} GB ({files} files)")
    say()
    say(f"- prepared in {time.monotonic() - t0:.0f} s; {_disk(work)}")
    if not args.cold:
        _warm(tree)
    say(
        "- page cache: "
        + ("dropped before each run (cold)" if args.cold else "warm (tree read once before)")
        + f"; {_meminfo()}"
    )
    say(f"- load before: {_uptime()}")
    runs: dict[str, list[Run]] = {k: [] for k in kinds}
    for r in range(args.rounds):
        order = kinds[r % len(kinds) :] + kinds[: r % len(kinds)]
        for kind in order:
            result = measure(kind, tree, work / "run", cold=args.cold, before=args.before)
            runs[kind].append(result)
            print(
                f"  round {r + 1}: {kind:<13} {result['seconds']:7.2f} s wall"
                f"  {result['cpu']:7.2f} s CPU  {result['follow']}",
                flush=True,
            )
    say(f"- load after: {_uptime()}")
    say()

    def values(kind: str, what: str = "seconds") -> list[float]:
        return [float(r[what]) for r in runs[kind]]

    say(f"| run ({args.rounds} interleaved rounds) | median wall | spread | MB/s | CPU | peak |")
    say("| --- | --- | --- | --- | --- | --- |")
    for kind in kinds:
        wall = values(kind)
        med = statistics.median(wall)
        say(
            f"| {NAMES[kind]} | {med:.2f} s | {min(wall):.2f}-{max(wall):.2f} s"
            f" | {total / med / 1e6:.0f} | {statistics.median(values(kind, 'cpu')):.2f} s"
            f" | {max(values(kind, 'peak_kib')) / 1024:.0f} MiB |"
        )
    say()

    def ratio(a: str, b: str, goal: str) -> None:
        if a in runs and b in runs:
            per_round = [x / y for x, y in zip(values(a), values(b), strict=True)]
            cpu = statistics.median(
                x / y for x, y in zip(values(a, "cpu"), values(b, "cpu"), strict=True)
            )
            spread = ", ".join(f"{v:.2f}" for v in per_round)
            say(
                f"- **{a} / {b}: {statistics.median(per_round):.2f}x** wall"
                f" (per round {spread}; CPU {cpu:.2f}x) — {goal}"
            )

    ratio("build", "floor", "goal <= 1.0")
    ratio("build", "peer", "goal <= 0.6")
    ratio("master", "floor", "mastering alone")
    ratio("build-before", "floor", "before")
    ratio("build-before", "peer", "before")
    ratio("build", "build-before", "after / before")
    ratio("master", "master-before", "after / before")
    for kind in ("build", "master"):
        if kind in runs and (lags := [str(r["follow"]) for r in runs[kind] if r["follow"]]):
            say(f"- {kind}, per round: " + "; ".join(lags))
    say()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size", type=parse_size, action="append", help="tree size, e.g. 1.8G (repeatable)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--cold", action="store_true", help="drop the page cache before runs")
    parser.add_argument("--kinds", default=DEFAULT_KINDS, help=f"of {','.join(KINDS)}")
    parser.add_argument("--work", type=Path, default=paths.DEFAULT_OUT / "bench")
    parser.add_argument("--results", type=Path, help="append the figures to this markdown file")
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout of buildiso (e.g. git archive of main): adds build-before "
        "(and master-before) runs, interleaved with the others",
    )
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_one(args.run_one, args.tree, args.out)
        return 0

    kinds = [k for k in args.kinds.split(",") if k]
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"unknown --kinds {', '.join(sorted(unknown))}")
    if args.before:
        kinds += [f"{k}-before" for k in ("build", "master") if k in kinds]
    say = Report()
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    say(f"## bench_build.py, {stamp}")
    say()
    before = f", before: {args.before}" if args.before else ""
    say(f"- machine: {_machine()}; code: {CODE}{before}")
    say(f"- command: {' '.join(['bench/bench_build.py', *sys.argv[1:]])}")
    rates = hash_rates()
    say(
        f"- hashes on this CPU (one core, CPU time): MD5 {rates['md5']:.0f} MB/s, "
        f"SHA-256 {rates['sha256']:.0f} MB/s, CRC-32 {rates['crc32']:.0f} MB/s"
    )
    say()
    for size in args.size or [parse_size("1.8G")]:
        bench_size(args, kinds, size, say)
    shutil.rmtree(args.work / "run", ignore_errors=True)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with args.results.open("a") as f:
            f.write("\n".join(say.lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
