"""Booting a real Linux guest on the document's argv and reading what its kernel built.

Table bytes can be right while the guest still loses the nodes (an old aarch64 firmware
makes the kernel discard NUMA and fake one node), so the last word is the guest kernel's.
A guest boots Debian's kernel with gi-conform's initramfs
(:mod:`gi_conform.groundtruth.initramfs`), under TCG, on the same runnable argv
``gi-conform qemu`` uses, and reports over its serial console
(:mod:`gi_conform.groundtruth.serial`); this module turns the report into a
:class:`GuestView`. Node numbers are the kernel's: Linux hands out node ids in the order
it meets proximity domains in the SRAT (:func:`pxm_to_node`), so node N is not cell N
in general.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gi_conform.argv.build import Profile
from gi_conform.bitmap import BitmapError, parse_bitmap
from gi_conform.groundtruth import acpi
from gi_conform.groundtruth.guest_kernels import GuestKernel
from gi_conform.groundtruth.initramfs import build_initramfs
from gi_conform.groundtruth.qemu import QemuRefused, QemuTimeout
from gi_conform.groundtruth.runnable import document_command, memory_size
from gi_conform.groundtruth.serial import DONE_MARKER, SerialReport, read_frames
from gi_conform.model import Domain
from gi_conform.semantics import legacy_numa_mem

__all__ = [
    "AARCH64_MAX_VCPUS",
    "AARCH64_MIN_MEMORY",
    "ARCHITECTURES",
    "AccessClass",
    "GuestKit",
    "GuestNode",
    "GuestPci",
    "GuestReportError",
    "GuestRun",
    "GuestView",
    "boot_command",
    "boot_guest",
    "booting_command",
    "guest_arch",
    "guest_command",
    "not_applicable",
    "pxm_to_node",
    "read_guest_view",
]

ARCHITECTURES = ("x86_64", "aarch64")
_CONSOLE = {"x86_64": "ttyS0", "aarch64": "ttyAMA0"}
_POLL = 0.05
_ACCEL = "tcg,thread=single"
"""One TCG thread for all vCPUs: QEMU 10.0.2's multi-threaded TCG aborted a 16-vCPU,
128-node boot (``iotlb_to_section: Assertion ... failed``) once under load."""


class GuestReportError(ValueError):
    """The guest's console holds no usable report (no sysfs frame); the message says
    what was there instead."""


@dataclass(frozen=True)
class GuestKit:
    """What boots a guest of one architecture: QEMU, kernel, busybox, UEFI firmware
    (aarch64: code and variables images; x86 boots the kernel directly)."""

    arch: str
    qemu: str
    kernel: Path
    busybox: Path
    firmware: Path | None = None
    firmware_vars: Path | None = None
    about: GuestKernel | None = None
    """The kernel's name, release and node limit (None: a bare image, nothing known)."""


@dataclass(frozen=True)
class AccessClass:
    """``/sys/devices/system/node/nodeN/accessC``: the HMAT attributes the kernel derived
    for the best initiators of class C (0: any initiator, 1: CPUs only)."""

    access: int
    initiators: frozenset[int]
    read_latency: int | None = None
    write_latency: int | None = None
    read_bandwidth: int | None = None
    write_bandwidth: int | None = None


@dataclass(frozen=True)
class GuestNode:
    """One node as the guest kernel sees it (kernel node id, MemTotal in KiB)."""

    node: int
    cpus: frozenset[int]
    memory_kb: int | None
    distances: tuple[int, ...]
    access: tuple[AccessClass, ...] = ()


@dataclass(frozen=True)
class GuestPci:
    """A PCI function the guest enumerated: ``DDDD:BB:SS.F``, ids, ``numa_node`` (-1: none)."""

    address: str
    vendor: int
    device: int
    numa_node: int


