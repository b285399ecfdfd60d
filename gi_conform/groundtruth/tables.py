"""Ground truth: what the guest's SRAT (and SLIT, HMAT) must contain for a document,
checked entry by entry.

The comparison is pure: it takes the document's model and what one QEMU run exposed
(:class:`gi_conform.groundtruth.qemu.TableReadback`) and says, for every entry the document implies,
what was expected, what was seen and whether they agree. Running QEMU is
:mod:`gi_conform.groundtruth.qemu`'s job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from gi_conform.argv.build import Profile, aligned_memory, device_ids, emitted_initiators
from gi_conform.groundtruth import acpi
from gi_conform.groundtruth.qemu import PciPlacement, TableReadback
from gi_conform.model import CacheAssociativity, CachePolicy, Cell, Domain
from gi_conform.semantics import cpu_cells_seen, distance_matrix, unassigned_vcpus

__all__ = [
    "MEMORY_TOLERANCE",
    "Check",
    "compare_table_contents",
    "compare_tables",
    "gi_cells",
    "hmat_initiators",
]

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


def _where(placement: PciPlacement | None) -> str:
    if placement is None:
        return "not on any PCI bus"
    return f"0000:{placement.bus:02x}:{placement.slot:02x}.{placement.function:x}"


def _gi_text(entry: acpi.GenericInitiatorAffinity) -> str:
    if entry.pci_address is None:
        return f"node {entry.proximity_domain}, handle type {entry.handle_type}"
    return f"node {entry.proximity_domain}, PCI {entry.pci_address}"


def _initiator_checks(domain: Domain, profile: Profile, readback: TableReadback) -> Iterator[Check]:
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


def _placement_checks(domain: Domain, profile: Profile, readback: TableReadback) -> Iterator[Check]:
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


def _cell_checks(domain: Domain, readback: TableReadback) -> Iterator[Check]:
    enabled = acpi.enabled_entries(readback.entries)
    cpus_in: Counter[int] = Counter(
        e.proximity_domain
        for e in enabled
        if isinstance(e, acpi.LapicAffinity | acpi.X2apicAffinity | acpi.GiccAffinity)
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
        if cpus == 0 and cell.memory == 0 and cell.id in gi_nodes:
            visible_otherwise = cpus_in[cell.id] > 0 or got > MEMORY_TOLERANCE
            yield Check(
                f"cell {cell.id} visibility",
                "only through its generic initiator",
                "also has CPU or memory entries" if visible_otherwise else "GI only",
                not visible_otherwise,
            )


def _distance_checks(domain: Domain, readback: TableReadback) -> Iterator[Check]:
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


def _slit_text(readback: TableReadback) -> str:
    return "absent" if readback.slit is None else _matrix_text(readback.slit)


# ------------------------------------------------------------------------- HMAT

_DATA_TYPES = {
    ("latency", "access"): 0,
    ("latency", "read"): 1,
    ("latency", "write"): 2,
    ("bandwidth", "access"): 3,
    ("bandwidth", "read"): 4,
    ("bandwidth", "write"): 5,
}


def gi_cells(domain: Domain, profile: Profile) -> set[int]:
    """The cells the profile's initiators land on (the validator admits initiators of PCI
    devices only): the guest's generic initiator domains."""
    return {i.node for i in emitted_initiators(domain, profile) if i.node is not None}


def hmat_initiators(domain: Domain, profile: Profile) -> tuple[int, ...]:
    """The initiator domains QEMU lists in every HMAT locality structure: the cells with
    CPUs or with a Generic Initiator, ascending (measured on QEMU 10.0.2)."""
    return tuple(sorted(cpu_cells_seen(domain) | gi_cells(domain, profile)))


def _ids(values: tuple[int, ...] | list[int]) -> str:
    return " ".join(map(str, values)) or "none"


def _hmat_domain_checks(
    domain: Domain, profile: Profile, hmat: acpi.Hmat, cell_ids: tuple[int, ...]
) -> Iterator[Check]:
    localities = hmat.localities
    if not localities and not domain.interconnects:
        return  # nothing lists initiators; QEMU builds type 1 only from -numa hmat-lb
    initiators = hmat_initiators(domain, profile)
    for label, want, lists in (
        ("HMAT initiator domains", initiators, {s.initiators for s in localities}),
        ("HMAT target domains", cell_ids, {s.targets for s in localities}),
    ):
        seen = " / ".join(_ids(item) for item in sorted(lists)) or "no locality structure"
        yield Check(label, _ids(want), seen, lists == {want})


