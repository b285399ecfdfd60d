"""Proof by real QEMU: what libvirt's own command line does to a guest.

When libvirt accepts a document the reference rejects (or drops initiators the reference
emits), the difference only matters if the guest can tell. This module takes libvirt's
*full* argv, replaces only what needs this host's resources (VFIO devices, host USB and
SCSI devices, disk images, sockets, the KVM accelerator, a machine version this QEMU
lacks), runs it in the host's QEMU and reads the guest's SRAT back through
:mod:`gi_conform.groundtruth.qemu`; on aarch64, where the UEFI firmware publishes the
tables, it boots the argv as a Linux guest (:mod:`gi_conform.groundtruth.guest`) and
reads the SRAT the guest kernel received. The verdict:

* ``qemu-refuses``: QEMU will not start libvirt's command line (its exact message);
* ``srat-missing``: QEMU runs it, but the guest's SRAT lacks a generic initiator the
  document asked for (each one listed);
* ``no-visible-difference``: the guest sees every initiator asked for: libvirt was
  merely laxer than the reference;
* ``inconclusive``: no verdict (no QEMU for the architecture, the firmware published no
  tables in time, an aarch64 guest that did not report, or the reference cannot read
  the document to know what it asked for).

The first two prove a libvirt gap.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePath

from lxml import etree

from gi_conform.argv.facts import semantic_facts
from gi_conform.argv.invariants import check_invariants
from gi_conform.argv.options import OptionValue
from gi_conform.argv.read import VFIO_PCI_DRIVERS, device_key, read_argv
from gi_conform.document.validate import validate
from gi_conform.document.xml import hardened_parser
from gi_conform.groundtruth import acpi, qemu
from gi_conform.groundtruth.guest import GuestReportError, boot_command, read_guest_view
from gi_conform.groundtruth.guest_checks import guest_placements, guest_tables
from gi_conform.groundtruth.guest_setup import GuestUnavailable, locate_kit
from gi_conform.groundtruth.runnable import (
    machine_types,
    runnable_libvirt_argv,
    with_acpi,
    with_readback_memory,
)
from gi_conform.libvirt.convert import LibvirtError, LibvirtTimeout, convert, reduce
from gi_conform.libvirt.install import Libvirt
from gi_conform.model import Domain, PciAddress
from gi_conform.oracle.model import CheckCase
from gi_conform.semantics import source_key

__all__ = [
    "GUEST_MIN_MEMORY",
    "GUEST_TIMEOUT",
    "AskedInitiator",
    "CaseProof",
    "Proof",
    "ProofRun",
    "ProofVerdict",
    "Selection",
    "asked_initiators",
    "host_property_refusal",
    "lenient_domain",
    "missing_initiators",
    "prove",
    "prove_cases",
    "refused_for_the_host",
    "selection",
]


class ProofVerdict(enum.StrEnum):
    """What real QEMU made of libvirt's argv; the first two prove a libvirt gap."""

    QEMU_REFUSES = "qemu-refuses"
    SRAT_MISSING = "srat-missing"
    NO_VISIBLE_DIFFERENCE = "no-visible-difference"
    INCONCLUSIVE = "inconclusive"

    @property
    def proves_gap(self) -> bool:
        return self in (ProofVerdict.QEMU_REFUSES, ProofVerdict.SRAT_MISSING)


@dataclass(frozen=True)
class AskedInitiator:
    """One (device, node) pair the document asks for, with how to find the device.

    ``host`` is the device's host key as the argv reader spells it (``DDDD:BB:SS.F`` or
    the mdev's sysfs path), ``None`` when the source could not be read; ``index`` is the
    device's position among the document's PCI hostdevs (mdev included), the order
    libvirt emits them in; ``None`` for a USB or SCSI device (never PCI).
    """

    alias: str
    source: str
    """The source as the document gives it, for messages (``pci 0000:06:12.1``)."""
    host: str | None
    index: int | None
    node: int

    def text(self) -> str:
        return f"{self.alias} ({self.source}) -> node {self.node}"


