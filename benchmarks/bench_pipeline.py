"""Throughput of the reference pipeline (parse + validate + argv) against lxml alone.

    python benchmarks/bench_pipeline.py [--repeats 7] [--seconds 0.5]

For each document: documents per second for lxml's parse of the same bytes (the floor no
XML-based implementation can beat) and for the whole pipeline, each the median of
``--repeats`` timed batches measured in this one run, the two alternating batch by
batch, and the median of the per-round ratios. Machines are noisy: compare ratios, not
absolute figures, across runs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from lxml import etree

from gi_conform import build_argv, validate
from gi_conform.resources import cases_dir


def _seed_128() -> bytes:
    """128 cells, 16 GPUs, 128 initiators written as seed elements (the slow dialect)."""
    cells = "<cell id='0' cpus='0-15' memory='8388608' unit='KiB'/>" + "".join(
        f"<cell id='{i}' memory='0' unit='KiB'/>" for i in range(1, 128)
    )
    gpus = "".join(
        "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
        f"<address domain='0x0000' bus='0x{0x41 + n:02x}' slot='0x00' function='0x0'/>"
        f"</source><address type='pci' domain='0x0000' bus='0x{n + 1:02x}' slot='0x00' "
        "function='0x0'/></hostdev>"
        for n in range(16)
    )
    initiators = "".join(
        f"<acpi-generic-initiator><pci-dev>hostdev{node // 8}</pci-dev>"
        f"<numa-node>{node}</numa-node></acpi-generic-initiator>"
        for node in range(128)
    )
    return (
        "<domain type='kvm'><name>bench</name><vcpu>16</vcpu>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>"
        f"<cpu><numa>{cells}</numa></cpu><devices>{gpus}{initiators}</devices></domain>"
    ).encode()


def _batch(work: Callable[[], object], seconds: float) -> int:
    """How many calls of ``work`` take about ``seconds``."""
    count = 1
    while True:
        start = time.perf_counter()
        for _ in range(count):
            work()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 4:
            return max(1, int(count * seconds / elapsed))
        count *= 2


def _timed(work: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        work()
    return calls / (time.perf_counter() - start)


def _rates(
    floor: Callable[[], object], pipeline: Callable[[], object], seconds: float, repeats: int
) -> tuple[float, float, float]:
    """Median documents per second of each, and the median of their per-round ratios.

    The two alternate, batch by batch, so a slow spell of a shared machine hits both
    sides of a ratio alike.
    """
    floor_calls, pipeline_calls = _batch(floor, seconds), _batch(pipeline, seconds)
    floors, pipelines, ratios = [], [], []
    for _ in range(repeats):
        floors.append(_timed(floor, floor_calls))
        pipelines.append(_timed(pipeline, pipeline_calls))
        ratios.append(floors[-1] / pipelines[-1])
    return statistics.median(floors), statistics.median(pipelines), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    documents = {
        "seed-example (9 cells, 8 GI)": (cases_dir() / "seed-example.xml").read_bytes(),
        "cells-128 nodeset (128 cells, 16 GPUs, 128 GI)": (
            cases_dir() / "cells-128.xml"
        ).read_bytes(),
        "128 cells, 16 GPUs, 128 seed elements": _seed_128(),
    }
    xml_parser = etree.XMLParser(resolve_entities=False, no_network=True)

    print(f"{'document':<48} {'bytes':>7} {'lxml doc/s':>11} {'pipeline doc/s':>15} {'ratio':>6}")
    for name, data in documents.items():
        report = validate(data)
        assert report.accepted, report.text()

        def pipeline(data: bytes = data) -> object:
            domain = validate(data).domain
            assert domain is not None
            return build_argv(domain)

        def floor(data: bytes = data) -> object:
            return etree.fromstring(data, xml_parser)

        lxml_rate, pipeline_rate, ratio = _rates(floor, pipeline, args.seconds, args.repeats)
        print(
            f"{name:<48} {len(data):>7} {lxml_rate:>11,.0f} {pipeline_rate:>15,.0f} {ratio:>5.1f}x"
        )


if __name__ == "__main__":
    main()
