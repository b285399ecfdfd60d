"""Seconds per case for ground truth in real QEMU, and the whole accepted corpus.

    python benchmarks/bench_qemu.py [--workers 2]

Runs every accepted golden case (default profile) through ``read_tables`` + ``compare_tables``
sequentially, then with ``--workers`` threads, and prints the median seconds per case,
the wall time of each pass, and the speed-up, all measured in this one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from gi_conform import default_profile, parse
from gi_conform.corpus import Case, load_cases
from gi_conform.groundtruth.qemu import find_qemu, read_tables
from gi_conform.groundtruth.runnable import document_command
from gi_conform.groundtruth.tables import compare_tables


def _verify(case: Case, binary: str) -> tuple[float, bool]:
    start = time.perf_counter()
    domain = parse(case.xml_path.read_bytes())
    profile = default_profile(domain)
    checks = compare_tables(domain, profile, read_tables(document_command(domain, profile, binary)))
    return time.perf_counter() - start, all(check.ok for check in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    binary = find_qemu()
    cases = [case for case in load_cases() if case.accepted]

    start = time.perf_counter()
    sequential = [_verify(case, binary.path) for case in cases]
    wall_sequential = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        parallel = list(pool.map(lambda case: _verify(case, binary.path), cases))
    wall_parallel = time.perf_counter() - start

    passed = sum(ok for _, ok in sequential)
    print(f"QEMU {'.'.join(map(str, binary.version))}, {len(cases)} accepted cases")
    print(f"{'pass':<22} {'median s/case':>14} {'max s/case':>11} {'wall s':>8} {'passed':>7}")
    for name, rows, wall in (
        ("sequential", sequential, wall_sequential),
        (f"{args.workers} workers", parallel, wall_parallel),
    ):
        times = [seconds for seconds, _ in rows]
        ok = sum(good for _, good in rows)
        print(
            f"{name:<22} {statistics.median(times):>14.3f} {max(times):>11.3f}"
            f" {wall:>8.2f} {ok:>4}/{len(rows)}"
        )
    print(f"speed-up with {args.workers} workers: {wall_sequential / wall_parallel:.2f}x")
    assert passed == len(cases), "some cases did not match the guest's SRAT"


if __name__ == "__main__":
    main()