@dataclass(frozen=True)
class Proof:
    """The verdict of real QEMU on libvirt's argv for one document.

    ``message`` is QEMU's exact standard error for ``qemu-refuses``, else a one-line
    summary; ``details`` lists the missing initiators (``srat-missing``), what was seen
    otherwise; ``changes`` is what was changed in libvirt's argv to run it here.
    """

    verdict: ProofVerdict
    message: str
    details: tuple[str, ...] = ()
    seconds: float = 0.0
    changes: tuple[str, ...] = ()
    command: tuple[str, ...] = field(default=(), repr=False)

    @property
    def proves_gap(self) -> bool:
        return self.verdict.proves_gap

    def as_json(self) -> dict[str, object]:
        return {
            "verdict": str(self.verdict),
            "message": self.message,
            "details": list(self.details),
            "seconds": round(self.seconds, 3),
            "changes": list(self.changes),
        }


# ------------------------------------------------------------------ what was asked


def asked_initiators(domain: Domain) -> tuple[AskedInitiator, ...]:
    """Every (device, node) pair the document asks for, both dialects, read leniently.

    The reference rejected these documents, so the model may hold ``None`` fields
    (:func:`gi_conform.document.validate.validate` still returns it): a node that could not be
    read asks for nothing; a seed element naming no hostdev asks for nothing a guest
    could show. Pairs are de-duplicated, in document order.
    """
    pci_index: dict[str, int] = {}
    for hostdev in domain.hostdevs:
        if hostdev.kind.is_pci:
            pci_index.setdefault(hostdev.alias, len(pci_index))
    pairs: dict[tuple[str, int], AskedInitiator] = {}

    def add(alias: str, node: int) -> None:
        hostdev = domain.hostdev(alias)
        if hostdev is None or (alias, node) in pairs:
            return
        if isinstance(hostdev.source, PciAddress):
            source = f"pci {hostdev.source}"
        elif hostdev.source is not None:
            source = str(hostdev.source)
        else:
            source = f"{hostdev.kind} source unreadable"
        pairs[alias, node] = AskedInitiator(
            alias=alias,
            source=source,
            host=source_key(hostdev.source),
            index=pci_index.get(alias),
            node=node,
        )

    for hostdev in domain.hostdevs:
        for node in hostdev.nodeset or ():
            add(hostdev.alias, node)
    for initiator in domain.initiators:
        if initiator.device is not None and initiator.node is not None:
            add(initiator.device, initiator.node)
    return tuple(pairs.values())


def lenient_domain(document: bytes | str) -> tuple[Domain | None, str | None]:
    """The document's model even when the reference will not read it, and how it was read.

    :func:`gi_conform.document.validate.validate` gives a model for any document it can read,
    however invalid. It refuses to read some on purpose (over 4 MiB, a DTD: hostile
    input); real libvirt reads them. To know what such a document asks for, it is read
    once more with comments, the DTD and entity references dropped (nothing expanded,
    nothing fetched) and the result validated; the note says so.
    """
    report = validate(document)
    if report.domain is not None:
        return report.domain, None
    data = document.encode("utf-8") if isinstance(document, str) else document
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError:
        return None, None
    for entity in list(root.iter(etree.Entity)):
        parent = entity.getparent()
        if parent is not None:
            text = entity.tail or ""
            previous = entity.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + text
            else:
                parent.text = (parent.text or "") + text
            parent.remove(entity)
    domain = validate(etree.tostring(root)).domain
    rules = ", ".join(dict.fromkeys(v.rule for v in report.errors))
    if domain is None:
        return None, None
    return domain, (
        f"the reference refuses to read the document ({rules}); what it asks for was read "
        "with comments, DTD and entity references dropped"
    )