def _memory_domain_checks(domain: Domain, hmat: acpi.Hmat) -> Iterator[Check]:
    """Type 0: one per cell with memory; a cell with CPUs is its own initiator."""
    cpu_cells = cpu_cells_seen(domain)
    want = {
        cell.id: (cell.id if cell.id in cpu_cells else None)
        for cell in domain.cells
        if cell.id is not None and cell.memory
    }
    seen: dict[int, int | None] = {}
    duplicated = False
    for item in hmat.memory_domains:
        duplicated |= item.memory_domain in seen
        seen[item.memory_domain] = item.initiator_domain if item.initiator_valid else None

    def text(pd: int, initiator: int | None, known: bool) -> str:
        if initiator is not None:
            return f"{pd} (initiator {initiator})"
        return f"{pd} (initiator any)" if not known else f"{pd} (no initiator)"

    ok = not duplicated and set(seen) == set(want)
    ok = ok and all(initiator is None or seen[pd] == initiator for pd, initiator in want.items())
    yield Check(
        "HMAT memory domains",
        ", ".join(text(pd, i, False) for pd, i in sorted(want.items())) or "none",
        ", ".join(text(pd, i, True) for pd, i in sorted(seen.items())) or "none",
        ok,
    )


def _link_seen(locality: acpi.HmatLocality | None, initiator: int, target: int) -> str:
    if locality is None:
        return "no such structure"
    if initiator not in locality.initiators:
        return f"initiator {initiator} not listed"
    if target not in locality.targets:
        return f"target {target} not listed"
    raw = locality.entry(initiator, target)
    if not raw:
        return "not provided (entry 0)"
    if locality.is_latency:
        ns = locality.latency_ns(initiator, target)
        return f"{ns} ns ({raw} x {locality.entry_base_unit} ps)"
    return (
        f"{locality.bandwidth_kib(initiator, target)} KiB/s "
        f"({raw} x {locality.entry_base_unit} MiB/s)"
    )


def _link_value(locality: acpi.HmatLocality | None, initiator: int, target: int) -> float:
    """The guest's value in the document's unit (ns or KiB/s); 0 when not provided."""
    if locality is None:
        return 0
    if locality.is_latency:
        return locality.latency_ns(initiator, target) or 0
    return locality.bandwidth_kib(initiator, target) or 0


def _interconnect_checks(domain: Domain, hmat: acpi.Hmat) -> Iterator[Check]:
    """Every interconnect at its (initiator, target) of the matching type-1 structure.

    QEMU stores an entry and a base unit (picoseconds, MiB/s); it refuses bandwidths that
    are not whole MiB/s and value ranges an u16 cannot hold, so what it accepts is exact
    and compared for equality. A value of 0 is QEMU's "not provided".
    """
    covered: set[tuple[int, int, int, int]] = set()
    for link in domain.interconnects:
        initiator, target, cache, kind, value = (
            link.initiator,
            link.target,
            link.cache,
            link.type,
            link.value,
        )
        if initiator is None or target is None or cache is None or kind is None or value is None:
            raise ValueError(f"interconnect on line {link.line} is invalid; validate first")
        data_type = _DATA_TYPES[(link.kind, kind)]
        covered.add((cache, data_type, initiator, target))
        locality = hmat.locality(cache, data_type)
        unit = "ns" if link.kind == "latency" else "KiB/s"
        yield Check(
            f"HMAT {acpi.HMAT_HIERARCHIES[cache]} {kind}-{link.kind} {initiator} -> {target}",
            f"{value} {unit}" if value else "not provided (entry 0)",
            _link_seen(locality, initiator, target),
            _link_value(locality, initiator, target) == value,
        )
    extra = [
        f"{s.hierarchy_name} {s.data_type_name} {i} -> {t}"
        for s in hmat.localities
        for row, i in enumerate(s.initiators)
        for col, t in enumerate(s.targets)
        if s.entries[row][col] and (s.hierarchy, s.data_type, i, t) not in covered
    ]
    yield Check("no other HMAT entries", "none", ", ".join(extra) or "none", not extra)


