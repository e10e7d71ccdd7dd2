#!/usr/bin/env python3
"""Benchmark the install-set closure on a DVD-scale base against dnf's own resolution.

The base is tests/dvd_factory.py's synthetic RHEL 6 DVD (~3,700 packages: i686 library
copies, two versions of some names, file requires from primary and filelists, virtual
provides, obsoletes, a conflict the kickstart's exclusion avoids), cached under
out/cache/dvd-synthetic/. In the same run, best of ``--runs``:

  buildiso  load_media (repomd + libsolv reading primary/filelists) + resolve_install_set
            (kickstart layer, libsolv, chains, problems), in this process
  dnf       ``dnf --installroot … install --assumeno`` on the same tree and %packages
            (its process start, metadata loading and resolution: what a user waits for)

and checks that both picked the same packages. Target: buildiso's closure < 2 s.

    .venv/bin/python bench/bench_depsolve.py --runs 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from dnf_referee import dnf_resolve  # noqa: E402
from dvd_factory import KICKSTART, dvd_tree  # noqa: E402

from buildiso.compose.depsolve import SOLVER, resolve_install_set  # noqa: E402
from buildiso.compose.kspackages import parse_packages  # noqa: E402
from buildiso.compose.repo import load_media  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tree = dvd_tree()
    ours_times, dnf_times = [], []
    ours: set[tuple[str, str, str]] = set()
    theirs: set[tuple[str, str, str]] = set()
    packages = 0
    for _ in range(args.runs):
        started = time.monotonic()
        media = load_media(tree)
        closure = resolve_install_set(ks_packages=parse_packages(KICKSTART), media=media)
        ours_times.append(time.monotonic() - started)
        packages = len(list(media.pool.solvables_iter()))
        if not closure.ok:
            print("\n".join(closure.problems(filename="ks.cfg")))
            return 1
        ours = {(p.name, str(p.evr), p.arch) for p in closure.packages}
        with tempfile.TemporaryDirectory(prefix="bench-dnf-") as tmp:
            result = dnf_resolve(tree=tree, ks_text=KICKSTART, workdir=Path(tmp))
        dnf_times.append(result.seconds)
        theirs = result.install_set
    best_ours, best_dnf = min(ours_times), min(dnf_times)
    print(f"base: {packages} packages ({tree}); install set: {len(ours)} packages")
    print(f"solver: {SOLVER}")
    print(f"buildiso closure (load + resolve): best {best_ours:.2f} s of {args.runs}")
    print(f"dnf install --assumeno:            best {best_dnf:.2f} s of {args.runs}")
    print(f"ratio buildiso / dnf: {best_ours / best_dnf:.2f}x   (target: buildiso < 2 s)")
    print(f"same install set as dnf: {ours == theirs}")
    return 0 if ours == theirs and best_ours < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