def _device_ids(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """libvirt's vfio-pci devices: host key -> id, and the ids in argv order."""
    reading = read_argv(list(argv[1:]))
    by_host: dict[str, str] = {}
    ordered: list[str] = []
    for device in reading.devices:
        if device.driver not in VFIO_PCI_DRIVERS or device.id is None:
            continue
        ordered.append(device.id)
        key = device_key(device)
        if key is not None:
            by_host.setdefault(key, device.id)
    return by_host, ordered


def missing_initiators(
    asked: Sequence[AskedInitiator],
    libvirt_argv: Sequence[str],
    readback: qemu.TableReadback,
    *,
    located_by: str = "query-pci",
) -> tuple[list[str], list[str]]:
    """``(missing, seen)``: asked-for initiators absent from the guest's SRAT, and found.

    A device is found in libvirt's argv by its host address (or mdev path), else by its
    position among the PCI hostdevs (also when that one is an iommufd device, which has
    no host address in the argv); the guest placement of that id (``readback.pci``,
    from ``located_by``: ``query-pci``, or the guest's own PCI scan) with the node must
    be an enabled type-5 entry.
    """
    by_host, ordered = _device_ids(libvirt_argv)
    # an iommufd vfio-pci has no "host" in the argv (its fd is passed at start): by position
    hostless = {device_id for key, device_id in by_host.items() if key.startswith("id:")}
    entries = {
        (gi.proximity_domain, gi.pci_segment or 0, gi.pci_bus, gi.pci_devfn)
        for gi in readback.generic_initiators
    }
    has_srat = "SRAT" in readback.table_signatures
    missing: list[str] = []
    seen: list[str] = []
    for pair in asked:
        if pair.index is None:
            missing.append(f"{pair.text()}: not a PCI device, no SRAT entry can name it")
            continue
        device_id = by_host.get(pair.host) if pair.host is not None else None
        by_position = ordered[pair.index] if pair.index < len(ordered) else None
        if device_id is None and (pair.host is None or by_position in hostless):
            device_id = by_position
        if device_id is None:
            missing.append(f"{pair.text()}: the device is not in libvirt's argv")
            continue
        placement = readback.pci.get(device_id)
        if placement is None:
            missing.append(f"{pair.text()}: device {device_id} not found by {located_by}")
            continue
        where = f"PCI 0000:{placement.bus:02x}:{placement.slot:02x}.{placement.function:x}"
        if (pair.node, 0, placement.bus, placement.devfn) in entries:
            seen.append(f"{pair.text()}: SRAT entry node {pair.node}, {where}")
        elif not has_srat:
            missing.append(f"{pair.text()}: QEMU built no SRAT")
        else:
            missing.append(f"{pair.text()}: no SRAT entry for node {pair.node}, {where}")
    return missing, seen


# ------------------------------------------------------------------ proving


def _host_binary(argv: Sequence[str]) -> str:
    """This host's QEMU for the architecture libvirt chose (by binary name); for aarch64,
    when none is on PATH, the one ``gi-conform guest setup`` unpacked."""
    name = PurePath(argv[0]).name if argv else "qemu-system-x86_64"
    try:
        return qemu.find_qemu(name or "qemu-system-x86_64").path
    except qemu.QemuUnavailable:
        if name != _AARCH64_QEMU:
            raise
        try:
            kit = locate_kit("aarch64")
        except GuestUnavailable:
            raise qemu.QemuUnavailable(
                f"{name} not found on PATH, and no guest kit: run 'gi-conform guest setup'"
            ) from None
        return qemu.find_qemu(kit.qemu).path


_AARCH64_QEMU = "qemu-system-aarch64"

GUEST_MIN_MEMORY = 256 * 1024 * 1024
"""RAM an aarch64 guest boot gets at least (measured: EDK2 2026.08 stops with a
"Synchronous Exception" in 128 MiB, boots in 256 MiB); the verdict run keeps libvirt's."""
GUEST_TIMEOUT = 120.0
"""Seconds an aarch64 guest has to report (``gi-conform guest``'s default; a boot takes
about 7-20 s under TCG)."""
_GUEST_PCI = "the guest's PCI scan at libvirt's bus and addr"


class _Unseen(RuntimeError):
    """The guest showed no SRAT to judge (no report, no tables): the message says why."""


def _boot_argv(argv: Sequence[str], memory: int | None) -> tuple[list[str], list[str]]:
    """The argv an aarch64 guest boots, and each change: RAM for EDK2, and what would
    keep a powered-off guest's QEMU alive or take its console."""
    grown, note = with_readback_memory(argv, memory, GUEST_MIN_MEMORY)
    notes = [
        "boot only: the guest kit's UEFI firmware in pflash (libvirt's loader and nvram "
        "are the chroot's), its arm64 kernel with gi-conform's initramfs, -cpu max, "
        "one TCG thread, serial console"
    ]
    if note is not None:
        notes.append(f"boot only: RAM {memory} -> {GUEST_MIN_MEMORY} bytes (EDK2 needs it)")
    out = [grown[0]]
    index = 1
    while index < len(grown):
        flag = grown[index]
        if flag == "-no-shutdown":
            notes.append("boot only: -no-shutdown dropped (the guest's power-off ends QEMU)")
            index += 1
        elif flag == "-serial" and index + 1 < len(grown):
            notes.append(f"boot only: -serial {grown[index + 1]} dropped (the console is ours)")
            index += 2
        else:
            out.append(flag)
            index += 1
    return out, notes


def _guest_readback(
    argv: Sequence[str], memory: int | None, timeout: float
) -> tuple[qemu.TableReadback, list[str]]:
    """Boot ``argv`` as an aarch64 guest and read the SRAT its kernel received, devices
    placed by the guest's own PCI scan; _Unseen when the guest gives nothing to judge."""
    try:
        kit = locate_kit("aarch64")
    except GuestUnavailable as error:
        raise _Unseen(f"no aarch64 guest kit to boot it: {error}") from None
    booting, notes = _boot_argv(argv, memory)
    try:
        view = read_guest_view(boot_command(booting, kit, timeout=timeout).report)
    except qemu.QemuRefused as refused:
        raise _Unseen(f"the guest boot failed: {refused.stderr.strip()}") from None
    except (qemu.QemuTimeout, GuestReportError) as error:
        raise _Unseen(str(error)) from None
    nodes = len(read_argv(list(booting[1:])).numa_nodes)
    if "SRAT" not in view.tables and nodes:
        # QEMU builds an SRAT whenever there are NUMA nodes: the firmware dropped it.
        raise _Unseen(f"the guest got no SRAT from its firmware ({nodes} NUMA nodes)")
    try:
        return guest_tables(view, guest_placements(booting, view)), notes
    except acpi.AcpiTableError as error:
        raise _Unseen(f"the guest's ACPI tables do not decode: {error}") from None


_PROPERTY_REFUSAL = "doesn't take value"
"""QEMU's words when it cannot even parse a property (as opposed to a missing device)."""


def host_property_refusal(
    libvirt_argv: Sequence[str], binary: str, timeout: float = 10.0
) -> str | None:
    """QEMU's refusal of a ``vfio-pci`` ``host`` value it cannot parse, if any.

    The stand-ins drop the host address, so a value QEMU would never accept (a PCI
    domain above 0xffff, say) needs its own check: each device alone, on a bare q35.
    QEMU parses the property before it looks for the device, so on a host without it
    a parsable address fails with "no such host device" instead, which proves nothing.
    """
    for index, option in enumerate(libvirt_argv[:-1]):
        if option != "-device":
            continue
        props = OptionValue.read(libvirt_argv[index + 1], "driver")
        if props is None or props.values.get("driver") not in VFIO_PCI_DRIVERS:
            continue
        host = props.values.get("host")
        if not isinstance(host, str):
            continue
        probe = [binary, "-machine", "q35", "-accel", "tcg", "-nodefaults", "-display", "none"]
        probe += ["-device", json.dumps({"driver": "vfio-pci", "host": host})]
        status, stderr = qemu.run_argv_check(probe, timeout=timeout)
        if status != 0 and _PROPERTY_REFUSAL in stderr:
            return stderr.strip()
    return None


_HOST_LIMITS = ("Cannot allocate memory", "Out of memory", "No space left on device")
"""QEMU's words when this host, not the command line, is what fails (an errno string)."""


def refused_for_the_host(stderr: str) -> bool:
    """Whether QEMU's refusal is about this host's resources (a guest bigger than its
    memory), which proves nothing about libvirt's argv."""
    return any(limit in stderr for limit in _HOST_LIMITS)


def prove(
    document: bytes | str,
    libvirt_argv: Sequence[str],
    *,
    domain: Domain | None = None,
    timeout: float = 20.0,
    binary: str | None = None,
    guest_timeout: float = GUEST_TIMEOUT,
) -> Proof:
    """Run libvirt's argv for ``document`` in real QEMU and judge what the guest sees.

    ``domain`` is the document's lenient model (default: what
    :func:`gi_conform.document.validate.validate` reads, which is a model even for an invalid
    document); ``binary`` overrides the host QEMU; ``guest_timeout`` bounds an aarch64
    guest's boot. Never raises for what QEMU does.
    """
    start = time.monotonic()
    try:
        host = binary if binary is not None else _host_binary(libvirt_argv)
    except qemu.QemuUnavailable as error:
        return Proof(
            ProofVerdict.INCONCLUSIVE,
            f"no QEMU to run {PurePath(libvirt_argv[0]).name if libvirt_argv else 'it'}: "
            + str(error).split(";")[0],
            seconds=time.monotonic() - start,
        )
    runnable = runnable_libvirt_argv(libvirt_argv, binary=host, machines=machine_types(host))
    changes = list(runnable.changes)
    readback_argv, acpi_note = with_acpi(runnable.argv)
    readback_argv, memory_note = with_readback_memory(readback_argv, runnable.memory)
    readback_notes = [note for note in (acpi_note, memory_note) if note is not None]

    def finish(verdict: ProofVerdict, message: str, details: Sequence[str] = ()) -> Proof:
        if verdict is ProofVerdict.QEMU_REFUSES and refused_for_the_host(message):
            verdict, message = (
                ProofVerdict.INCONCLUSIVE,
                f"this host could not give QEMU what the argv asks for: {message}",
            )
        return Proof(
            verdict,
            message,
            tuple(details),
            time.monotonic() - start,
            tuple(changes),
            runnable.argv,
        )

    try:
        refusal = host_property_refusal(libvirt_argv, host, timeout)
        if refusal is not None:
            changes.append("each vfio-pci host address checked alone in QEMU first")
            return finish(ProofVerdict.QEMU_REFUSES, refusal)
        aarch64 = PurePath(host).name == _AARCH64_QEMU
        if readback_notes or aarch64:
            # The verdict comes from libvirt's own argv; only the readback is adjusted
            # (QEMU judges NUMA nodes and initiators at machine init, before firmware).
            status, stderr = qemu.run_argv_check(runnable.argv, timeout=timeout)
            if status != 0:
                return finish(ProofVerdict.QEMU_REFUSES, stderr.strip())
            changes += readback_notes
        if aarch64:
            # The UEFI firmware publishes the tables: only a booted guest reads them.
            readback, boot_notes = _guest_readback(readback_argv, runnable.memory, guest_timeout)
            changes += boot_notes
        else:
            readback = qemu.read_tables(readback_argv, timeout=timeout)
    except qemu.QemuRefused as refused:
        return finish(ProofVerdict.QEMU_REFUSES, refused.stderr.strip())
    except qemu.QemuTimeout as error:
        return finish(ProofVerdict.INCONCLUSIVE, f"QEMU ran but: {error}")
    except _Unseen as error:
        return finish(ProofVerdict.INCONCLUSIVE, f"QEMU runs libvirt's argv, but: {error}")
    model, how = (domain, None) if domain is not None else lenient_domain(document)
    if how is not None:
        changes.append(how)
    if model is None:
        return finish(
            ProofVerdict.INCONCLUSIVE,
            "QEMU runs libvirt's argv; the reference cannot read the document, so what "
            "it asks for is unknown",
            [f"{len(readback.generic_initiators)} GI entries in the guest's SRAT"],
        )
    asked = asked_initiators(model)
    located_by = _GUEST_PCI if aarch64 else "query-pci"
    missing, seen = missing_initiators(asked, libvirt_argv, readback, located_by=located_by)
    return finish(*_judged(asked, missing, seen, len(readback.generic_initiators), acpi_note))


def _judged(
    asked: Sequence[AskedInitiator],
    missing: Sequence[str],
    seen: Sequence[str],
    gis: int,
    acpi_note: str | None,
) -> tuple[ProofVerdict, str, Sequence[str]]:
    """The verdict on what the guest's SRAT holds. libvirt's own ``acpi=off``
    (``acpi_note``: the readback alone had ACPI on) loses every asked-for initiator,
    whatever the readback saw: no guest gets an SRAT from QEMU then (GI-ACPI-DISABLED)."""
    summary = f"the guest's SRAT has {len(seen)} of {len(asked)} asked-for initiators"
    if acpi_note is not None and asked:
        return (
            ProofVerdict.SRAT_MISSING,
            f"libvirt writes acpi=off: QEMU builds no SRAT, the guest gets 0 of {len(asked)} "
            f"asked-for initiators (with ACPI on for the readback only, {len(seen)} of them)",
            [f"{pair.text()}: lost, libvirt wrote acpi=off" for pair in asked],
        )
    if missing:
        return ProofVerdict.SRAT_MISSING, f"{summary} ({gis} GI entries)", missing
    return ProofVerdict.NO_VISIBLE_DIFFERENCE, f"QEMU runs it; {summary}", seen


# ------------------------------------------------------------------ a campaign


class Selection(enum.StrEnum):
    """Why a document is proved: libvirt accepted it and differs from the reference."""

    REFERENCE_REJECTS = "reference-rejects"
    """libvirt accepts a document the reference rejects."""
    INITIATORS_DIFFER = "initiators-differ"
    """Both accept, but libvirt's argv has other (device, node) pairs (FACT-GI-PAIRS)."""
    INVARIANT_BROKEN = "invariant-broken"
    """Both accept with the same pairs, but libvirt's argv breaks an invariant (INV-*)."""


@dataclass(frozen=True)
class CaseProof:
    """One selected document: why it was selected, what libvirt said, QEMU's verdict."""

    case_id: str
    source: str
    dialect: str
    selection: Selection
    reference_rules: tuple[str, ...]
    libvirt_initiators: int
    """``acpi-generic-initiator`` objects in libvirt's argv."""
    libvirt_seconds: float
    proof: Proof

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.case_id,
            "source": self.source,
            "dialect": self.dialect,
            "selection": str(self.selection),
            "reference_rules": list(self.reference_rules),
            "libvirt_initiators": self.libvirt_initiators,
            "libvirt_seconds": round(self.libvirt_seconds, 3),
            **self.proof.as_json(),
        }