def _cache_text(size: int, line: int, associativity: str, policy: str, levels: int) -> str:
    return f"{size} bytes, line {line}, {associativity}, {policy}, {levels} level(s)"


def _word(words: type[CacheAssociativity] | type[CachePolicy], code: int) -> str:
    """An ACPI HMAT cache code in libvirt's words (the enums are in code order)."""
    members = list(words)
    return members[code].value if code < len(members) else str(code)


def _cache_checks(domain: Domain, hmat: acpi.Hmat) -> Iterator[Check]:
    """Each ``<cache>`` of a cell is a type-2 structure of that memory domain and level."""
    matched: set[int] = set()
    for cell in sorted(domain.cells, key=_cell_id):
        for cache in cell.caches:
            size, line, associativity, policy = (
                cache.size,
                cache.line_size,
                cache.associativity,
                cache.policy,
            )
            if (
                cell.id is None
                or cache.level is None
                or size is None
                or line is None
                or associativity is None
                or policy is None
            ):
                raise ValueError(f"cache on line {cache.line} is invalid; validate first")
            expected = _cache_text(size, line, str(associativity), str(policy), len(cell.caches))
            found = next(
                (
                    (index, item)
                    for index, item in enumerate(hmat.structures)
                    if isinstance(item, acpi.HmatCache)
                    and item.memory_domain == cell.id
                    and item.level == cache.level
                ),
                None,
            )
            seen = "absent"
            if found is not None:
                matched.add(found[0])
                item = found[1]
                seen = _cache_text(
                    item.size,
                    item.line_size,
                    _word(CacheAssociativity, item.associativity),
                    _word(CachePolicy, item.write_policy),
                    item.total_levels,
                )
            yield Check(
                f"HMAT cell {cell.id} cache level {cache.level}", expected, seen, seen == expected
            )
    extra = [
        f"node {item.memory_domain} level {item.level}"
        for index, item in enumerate(hmat.structures)
        if isinstance(item, acpi.HmatCache) and index not in matched
    ]
    yield Check("no other HMAT caches", "none", ", ".join(extra) or "none", not extra)


def _cell_id(cell: Cell) -> int:
    return -1 if cell.id is None else cell.id


def _hmat_checks(domain: Domain, profile: Profile, readback: TableReadback) -> Iterator[Check]:
    """The HMAT must exist exactly when the document uses HMAT, and hold what it says."""
    hmat = readback.hmat
    seen = "absent" if hmat is None else f"present, {len(hmat.structures)} structures"
    if not domain.uses_hmat:
        yield Check("HMAT", "absent (no interconnects or caches)", seen, hmat is None)
        return
    yield Check("HMAT", "present", seen, hmat is not None)
    if hmat is None:
        return
    cell_ids = tuple(sorted(cell.id for cell in domain.cells if cell.id is not None))
    yield from _hmat_domain_checks(domain, profile, hmat, cell_ids)
    yield from _memory_domain_checks(domain, hmat)
    yield from _interconnect_checks(domain, hmat)
    yield from _cache_checks(domain, hmat)


def compare_tables(domain: Domain, profile: Profile, readback: TableReadback) -> tuple[Check, ...]:
    """Every check of the document against the SRAT, SLIT and HMAT one QEMU run exposed."""
    if not domain.cells:
        has_srat = "SRAT" in readback.table_signatures
        return (
            Check("SRAT", "absent (no NUMA)", "present" if has_srat else "absent", not has_srat),
        )
    return (
        *_placement_checks(domain, profile, readback),
        *_initiator_checks(domain, profile, readback),
        *compare_table_contents(domain, profile, readback),
    )


def compare_table_contents(
    domain: Domain, profile: Profile, readback: TableReadback
) -> tuple[Check, ...]:
    """The checks that need no device placement (``readback.pci`` unused): cells,
    distances and HMAT. A guest reads its tables from inside, where QMP's view of the
    devices is not at hand."""
    return (
        *_cell_checks(domain, readback),
        *_distance_checks(domain, readback),
        *_hmat_checks(domain, profile, readback),
    )