@dataclass(frozen=True)
class GuestView:
    """Everything the guest reported. Node sets use kernel node ids."""

    possible: frozenset[int]
    online: frozenset[int]
    has_cpu: frozenset[int]
    has_memory: frozenset[int]
    has_generic_initiator: frozenset[int]
    nodes: tuple[GuestNode, ...]
    pci: tuple[GuestPci, ...]
    kernel: str
    log: tuple[str, ...]
    tables: dict[str, bytes] = field(default_factory=dict)

    def node(self, node: int) -> GuestNode | None:
        return next((n for n in self.nodes if n.node == node), None)


@dataclass(frozen=True)
class GuestRun:
    """One boot: the command, the console text, how long it took."""

    command: tuple[str, ...]
    console: str
    seconds: float
    report: SerialReport


# ------------------------------------------------------------------ reading the report


def _bitmap(text: str) -> frozenset[int]:
    text = text.strip()
    if not text:
        return frozenset()
    try:
        return frozenset(parse_bitmap(text, limit=1 << 16))
    except BitmapError:
        return frozenset()


def _int(text: str, base: int = 10) -> int | None:
    try:
        return int(text.strip(), base)
    except ValueError:
        return None


def _access_classes(values: dict[str, str], prefix: str) -> tuple[AccessClass, ...]:
    classes: list[AccessClass] = []
    numbers = sorted(
        {
            number
            for key in values
            if key.startswith(prefix + "access")
            and (number := _int(key[len(prefix) + 6 :].split("/")[0])) is not None
        }
    )
    for number in numbers:
        base = f"{prefix}access{number}/"
        initiators = frozenset(
            node
            for word in values.get(base + "initiators", "").split()
            if word.startswith("node") and (node := _int(word[4:])) is not None
        )
        metrics = {
            name: _int(values[base + name]) if base + name in values else None
            for name in ("read_latency", "write_latency", "read_bandwidth", "write_bandwidth")
        }
        classes.append(AccessClass(number, initiators, **metrics))
    return tuple(classes)


def read_guest_view(report: SerialReport) -> GuestView:
    """The guest's report as a :class:`GuestView` (GuestReportError without one)."""
    raw = report.frames.get("sysfs")
    if raw is None:
        why = "; ".join(report.problems) or "no report frame on the console"
        raise GuestReportError(f"the guest sent no NUMA report ({why})")
    values: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    nodes: list[GuestNode] = []
    for key in sorted(values):
        if key.startswith("node") and key.endswith("/cpulist"):
            number = _int(key[4:].split("/")[0])
            if number is None:
                continue
            prefix = f"node{number}/"
            distances = tuple(
                d for word in values.get(prefix + "distance", "").split() if (d := _int(word))
            )
            nodes.append(
                GuestNode(
                    number,
                    _bitmap(values[key]),
                    _int(values.get(prefix + "memtotal_kb", "")),
                    distances,
                    _access_classes(values, prefix),
                )
            )
    pci: list[GuestPci] = []
    for key, value in values.items():
        if key.startswith("pci/"):
            words = value.split()
            if len(words) == 3:
                vendor, device, node = _int(words[0], 16), _int(words[1], 16), _int(words[2])
                if vendor is not None and device is not None and node is not None:
                    pci.append(GuestPci(key[4:], vendor, device, node))
    log = tuple(report.frames.get("dmesg", b"").decode("utf-8", "replace").splitlines())
    return GuestView(
        possible=_bitmap(values.get("node/possible", "")),
        online=_bitmap(values.get("node/online", "")),
        has_cpu=_bitmap(values.get("node/has_cpu", "")),
        has_memory=_bitmap(values.get("node/has_memory", "")),
        has_generic_initiator=_bitmap(values.get("node/has_generic_initiator", "")),
        nodes=tuple(sorted(nodes, key=lambda n: n.node)),
        pci=tuple(sorted(pci, key=lambda p: p.address)),
        kernel=values.get("kernel", ""),
        log=log,
        tables={
            name.removeprefix("table-"): data
            for name, data in report.frames.items()
            if name.startswith("table-")
        },
    )