@dataclass(frozen=True)
class ProofRun:
    """A whole ``gi-conform libvirt prove``: every document's fate and the proofs."""

    libvirt: str
    qemu: str
    documents: int
    libvirt_accepted: int
    libvirt_rejected: int
    libvirt_errors: tuple[tuple[str, str], ...]
    """(case id, message) for each document libvirt failed on without a verdict."""
    proofs: tuple[CaseProof, ...]
    seconds: float
    libvirt_seconds: float
    qemu_seconds: float

    def count(self, verdict: ProofVerdict) -> int:
        return sum(1 for p in self.proofs if p.proof.verdict is verdict)

    @property
    def proven(self) -> int:
        return sum(1 for p in self.proofs if p.proof.proves_gap)


def selection(
    expectation_accepted: bool,
    reference_argv: Sequence[str],
    libvirt_argv: Sequence[str],
    *,
    document: bytes | str | None = None,
) -> Selection | None:
    """Whether (and why) a document libvirt accepted is worth proving. With ``document``
    (an accepted one), libvirt's argv is also held to the invariants."""
    if not expectation_accepted:
        return Selection.REFERENCE_REJECTS
    ours = semantic_facts(list(reference_argv)).initiators
    theirs = semantic_facts(list(libvirt_argv[1:])).initiators
    if ours != theirs:
        return Selection.INITIATORS_DIFFER
    if document is not None and check_invariants(document, reduce(libvirt_argv)):
        return Selection.INVARIANT_BROKEN
    return None


