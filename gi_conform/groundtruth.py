"""Ground truth: what the guest's SRAT must contain for a document, checked entry by entry.

The comparison is pure: it takes the document's model and what one QEMU run exposed
(:class:`gi_conform.qemu.SratReadback`) and says, for every entry the document implies,
what was expected, what was seen and whether they agree. Running QEMU is
:mod:`gi_conform.qemu`'s job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from gi_conform import acpi
from gi_conform.argv import Profile, aligned_memory, device_ids, emitted_initiators
from gi_conform.model import Domain
from gi_conform.qemu import PciPlacement, SratReadback
from gi_conform.validate import distance_matrix, unassigned_vcpus

__all__ = ["MEMORY_TOLERANCE", "Check", "compare_srat", "memory_size"]

MEMORY_TOLERANCE = 1024 * 1024
"""x86 SRAT cuts the legacy 640 KiB-1 MiB hole out of the first node's memory ranges."""


@dataclass(frozen=True)
class Check:
    """One row of the ground-truth table."""

    entry: str
    expected: str
    seen: str
    ok: bool

    def as_json(self) -> dict[str, object]:
        return {"entry": self.entry, "expected": self.expected, "seen": self.seen, "ok": self.ok}


def memory_size(domain: Domain) -> int:
    """Guest RAM in bytes: the cells' sum with NUMA (QEMU requires it), else ``<memory>``."""
    if domain.cells:
        return sum(aligned_memory(cell.memory or 0) for cell in domain.cells)
    return domain.memory


def _where(placement: PciPlacement | None) -> str:
    if placement is None:
        return "not on any PCI bus"
    return f"0000:{placement.bus:02x}:{placement.slot:02x}.{placement.function:x}"


def _gi_text(entry: acpi.GenericInitiatorAffinity) -> str:
    if entry.pci_bus is None or entry.pci_devfn is None:
        return f"node {entry.proximity_domain}, handle type {entry.handle_type}"
    return (
        f"node {entry.proximity_domain}, PCI {entry.pci_segment or 0:04x}:{entry.pci_bus:02x}:"
        f"{entry.pci_devfn >> 3:02x}.{entry.pci_devfn & 7:x}"
    )


def _initiator_checks(domain: Domain, profile: Profile, readback: SratReadback) -> Iterator[Check]:
    seen = Counter(
        (e.proximity_domain, e.pci_segment, e.pci_bus, e.pci_devfn)
        for e in readback.generic_initiators
    )
    expected_keys: Counter[tuple[int, int | None, int | None, int | None]] = Counter()
    for initiator in emitted_initiators(domain, profile):
        if initiator.device is None or initiator.node is None:
            raise ValueError(f"initiator '{initiator.id}' is incomplete; validate first")
        placement = readback.pci.get(initiator.device)
        label = f"GI {initiator.id} ({initiator.device} -> node {initiator.node})"
        expected = f"node {initiator.node}, PCI {_where(placement)}"
        if placement is None:
            yield Check(label, expected, "device not found by query-pci", False)
            continue
        key = (initiator.node, 0, placement.bus, placement.devfn)
        expected_keys[key] += 1
        count = seen[key]
        yield Check(
            label, expected, f"{count} matching entr{'y' if count == 1 else 'ies'}", count == 1
        )
    extra = [
        e
        for e in readback.generic_initiators
        if not expected_keys[(e.proximity_domain, e.pci_segment, e.pci_bus, e.pci_devfn)]
    ]
    yield Check(
        "no other GI entries",
        "none",
        ", ".join(_gi_text(e) for e in extra) or "none",
        not extra,
    )


def _placement_checks(domain: Domain, profile: Profile, readback: SratReadback) -> Iterator[Check]:
    names = device_ids(domain, profile)
    for hostdev in domain.hostdevs:
        if not hostdev.kind.is_pci or hostdev.guest_address is None:
            continue
        address = hostdev.guest_address
        placement = readback.pci.get(names[hostdev.alias])
        ok = placement is not None and (placement.slot, placement.function) == (
            address.slot,
            address.function,
        )
        if ok and placement is not None and address.bus == 0:
            ok = placement.bus == 0
        yield Check(
            f"{names[hostdev.alias]} guest address",
            f"bus {'0' if address.bus == 0 else f'pci.{address.bus}'}, slot {address.slot:#x}, "
            f"function {address.function}",
            _where(placement),
            ok,
        )


def _cell_checks(domain: Domain, readback: SratReadback) -> Iterator[Check]:
    enabled = acpi.enabled_entries(readback.entries)
    cpus_in: Counter[int] = Counter(
        e.proximity_domain
        for e in enabled
        if isinstance(e, acpi.LapicAffinity | acpi.X2apicAffinity)
    )
    memory_in: Counter[int] = Counter()
    for e in enabled:
        if isinstance(e, acpi.MemoryAffinity):
            memory_in[e.proximity_domain] += e.length
    gi_nodes = {e.proximity_domain for e in readback.generic_initiators}
    extra = set(unassigned_vcpus(domain))
    for cell in domain.cells:
        if cell.id is None or cell.cpus is None or cell.memory is None:
            raise ValueError(f"cell on line {cell.line} is invalid; validate first")
        cpus = len(set(cell.cpus) | (extra if cell.id == 0 else set()))
        yield Check(
            f"cell {cell.id} CPUs",
            f"{cpus} processor entr{'y' if cpus == 1 else 'ies'}",
            str(cpus_in[cell.id]),
            cpus_in[cell.id] == cpus,
        )
        got = memory_in[cell.id]
        want = aligned_memory(cell.memory)
        yield Check(
            f"cell {cell.id} memory",
            f"{want} bytes",
            f"{got} bytes",
            abs(got - want) <= MEMORY_TOLERANCE,
        )
        if not cell.cpus and cell.memory == 0 and cell.id in gi_nodes:
            visible_otherwise = cpus_in[cell.id] > 0 or got > MEMORY_TOLERANCE
            yield Check(
                f"cell {cell.id} visibility",
                "only through its generic initiator",
                "also has CPU or memory entries" if visible_otherwise else "GI only",
                not visible_otherwise,
            )


def _distance_checks(domain: Domain, readback: SratReadback) -> Iterator[Check]:
    """The SLIT must hold the resolved matrix, and exist only when a distance is set."""
    matrix = distance_matrix(domain)
    if not matrix:
        yield Check(
            "SLIT", "absent (default distances)", _slit_text(readback), readback.slit is None
        )
        return
    size = len(domain.cells)
    expected = tuple(tuple(matrix[(src, dst)] for dst in range(size)) for src in range(size))
    yield Check("SLIT", _matrix_text(expected), _slit_text(readback), readback.slit == expected)


def _matrix_text(matrix: tuple[tuple[int, ...], ...]) -> str:
    return " / ".join(" ".join(map(str, row)) for row in matrix)


def _slit_text(readback: SratReadback) -> str:
    return "absent" if readback.slit is None else _matrix_text(readback.slit)


def compare_srat(domain: Domain, profile: Profile, readback: SratReadback) -> tuple[Check, ...]:
    """Every check of the document against the SRAT one QEMU run exposed."""
    if not domain.cells:
        has_srat = "SRAT" in readback.table_signatures
        return (
            Check("SRAT", "absent (no NUMA)", "present" if has_srat else "absent", not has_srat),
        )
    return (
        *_placement_checks(domain, profile, readback),
        *_initiator_checks(domain, profile, readback),
        *_cell_checks(domain, readback),
        *_distance_checks(domain, readback),
    )
