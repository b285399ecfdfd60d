"""Seconds per guest boot, per architecture and kernel, in one run.

    python benchmarks/bench_guest.py [--arch x86_64 --arch aarch64]
        [--kernel gi-6.12 --kernel debian-6.1] [--case GLOB ...] [--workers 1]

Boots accepted golden cases (default profile) on every named kernel (default: the built
one and Debian's 6.1), case by case with the kernels back to back so both meet the same
machine load, and prints per architecture and kernel the median and maximum seconds per
boot over the cases every kernel can hold (a case above a kernel's node limit is left
out for all), the wall time, and the median against the last kernel (the baseline);
then every case whose checks failed. Needs ``gi-conform guest setup``.
"""

from __future__ import annotations

import argparse
import fnmatch
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from gi_conform import default_profile, parse
from gi_conform.corpus import Case, load_cases
from gi_conform.groundtruth.guest import GuestKit, boot_guest, not_applicable, read_guest_view
from gi_conform.groundtruth.guest_checks import compare_guest
from gi_conform.groundtruth.guest_setup import locate_kit


def _boot(case: Case, kit: GuestKit) -> tuple[float, list[str]]:
    domain = parse(case.xml_path.read_bytes())
    profile = default_profile(domain)
    run = boot_guest(domain, profile, kit, timeout=300)
    checks = compare_guest(domain, profile, read_guest_view(run.report))
    return run.seconds, [f"{c.entry}: {c.expected} != {c.seen}" for c in checks if not c.ok]


def _each_kernel(case: Case, kits: list[GuestKit]) -> list[tuple[float, float, list[str]]]:
    """One case on every kernel, back to back: (boot s, wall s, failed checks) each."""
    out = []
    for kit in kits:
        start = time.perf_counter()
        boot, failed = _boot(case, kit)
        out.append((boot, time.perf_counter() - start, failed))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", choices=["x86_64", "aarch64"])
    parser.add_argument("--kernel", action="append", metavar="NAME|PATH")
    parser.add_argument("--case", action="append", metavar="GLOB")
    parser.add_argument("--workers", type=int, default=1, help="cases at once (1)")
    args = parser.parse_args()
    names = args.kernel or [None, "debian-6.1"]
    print(
        f"{'arch':<8} {'kernel':<12} {'cases':>5} {'median s':>8} {'max s':>7} "
        f"{'wall s':>7} {'vs last':>7}"
    )
    failures: list[str] = []
    for arch in args.arch or ["x86_64", "aarch64"]:
        kits = [locate_kit(arch, kernel=name) for name in names]
        cases = [
            case
            for case in load_cases()
            if case.accepted
            and (not args.case or any(fnmatch.fnmatch(case.id, g) for g in args.case))
            and all(
                not_applicable(parse(case.xml_path.read_bytes()), arch, kit.about) is None
                for kit in kits
            )
        ]
        seconds: list[list[float]] = [[] for _ in kits]
        walls = [0.0 for _ in kits]

        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            runs = pool.map(lambda case, kits=kits: _each_kernel(case, kits), cases)
            for case, results in zip(cases, runs, strict=True):
                for index, (boot, wall, failed) in enumerate(results):
                    seconds[index].append(boot)
                    walls[index] += wall
                    if failed:
                        kernel = kits[index].about.name if kits[index].about else "?"
                        failures.append(f"{arch} {kernel} {case.id}: {'; '.join(failed[:3])}")
        baseline = statistics.median(seconds[-1]) if cases else 0.0
        for kit, times, wall in zip(kits, seconds, walls, strict=True):
            if not times:
                continue
            median = statistics.median(times)
            name = kit.about.name if kit.about else str(kit.kernel)
            print(
                f"{arch:<8} {name:<12} {len(times):>5} {median:>8.2f} {max(times):>7.2f} "
                f"{wall:>7.1f} {median / baseline:>6.2f}x"
            )
    print(f"failed: {len(failures)}")
    print("\n".join(failures))


if __name__ == "__main__":
    main()