def _selection_rules(
    why: Selection, errors: Sequence[str], document: bytes, libvirt_argv: Sequence[str]
) -> tuple[str, ...]:
    """The reference's ids behind a selection: its error rules, or what libvirt breaks."""
    if why is Selection.REFERENCE_REJECTS:
        return tuple(errors)
    if why is Selection.INITIATORS_DIFFER:
        return ("FACT-GI-PAIRS",)
    broken = check_invariants(document, reduce(libvirt_argv))
    return tuple(dict.fromkeys(item.id for item in broken))


@dataclass(frozen=True)
class _Converted:
    """One case's way through libvirt (and QEMU when selected), before aggregation."""

    case_id: str
    error: str | None = None
    accepted: bool = False
    libvirt_seconds: float = 0.0
    proof: CaseProof | None = None


def _prove_case(
    case: CheckCase, libvirt: Libvirt, timeout: float, guest_timeout: float
) -> _Converted:
    try:
        result = convert(case.data, libvirt=libvirt, timeout=max(timeout, 60.0))
    except (LibvirtError, LibvirtTimeout, OSError) as error:
        return _Converted(case.id, error=str(error) or type(error).__name__)
    if not result.accepted:
        return _Converted(case.id, libvirt_seconds=result.seconds)
    expectation = case.expectation
    why = selection(
        expectation.accepted,
        expectation.argv,
        result.argv,
        document=case.data if expectation.accepted else None,
    )
    if why is None:
        return _Converted(case.id, accepted=True, libvirt_seconds=result.seconds)
    proof = prove(
        case.data,
        result.argv,
        domain=expectation.domain,
        timeout=timeout,
        guest_timeout=guest_timeout,
    )
    rules = _selection_rules(why, expectation.errors, case.data, result.argv)
    found = CaseProof(
        case_id=case.id,
        source=case.source,
        dialect=case.dialect,
        selection=why,
        reference_rules=tuple(rules),
        libvirt_initiators=len(read_argv(list(result.argv[1:])).initiators),
        libvirt_seconds=result.seconds,
        proof=proof,
    )
    return _Converted(case.id, accepted=True, libvirt_seconds=result.seconds, proof=found)


