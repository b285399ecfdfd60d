"""Seconds per guest boot, per architecture, over the whole accepted corpus.

    python benchmarks/bench_guest.py [--workers 2] [--arch x86_64 --arch aarch64]

Boots every accepted golden case (default profile) that the architecture can show in a
real Linux guest (``gi-conform guest``), sequentially and then with ``--workers``
threads, and prints per architecture the median and maximum seconds per boot, the wall
time of each pass and the speed-up, all measured in this one run, then every case whose
checks failed. Needs ``gi-conform guest setup``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from gi_conform import default_profile, parse
from gi_conform.corpus import Case, load_cases
from gi_conform.groundtruth.guest import boot_guest, not_applicable, read_guest_view
from gi_conform.groundtruth.guest_checks import compare_guest
from gi_conform.groundtruth.guest_setup import locate_kit


def _boot(case: Case, arch: str) -> tuple[float, list[str]]:
    domain = parse(case.xml_path.read_bytes())
    profile = default_profile(domain)
    run = boot_guest(domain, profile, locate_kit(arch), timeout=300)
    checks = compare_guest(domain, profile, read_guest_view(run.report))
    return run.seconds, [f"{c.entry}: {c.expected} != {c.seen}" for c in checks if not c.ok]


def _pass(
    cases: list[Case], arch: str, workers: int
) -> tuple[float, list[tuple[float, list[str]]]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda case: _boot(case, arch), cases))
    return time.perf_counter() - start, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--arch", action="append", choices=["x86_64", "aarch64"])
    args = parser.parse_args()
    rows: list[str] = []
    failures: list[str] = []
    for arch in args.arch or ["x86_64", "aarch64"]:
        cases = [
            case
            for case in load_cases()
            if case.accepted and not_applicable(parse(case.xml_path.read_bytes()), arch) is None
        ]
        wall_1, results = _pass(cases, arch, 1)
        wall_n, _ = _pass(cases, arch, args.workers)
        seconds = [s for s, _ in results]
        failures += [
            f"{arch} {case.id}: {'; '.join(failed[:3])}"
            for case, (_, failed) in zip(cases, results, strict=True)
            if failed
        ]
        rows.append(
            f"{arch:<8} {len(cases):>5} {statistics.median(seconds):>8.2f} {max(seconds):>7.2f} "
            f"{wall_1:>8.1f} {wall_n:>8.1f} {wall_1 / wall_n:>6.2f}x"
        )
    print(
        f"{'arch':<8} {'cases':>5} {'median s':>8} {'max s':>7} {'1 worker':>8} "
        f"{f'{args.workers} workers':>8} {'ratio':>7}"
    )
    print("\n".join(rows))
    print(f"failed: {len(failures)}")
    print("\n".join(failures))


if __name__ == "__main__":
    main()