def pxm_to_node(entries: Sequence[acpi.SratEntry]) -> dict[int, int]:
    """Linux's proximity-domain-to-node map for this SRAT (``acpi_numa_init``): enabled
    processor (LAPIC, x2APIC, GICC) and Generic Initiator entries in table order first,
    then enabled memory entries; each new domain takes the next node id."""
    mapping: dict[int, int] = {}

    def meet(domain: int) -> None:
        if domain not in mapping:
            mapping[domain] = len(mapping)

    first_pass = (
        acpi.LapicAffinity,
        acpi.X2apicAffinity,
        acpi.GiccAffinity,
        acpi.GenericInitiatorAffinity,
    )
    for entry in entries:
        if isinstance(entry, first_pass) and entry.enabled:
            meet(entry.proximity_domain)
    for entry in entries:
        if isinstance(entry, acpi.MemoryAffinity) and entry.enabled:
            meet(entry.proximity_domain)
    return mapping


# ------------------------------------------------------------------ booting


AARCH64_MIN_MEMORY = 128 << 20
"""sid's EDK2 stops with "Synchronous Exception" in a 64 MiB aarch64 guest (measured)."""
AARCH64_MAX_VCPUS = 64
"""The most vCPUs an aarch64 guest boots with here under TCG (measured on gi-6.12,
2026-12-07: a 64-CPU build brought up 64 of 96 vCPUs within 180 s; the 512-CPU build,
bringing up all 96, gave no report within 800 s)."""


def not_applicable(domain: Domain, arch: str, kernel: GuestKernel | None = None) -> str | None:
    """Why a guest of ``arch`` (booting ``kernel``) cannot show this document, or None."""
    if arch == "aarch64" and domain.pci_root_bus == "pci.0":
        return "an i440fx machine is x86 only"
    memory = memory_size(domain)  # the cells' sum with NUMA, as libvirt and QEMU take it
    if arch == "aarch64" and 0 < memory < AARCH64_MIN_MEMORY:
        return f"UEFI needs more than {memory >> 20} MiB (its firmware stops)"
    if arch == "aarch64" and (domain.vcpus or 1) > AARCH64_MAX_VCPUS:
        return (
            f"an aarch64 TCG guest with more than {AARCH64_MAX_VCPUS} vCPUs does not come up "
            "here (96 gave no report within 800 s, 2026-12-07)"
        )
    if arch == "aarch64" and legacy_numa_mem(domain) and (domain.vcpus or 1) > 8:
        return "a legacy mem= machine (virt-5.0) runs on a GICv2 here, which holds 8 vCPUs"
    limit = None if kernel is None else kernel.node_limit
    if limit is not None and len(domain.cells) > limit:
        return f"kernel {kernel.name if kernel else ''} holds {limit} NUMA nodes at most"
    return None


def guest_arch(domain: Domain) -> str:
    """The document's ``<os><type arch>`` as a guest architecture (x86_64 by default)."""
    arch = domain.arch or "x86_64"
    return "x86_64" if arch in ("x86_64", "i686") else arch


def guest_command(
    domain: Domain, profile: Profile, kit: GuestKit, initrd: Path, serial: Path
) -> list[str]:
    """The runnable argv ``gi-conform qemu`` would run, made a booting guest
    (:func:`booting_command`)."""
    return booting_command(
        document_command(domain, profile, kit.qemu, arch=kit.arch), kit, initrd, serial
    )