def prove_cases(
    cases: Sequence[CheckCase],
    *,
    libvirt: Libvirt,
    timeout: float = 20.0,
    progress: Callable[[str, CaseProof | None], None] | None = None,
    jobs: int = 1,
    guest_timeout: float = GUEST_TIMEOUT,
) -> ProofRun:
    """Convert every case with real libvirt and prove each selected one in real QEMU.

    ``cases`` are :class:`gi_conform.oracle.model.CheckCase` (the oracle's, so the
    reference's verdict comes with each); ``libvirt`` a located
    :class:`gi_conform.libvirt.install.Libvirt`; ``progress(case_id, proof_or_None)`` is called
    after each document, in case order. ``jobs`` documents go through libvirt and QEMU
    at once (threads: the work is their processes; each conversion takes a free
    embedded-driver root, and at most ``jobs`` aarch64 guests boot at once); the run is
    the same for any ``jobs``. A document libvirt fails on without a verdict is recorded
    and the run goes on.
    """
    start = time.monotonic()
    accepted = rejected = 0
    errors: list[tuple[str, str]] = []
    proofs: list[CaseProof] = []
    libvirt_seconds = qemu_seconds = 0.0
    host = qemu.find_qemu()
    workers = max(1, min(jobs, len(cases)))

    def one(case: CheckCase) -> _Converted:
        return _prove_case(case, libvirt, timeout, guest_timeout)

    with ThreadPoolExecutor(workers, thread_name_prefix="gi-prove") as pool:
        for done in pool.map(one, cases):
            if done.error is not None:
                errors.append((done.case_id, done.error))
            elif done.accepted:
                accepted += 1
            else:
                rejected += 1
            libvirt_seconds += done.libvirt_seconds
            if done.proof is not None:
                proofs.append(done.proof)
                qemu_seconds += done.proof.proof.seconds
            if progress is not None:
                progress(done.case_id, done.proof)
    return ProofRun(
        libvirt=libvirt.version,
        qemu=".".join(map(str, host.version)),
        documents=len(cases),
        libvirt_accepted=accepted,
        libvirt_rejected=rejected,
        libvirt_errors=tuple(errors),
        proofs=tuple(proofs),
        seconds=time.monotonic() - start,
        libvirt_seconds=libvirt_seconds,
        qemu_seconds=qemu_seconds,
    )
