"""The fuzz targets by name: what each runs, its seeds and the tokens it mutates with.

Seeds come from real outputs gi-conform already has: the golden corpus and its ``.args``
goldens, libvirt 12.8's argv lines in the published report, the reference's protocol
replies for the corpus, and ACPI tables and console logs read from real QEMU guests
(``reference/fuzz-seeds/``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from gi_conform.fuzz.surfaces import acpi_outcome, argv_outcome, protocol_outcome, serial_outcome
from gi_conform.fuzz.xml import XML_TOKENS, xml_outcome
from gi_conform.oracle.impls import reference_answer
from gi_conform.resources import cases_dir, reference_dir

__all__ = ["TARGETS", "Target"]


@dataclass(frozen=True)
class Target:
    """One surface: ``outcome`` fuzzes an input (raising only on a broken contract),
    ``seeds`` gives the starting corpus, ``tokens`` what mutations insert."""

    name: str
    outcome: Callable[[bytes], tuple[Hashable, bool]]
    seeds: Callable[[], list[bytes]]
    tokens: Sequence[bytes]
    suffix: str
    empty: bytes

    def fuzz_one_input(self, data: bytes) -> None:
        """The atheris / HypoFuzz entry: raises only for a bug."""
        self.outcome(data)


def _files(folder: str, pattern: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((reference_dir() / folder).glob(pattern))]


def _xml_seeds() -> list[bytes]:
    return [path.read_bytes() for path in sorted(cases_dir().glob("*.xml"))]


def _argv_seeds() -> list[bytes]:
    goldens = [path.read_bytes() for path in sorted(cases_dir().glob("*.args"))]
    spellings: list[bytes] = []
    for text in goldens[:20]:
        words = [line.rstrip(" \\") for line in text.decode().splitlines()]
        spellings.append(json.dumps(words).encode())
        spellings.append("\n".join(words).encode())
    report = json.loads((reference_dir() / "implementations" / "libvirt-12.8.json").read_text())
    libvirt = [
        "\n".join(line[1:] for line in case["diff"].splitlines() if line.startswith("+-")).encode()
        for case in report["cases"]
        if case.get("diff")
    ]
    return goldens + spellings + [text for text in libvirt if text]


def _protocol_seeds() -> list[bytes]:
    start = {
        "version": 1,
        "implementation": {"name": "reference", "version": "0.1.0", "dialects": ["libvirt"]},
    }
    lines = [json.dumps(start).encode()]
    for seq, path in enumerate(sorted(cases_dir().glob("*.xml"))[:40], start=1):
        reply = reference_answer({"xml": path.read_text("utf-8", "replace"), "profile": "libvirt"})
        lines.append(json.dumps({"seq": seq, **reply}).encode())
    return lines


_ARGV_TOKENS = (
    b"-object ",
    b"-numa ",
    b"-device ",
    b"-machine ",
    b" \\\n",
    b",,",
    b",",
    b"=",
    b"node,nodeid=",
    b"cpus=0-3",
    b"memdev=ram-node0",
    b"dist,src=0,dst=1,val=",
    b"acpi-generic-initiator,id=gi0,pci-dev=hostdev0,node=1",
    b'{"qom-type":"acpi-generic-initiator","id":"gi0","pci-dev":"hostdev0","node":1}',
    b'{"driver":"vfio-pci","host":"0000:06:12.1","id":"hostdev0"}',
    b'{"qom-type":"memory-backend-ram","id":"ram-node0","size":1073741824}',
    b"'",
    b'"',
    b"\\",
    b"[",
    b"]",
    b"{",
    b"}",
    b"hmat=on",
    b"hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=5",
    b"0x",
    b"18446744073709551616",
    b"1G",
    b"\xff",
)
_PROTOCOL_TOKENS = (
    b'"seq":',
    b'"accepted":true',
    b'"accepted":false',
    b'"argv":[',
    b'"rules":["GI-NODE-UNKNOWN"]',
    b'"skipped":true',
    b'"errored":true',
    b'"version":',
    b'"implementation":{"name":"x"}',
    b"null",
    b"1e400",
    b"-0",
    b"[[[[[[[[",
    b'"\\ud800"',
    b"\xff",
    b"{",
    b"}",
    b",",
)
_ACPI_TOKENS = (
    b"SRAT",
    b"SLIT",
    b"HMAT",
    b"RSD PTR ",
    b"\x00\x00\x00\x00",
    b"\xff\xff\xff\xff",
    b"\x05\x20",
    b"\x01\x28",
    b"\x03\x12",
    b"\x00\x10",
)
_SERIAL_TOKENS = (
    b"gi-conform:frame sysfs 10 0123456789abcdef0123456789abcdef\n",
    b"gi-conform:end sysfs\n",
    b"gi-conform:done\n",
    b"[    0.000000] NUMA: Faking a node at [mem 0x0-0xfff]\n",
    b"node/online=0-3\n",
    b"node0/distance=10 20\n",
    b"\r\n",
    b"==",
    b"\x00",
)

TARGETS: dict[str, Target] = {
    "xml": Target("xml", xml_outcome, _xml_seeds, XML_TOKENS, ".xml", b"<domain/>"),
    "argv": Target("argv", argv_outcome, _argv_seeds, _ARGV_TOKENS, ".args", b"-numa node"),
    "protocol": Target(
        "protocol", protocol_outcome, _protocol_seeds, _PROTOCOL_TOKENS, ".jsonl", b"{}"
    ),
    "acpi": Target(
        "acpi",
        acpi_outcome,
        lambda: _files("fuzz-seeds/acpi", "*.bin"),
        _ACPI_TOKENS,
        ".bin",
        b"SRAT",
    ),
    "serial": Target(
        "serial",
        serial_outcome,
        lambda: _files("fuzz-seeds/serial", "*.log"),
        _SERIAL_TOKENS,
        ".log",
        b"gi-conform:done\n",
    ),
}
"""Every target, the default first."""