def booting_command(command: Sequence[str], kit: GuestKit, initrd: Path, serial: Path) -> list[str]:
    """Any runnable argv with one TCG thread, a kernel, our initramfs, a serial console
    into ``serial``, and (aarch64) ``-cpu max`` (the last ``-cpu`` wins: the kernel is
    arm64, the ``virt`` machine's default CPU is not) and the UEFI firmware in pflash."""
    booting = list(command)
    if "-accel" in booting:
        booting[booting.index("-accel") + 1] = _ACCEL
    else:
        booting += ["-accel", _ACCEL]
    console = _CONSOLE[kit.arch]
    append = f"console={console} quiet panic=-1"
    if kit.arch == "aarch64":
        if not any("acpi=off" in token for token in booting):  # libvirt's acpi=off: the DT
            append += " acpi=force"
        booting += ["-cpu", "max"]
        if kit.firmware is not None:
            booting += ["-drive", f"if=pflash,format=raw,readonly=on,file={kit.firmware}"]
        if kit.firmware_vars is not None:
            booting += ["-drive", f"if=pflash,format=raw,snapshot=on,file={kit.firmware_vars}"]
    return [
        *booting,
        "-kernel",
        str(kit.kernel),
        "-initrd",
        str(initrd),
        "-append",
        append,
        "-serial",
        f"file:{serial}",
        "-no-reboot",
    ]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def boot_guest(
    domain: Domain,
    profile: Profile,
    kit: GuestKit,
    *,
    timeout: float = 60.0,
    keep_logs: Path | None = None,
) -> GuestRun:
    """Boot the document's runnable argv (:func:`boot_command`)."""
    command = document_command(domain, profile, kit.qemu, arch=kit.arch)
    return boot_command(command, kit, timeout=timeout, keep_logs=keep_logs)


def boot_command(
    command: Sequence[str],
    kit: GuestKit,
    *,
    timeout: float = 60.0,
    keep_logs: Path | None = None,
) -> GuestRun:
    """Boot a runnable argv as a guest until it reports and powers off; QemuRefused when
    QEMU will not start the command, QemuTimeout when no complete report came within
    ``timeout``. The command must let a powered-off guest end QEMU (no ``-no-shutdown``)."""
    with tempfile.TemporaryDirectory(prefix="gi-conform-guest-") as folder:
        work = Path(folder)
        initrd = work / "initrd.gz"
        initrd.write_bytes(build_initramfs(kit.busybox.read_bytes()))
        serial = work / "console.log"
        booting = booting_command(command, kit, initrd, serial)
        stderr_path = work / "qemu.stderr"
        start = time.monotonic()
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                booting,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
            try:
                status = _wait(process, start + timeout, serial)
            finally:
                _stop(process)
        seconds = time.monotonic() - start
        console = serial.read_text("utf-8", "replace") if serial.exists() else ""
        stderr_text = stderr_path.read_text("utf-8", "replace").strip()
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            (keep_logs / "console.log").write_text(console, encoding="utf-8")
            (keep_logs / "qemu.stderr").write_text(stderr_text, encoding="utf-8")
            (keep_logs / "command").write_text(" ".join(booting) + "\n", encoding="utf-8")
            shutil.copy(initrd, keep_logs / "initrd.gz")
        report = read_frames(console)
        if status is None and not report.done:
            raise QemuTimeout(f"the guest did not report within {timeout:g} s")
        if status not in (None, 0) and not report.done:
            raise QemuRefused(status, stderr_text)
        return GuestRun(tuple(booting), console, seconds, report)


def _wait(process: subprocess.Popen[bytes], deadline: float, serial: Path) -> int | None:
    """QEMU's exit status, 0 as soon as the console holds the done marker (the report is
    complete; powering off takes a TCG guest another second or more), or None at the
    deadline."""
    while time.monotonic() < deadline:
        status = process.poll()
        if status is not None:
            return status
        if _reported(serial):
            return 0
        time.sleep(_POLL)
    return None


def _reported(serial: Path) -> bool:
    """Whether the console's last bytes hold the done marker at the end of a line (EDK2's
    terminal escapes may precede it on aarch64 without ACPI)."""
    try:
        with serial.open("rb") as console:
            console.seek(0, os.SEEK_END)
            console.seek(max(0, console.tell() - 256))
            tail = console.read()
    except OSError:
        return False
    return any(line.strip().endswith(DONE_MARKER.encode()) for line in tail.splitlines())
