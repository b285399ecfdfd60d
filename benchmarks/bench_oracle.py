"""Cases checked per second: the same implementation behind ``cmd:`` and ``jsonl:``.

    python benchmarks/bench_oracle.py [--repeats 3] [--generated 200]

The implementation is the reference both ways: ``cmd:`` runs ``python -m gi_conform.cli
argv`` once per case, ``jsonl:`` one ``python -m gi_conform.oracle.serve`` for the whole
run. Each figure is the median of ``--repeats`` full passes over the golden corpus (its
UTF-8 documents, which both protocols can carry), measured in this one run; the ratio is
what a protocol implementation saves an implementer. The in-process reference is shown
for scale, and the whole default job (``gi-conform check``: corpus + generated, document
generation included) is timed once.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time

from gi_conform.oracle.cases import corpus_cases
from gi_conform.oracle.runner import CheckOptions, run_check, select_cases

PYTHON = shlex.quote(sys.executable)
IMPLEMENTATIONS = (
    ("cmd:", f"cmd:{PYTHON} -m gi_conform.cli argv --profile {{profile}} {{}}"),
    ("jsonl:", f"jsonl:{PYTHON} -m gi_conform.oracle.serve reference"),
    ("in-process", "reference"),
)


def _rate(impl: str, repeats: int) -> tuple[float, int]:
    """Median cases per second over ``repeats`` passes, and the cases in one pass."""
    cases = [case for case in corpus_cases() if case.xml is not None]
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run = run_check(CheckOptions(impl=impl, generated=0), cases=cases)
        elapsed = time.perf_counter() - start
        if not run.ok:
            raise SystemExit(f"{impl} did not pass: the benchmark needs a conforming run")
        rates.append(len(cases) / elapsed)
    return statistics.median(rates), len(cases)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--generated", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    options = CheckOptions(generated=args.generated)
    cases = select_cases(options)
    selected = time.perf_counter() - start
    run = run_check(options, cases=cases)
    total = time.perf_counter() - start
    print(
        f"gi-conform check (reference, corpus + {args.generated} generated, "
        f"{len(run.results)} cases): {total:.2f} s, of which case selection and generation "
        f"{selected:.2f} s; {'PASS' if run.ok else 'FAIL'}"
    )
    print()
    rates = {}
    print(f"{'adapter':<12} {'cases':>6} {'cases/s':>10}   (median of {args.repeats})")
    for label, impl in IMPLEMENTATIONS:
        rate, count = _rate(impl, args.repeats)
        rates[label] = rate
        print(f"{label:<12} {count:>6} {rate:>10,.1f}")
    print()
    print(f"jsonl: / cmd: = {rates['jsonl:'] / rates['cmd:']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
