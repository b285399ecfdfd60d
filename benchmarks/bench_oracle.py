"""Cases checked per second: the same implementation behind ``cmd:`` and ``jsonl:``,
with ``--jobs 1`` and ``--jobs 2``, and real libvirt when it is set up.

    python benchmarks/bench_oracle.py [--repeats 3] [--generated 200] [--no-libvirt]

The implementation is the reference both ways: ``cmd:`` runs ``python -m gi_conform.cli
argv`` once per case, ``jsonl:`` one ``python -m gi_conform.oracle.serve`` for the whole
run. Each figure is the median of ``--repeats`` full passes over the golden corpus (its
UTF-8 documents, which both protocols can carry), measured in this one run; the ratio is
what a protocol implementation saves an implementer. The in-process reference is shown
for scale, and the whole default job (``gi-conform check``: corpus + generated, document
generation included) is timed once. Each implementation runs with ``--jobs 1`` and
``--jobs 2``; the speed-up is their ratio, measured alternately in this run.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time

from gi_conform.libvirt.install import LibvirtUnavailable, locate
from gi_conform.oracle.cases import corpus_cases
from gi_conform.oracle.runner import CheckOptions, run_check, select_cases

PYTHON = shlex.quote(sys.executable)
IMPLEMENTATIONS = (
    ("cmd:", f"cmd:{PYTHON} -m gi_conform.cli argv --profile {{profile}} {{}}"),
    ("jsonl:", f"jsonl:{PYTHON} -m gi_conform.oracle.serve reference"),
    ("in-process", "reference"),
)


def _rate(impl: str, repeats: int, jobs: int) -> tuple[float, int]:
    """Median cases per second over ``repeats`` passes, and the cases in one pass."""
    cases = [case for case in corpus_cases() if case.xml is not None]
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run = run_check(CheckOptions(impl=impl, generated=0, jobs=jobs), cases=cases)
        elapsed = time.perf_counter() - start
        if not run.ok and not impl.startswith("libvirt"):
            raise SystemExit(f"{impl} did not pass: the benchmark needs a conforming run")
        rates.append(len(cases) / elapsed)
    return statistics.median(rates), len(cases)


def _libvirt_available() -> bool:
    try:
        locate(None)
    except LibvirtUnavailable:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--generated", type=int, default=200)
    parser.add_argument("--no-libvirt", action="store_true", help="skip real libvirt")
    args = parser.parse_args()

    start = time.perf_counter()
    options = CheckOptions(generated=args.generated)
    cases = select_cases(options)
    selected = time.perf_counter() - start
    run = run_check(options, cases=cases)
    total = time.perf_counter() - start
    print(
        f"gi-conform check (reference, corpus + {args.generated} generated, "
        f"{len(run.results)} cases, --jobs 1): {total:.2f} s, of which case selection and "
        f"generation {selected:.2f} s; {'PASS' if run.ok else 'FAIL'}"
    )
    print()
    implementations = list(IMPLEMENTATIONS)
    if not args.no_libvirt and _libvirt_available():
        implementations.append(("libvirt", "libvirt"))
    rates: dict[tuple[str, int], float] = {}
    print(
        f"{'adapter':<12} {'cases':>6} {'jobs 1 c/s':>11} {'jobs 2 c/s':>11} {'speed-up':>9}"
        f"   (median of {args.repeats})"
    )
    for label, impl in implementations:
        for jobs in (1, 2):
            rates[(label, jobs)], count = _rate(impl, args.repeats, jobs)
        one, two = rates[(label, 1)], rates[(label, 2)]
        print(f"{label:<12} {count:>6} {one:>11,.1f} {two:>11,.1f} {two / one:>8.2f}x")
    print()
    print(f"jsonl: / cmd: (jobs 1) = {rates[('jsonl:', 1)] / rates[('cmd:', 1)]:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
