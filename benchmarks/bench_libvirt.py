"""Seconds per document in real libvirt against the reference, and the corpus through both.

    python benchmarks/bench_libvirt.py [--dir DIR] [--calls 30] [--workers 4]

Needs ``gi-conform libvirt setup`` first (root). Measures, in this one run: libvirt's
first call on a cold driver root (it probes QEMU), on a new root seeded with the warmed
capability cache, the median per call after warm-up for three documents beside the
reference's median per document (validate + argv), and the whole golden corpus
sequentially and with ``--workers`` threads (one embedded-driver root each).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from gi_conform import build_argv, flatten, validate
from gi_conform.argv.build import Profile
from gi_conform.libvirt.convert import convert
from gi_conform.libvirt.install import Libvirt, locate
from gi_conform.resources import cases_dir

DOCUMENTS = ("libvirt-11.8-example", "cells-128", "gi-node-syntax-nodeset")
_SCRATCH_DRIVER = 90


def _reference(xml: bytes) -> None:
    report = validate(xml)
    if report.accepted and report.domain is not None:
        flatten(build_argv(report.domain, Profile.LIBVIRT))


def _median_seconds(action: Callable[[], object], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _first_call(libvirt: Libvirt, xml: bytes, *, cold: bool) -> float:
    """One call on a new driver root: with an empty cache when ``cold``, else seeded."""
    root = libvirt.root / f"var/lib/gi-conform/embed-{_SCRATCH_DRIVER}"
    shutil.rmtree(root, ignore_errors=True)
    if cold:
        (root / "cache/qemu/capabilities").mkdir(parents=True)
    try:
        return convert(xml, libvirt=libvirt, driver=_SCRATCH_DRIVER, timeout=300).seconds
    finally:
        shutil.rmtree(root, ignore_errors=True)
        (libvirt.home / "locks" / f"embed-{_SCRATCH_DRIVER}.lock").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    libvirt = locate(args.dir)
    example = (cases_dir() / f"{DOCUMENTS[0]}.xml").read_bytes()
    print(libvirt.describe())
    if libvirt.in_chroot:
        cold = _first_call(libvirt, example, cold=True)
        seeded = _first_call(libvirt, example, cold=False)
        print(f"first call, cold driver root (QEMU probe): {cold:.3f} s")
        print(f"first call, new root with seeded cache:    {seeded:.3f} s")

    print()
    print("| document | bytes | libvirt s/call | reference s/doc | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name in DOCUMENTS:
        xml = (cases_dir() / f"{name}.xml").read_bytes()
        convert(xml, libvirt=libvirt, timeout=60)  # warm-up
        real = _median_seconds(partial(convert, xml, libvirt=libvirt, timeout=60), args.calls)
        reference = _median_seconds(partial(_reference, xml), args.calls * 10)
        print(f"| {name} | {len(xml)} | {real:.4f} | {reference:.6f} | {real / reference:,.0f}x |")

    cases = [case["id"] for case in json.loads((cases_dir() / "index.json").read_text())["cases"]]
    documents = [(cases_dir() / f"{case}.xml").read_bytes() for case in cases]
    print()
    print(f"| corpus pass ({len(documents)} cases) | wall s | s/case |")
    print("|---|---:|---:|")
    for workers in (1, args.workers):
        start = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda xml: convert(xml, libvirt=libvirt, timeout=60), documents))
        wall = time.perf_counter() - start
        print(f"| {workers} worker(s) | {wall:.2f} | {wall / len(documents):.3f} |")
    start = time.perf_counter()
    for xml in documents:
        _reference(xml)
    wall = time.perf_counter() - start
    print(f"| reference, in-process | {wall:.3f} | {wall / len(documents):.5f} |")


if __name__ == "__main__":
    main()
