"""What the guest kernel built, checked against the document, node by node.

Two sources, one verdict: the raw SRAT, SLIT and HMAT the guest received go through the
same table checks as ``gi-conform qemu`` (:func:`compare_table_contents`), and the
kernel's own NUMA view (``/sys/devices/system/node``) is compared with what the document
implies. Kernel node ids are translated to cells through Linux's proximity-domain order
(:func:`gi_conform.groundtruth.guest.pxm_to_node`); the translation itself is shown
whenever it is not the identity, since a user's tools see kernel node ids.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from gi_conform.argv.build import Profile, aligned_memory, build_argv, flatten
from gi_conform.argv.facts import ROOT_BUSES
from gi_conform.argv.options import OptionValue
from gi_conform.argv.read import read_argv
from gi_conform.bitmap import format_bitmap
from gi_conform.groundtruth import acpi
from gi_conform.groundtruth.guest import AccessClass, GuestView, pxm_to_node
from gi_conform.groundtruth.guest_kernels import GuestKernel
from gi_conform.groundtruth.qemu import PciPlacement, TableReadback
from gi_conform.groundtruth.runnable import STAND_IN, STAND_IN_IDS, with_every_controller
from gi_conform.groundtruth.tables import Check, compare_table_contents, gi_cells
from gi_conform.model import Domain, InterconnectType
from gi_conform.pcitopology import EXPANDER_DRIVERS, pci_path, pci_topology
from gi_conform.semantics import (
    LOCAL_DISTANCE,
    REMOTE_DISTANCE,
    cpu_cells_seen,
    distance_matrix,
    initiator_pairs,
    unassigned_vcpus,
)

__all__ = [
    "LOST_NUMA_PATTERNS",
    "MEMORY_SLACK",
    "ExpectedAccess",
    "compare_guest",
    "expected_access",
    "firmware_bus_numbers",
    "guest_placements",
    "guest_tables",
    "initiator_place_checks",
    "memory_initiators",
    "node_capacity",
    "predicted_initiator_addresses",
    "visible_cells",
]

LOST_NUMA_PATTERNS = (
    "Faking a node",
    "No NUMA configuration found",
    "invalid memblk",
    "Too many proximity domains",
    "SRAT: SRAT not used",
    "NUMA: Failed",
)
"""Kernel log lines that mean the guest dropped (part of) the NUMA description."""

MEMORY_SLACK = 0.10
"""A node's MemTotal may fall short of its cell by this share, plus 64 MiB: the kernel
keeps its image, page structures and firmware reservations (measured: 8,139,868 KiB of
8 GiB on x86, 8,129,920 KiB on aarch64, i.e. 97%)."""
_SLACK_FLOOR_KB = 64 * 1024


def visible_cells(domain: Domain, profile: Profile) -> set[int]:
    """Cells the guest should have online: with CPUs, memory, or a Generic Initiator."""
    memory = {c.id for c in domain.cells if c.id is not None and c.memory}
    return cpu_cells_seen(domain) | memory | gi_cells(domain, profile)


def node_capacity(domain: Domain, profile: Profile, kernel: GuestKernel) -> Check | None:
    """The one finding when the document needs more NUMA nodes than ``kernel`` holds
    (``MAX_NUMNODES = 1 << CONFIG_NODES_SHIFT``): such a guest drops the rest ("ACPI:
    SRAT: Too many proximity domains.") and every later check fails for that one cause.
    None when it fits or the kernel's config is unknown."""
    limit = kernel.node_limit
    needed = len(visible_cells(domain, profile))
    if limit is None or needed <= limit:
        return None
    return Check(
        "CONFIG_NODES_SHIFT",
        f"{needed} NUMA nodes (CONFIG_NODES_SHIFT >= {(needed - 1).bit_length()})",
        f"{kernel.shift}: kernel {kernel.name} ({kernel.release}) holds {limit} nodes",
        False,
    )


def _nodes(cells: set[int], mapping: dict[int, int]) -> str:
    """Cells in kernel node ids (a cell the kernel never met is shown as ``cN?``)."""
    known = {mapping[c] for c in cells if c in mapping}
    unknown = sorted(c for c in cells if c not in mapping)
    text = format_bitmap(known) if known else ""
    if unknown:
        text += (" " if text else "") + " ".join(f"cell{c}?" for c in unknown)
    return text or "none"


def _lost_numa(view: GuestView) -> Iterator[Check]:
    lost = [line for line in view.log if any(p in line for p in LOST_NUMA_PATTERNS)]
    yield Check(
        "kernel kept the NUMA description",
        "no line saying it faked or dropped nodes",
        lost[0].strip() if lost else "none",
        not lost,
    )


def _node_sets(
    domain: Domain, profile: Profile, view: GuestView, mapping: dict[int, int]
) -> Iterator[Check]:
    memory = {c.id for c in domain.cells if c.id is not None and c.memory}
    expected = {
        "online": visible_cells(domain, profile),
        "has_cpu": cpu_cells_seen(domain),
        "has_memory": memory,
        "has_generic_initiator": gi_cells(domain, profile),
    }
    seen = {
        "online": view.online,
        "has_cpu": view.has_cpu,
        "has_memory": view.has_memory,
        "has_generic_initiator": view.has_generic_initiator,
    }
    for name, cells in expected.items():
        want = _nodes(cells, mapping)
        got = format_bitmap(seen[name]) if seen[name] else "none"
        yield Check(f"node/{name}", want, got, want == got)


def _per_node(domain: Domain, view: GuestView, mapping: dict[int, int]) -> Iterator[Check]:
    extra = set(unassigned_vcpus(domain))
    for cell in sorted(domain.cells, key=lambda c: c.id if c.id is not None else -1):
        if cell.id is None or cell.cpus is None or cell.memory is None:
            raise ValueError(f"cell on line {cell.line} is invalid; validate first")
        node_id = mapping.get(cell.id)
        if node_id is None:
            continue
        node = view.node(node_id)
        label = f"cell {cell.id} (guest node {node_id})"
        cpus = set(cell.cpus) | (extra if cell.id == 0 else set())
        seen_cpus = format_bitmap(node.cpus) if node is not None and node.cpus else "none"
        want_cpus = format_bitmap(cpus) if cpus else "none"
        yield Check(f"{label} CPUs", want_cpus, seen_cpus, want_cpus == seen_cpus)
        want_kb = aligned_memory(cell.memory) // 1024
        got_kb = node.memory_kb if node is not None else None
        low = 0 if want_kb == 0 else max(0, int(want_kb * (1 - MEMORY_SLACK)) - _SLACK_FLOOR_KB)
        yield Check(
            f"{label} memory",
            f"{want_kb} KiB" if want_kb == 0 else f"{low}-{want_kb} KiB",
            "absent" if got_kb is None else f"{got_kb} KiB",
            got_kb is not None and low <= got_kb <= want_kb,
        )


def _distances(domain: Domain, view: GuestView, mapping: dict[int, int]) -> Iterator[Check]:
    matrix = distance_matrix(domain)
    by_node = {node: cell for cell, node in mapping.items()}

    def want(src: int, dst: int) -> int:
        if (src, dst) in matrix:
            return matrix[(src, dst)]
        return LOCAL_DISTANCE if src == dst else REMOTE_DISTANCE

    expected = " / ".join(
        " ".join(str(want(by_node[a], by_node[b])) for b in sorted(by_node))
        for a in sorted(by_node)
    )
    seen = " / ".join(
        " ".join(map(str, node.distances)) for node in view.nodes if node.node in by_node
    )
    yield Check(
        f"guest distance matrix (nodes {format_bitmap(set(by_node))}, cells "
        f"{' '.join(str(by_node[n]) for n in sorted(by_node))})"
        if by_node
        else "guest distance matrix",
        expected,
        seen,
        expected == seen,
    )


def _gi_devices(view: GuestView, entries: tuple[acpi.SratEntry, ...]) -> Iterator[Check]:
    """Each GI entry's PCI handle names a function the guest enumerated (the stand-in)."""
    present = {p.address: p for p in view.pci}
    for entry in acpi.enabled_entries(entries):
        if not isinstance(entry, acpi.GenericInitiatorAffinity) or entry.pci_address is None:
            continue
        address = entry.pci_address
        device = present.get(address)
        seen = "not enumerated" if device is None else f"{device.vendor:04x}:{device.device:04x}"
        yield Check(
            f"GI of domain {entry.proximity_domain} names a guest device",
            f"{address} = {STAND_IN_IDS[0]:04x}:{STAND_IN_IDS[1]:04x}",
            f"{address} {seen}",
            device is not None and (device.vendor, device.device) == STAND_IN_IDS,
        )


def guest_tables(view: GuestView, pci: Mapping[str, PciPlacement] | None = None) -> TableReadback:
    """The SRAT, SLIT and HMAT the guest received as a readback, so the checks written for
    QEMU's memory serve a guest too (``entries`` empty and no ``"SRAT"`` signature when
    the guest got none; AcpiTableError when a table does not decode). ``pci`` ties
    device ids to the guest's addresses (:func:`guest_placements`); without it, none."""
    srat = view.tables.get("SRAT")
    return TableReadback(
        rsdp=None,
        table_signatures=tuple(view.tables),
        srat_header=acpi.parse_header(srat) if srat is not None else None,
        entries=acpi.decode_srat(srat) if srat is not None else (),
        slit=acpi.decode_slit(view.tables["SLIT"]) if "SLIT" in view.tables else None,
        pci=types.MappingProxyType(dict(pci or {})),
        hmat=acpi.decode_hmat(view.tables["HMAT"]) if "HMAT" in view.tables else None,
    )


def _expander_nodes(
    domain: Domain,
    view: GuestView,
    entries: tuple[acpi.SratEntry, ...],
    mapping: dict[int, int],
) -> Iterator[Check]:
    """A device behind an expander bus with a ``<node>`` has that node in the guest
    (the bus's ``_PXM``): its ``numa_node``, for each device an initiator names, found by
    its GI entries' PCI handle. That is the NUMA affinity the PCI path gives a GPU."""
    topology = pci_topology(domain)
    expander_node: dict[str, int] = {}
    for hostdev in domain.hostdevs:
        address = hostdev.guest_address
        path = pci_path(topology, address.bus) if address is not None else None
        nodes = [c.node for c in path or () if c.is_expander and c.node is not None]
        if nodes:
            expander_node[hostdev.alias] = nodes[-1]
    if not expander_node:
        return
    devices_on: dict[int, set[str]] = {}
    for alias, node in initiator_pairs(domain):
        devices_on.setdefault(node, set()).add(alias)
    present = {p.address: p for p in view.pci}
    seen_handles: set[str] = set()
    for entry in acpi.enabled_entries(entries):
        if not isinstance(entry, acpi.GenericInitiatorAffinity) or entry.pci_address is None:
            continue
        aliases = devices_on.get(entry.proximity_domain, set()) & set(expander_node)
        if len(aliases) != 1 or entry.pci_address in seen_handles:
            continue  # no expander, or two devices on one node: not this check's to tell
        seen_handles.add(entry.pci_address)
        alias = aliases.pop()
        cell = expander_node[alias]
        want = mapping.get(cell, cell)
        device = present.get(entry.pci_address)
        yield Check(
            f"{alias} numa_node (expander bus node: cell {cell})",
            f"node {want}",
            "not enumerated" if device is None else f"node {device.numa_node}",
            device is not None and device.numa_node == want,
        )


# ------------------------------------------------------------------ HMAT access classes


@dataclass(frozen=True)
class ExpectedAccess:
    """What Linux 6.1 shows in ``accessN/`` (N = 0 and 1 alike) of a memory cell's node.

    ``initiator`` is a cell id; latencies are in ns and bandwidths in MB/s, as sysfs
    prints them (0: the HMAT gives no value for that pair).
    """

    cell: int
    initiator: int
    read_latency: int
    write_latency: int
    read_bandwidth: int
    write_bandwidth: int


_FIELDS: tuple[tuple[str, InterconnectType, tuple[str, ...]], ...] = (
    ("latency", InterconnectType.ACCESS, ("read_latency", "write_latency")),
    ("latency", InterconnectType.READ, ("read_latency",)),
    ("latency", InterconnectType.WRITE, ("write_latency",)),
    ("bandwidth", InterconnectType.ACCESS, ("read_bandwidth", "write_bandwidth")),
    ("bandwidth", InterconnectType.READ, ("read_bandwidth",)),
    ("bandwidth", InterconnectType.WRITE, ("write_bandwidth",)),
)
"""HMAT data types 0-5 in the order QEMU writes their locality structures, with the
sysfs values each sets (``hmat_update_target_access``: an access type sets both)."""


def memory_initiators(domain: Domain, hmat: acpi.Hmat | None) -> dict[int, int]:
    """Each memory cell's initiator as the HMAT's type-0 structure names it.

    A cell with CPUs is its own (QEMU refuses anything else, and the table checks hold
    it to that); a CPU-less memory cell takes the one the argv chose (libvirt's rule,
    checked against libvirt's goldens, not here), read from the guest's own HMAT.
    """
    cpus = cpu_cells_seen(domain)
    written = {
        d.memory_domain: d.initiator_domain
        for d in (hmat.memory_domains if hmat is not None else ())
        if d.initiator_valid
    }
    found: dict[int, int] = {}
    for cell in domain.cells:
        if cell.id is None or not cell.memory:
            continue
        if cell.id in cpus:
            found[cell.id] = cell.id
        elif cell.id in written:
            found[cell.id] = written[cell.id]
    return found


def expected_access(domain: Domain, initiators: Mapping[int, int]) -> dict[int, ExpectedAccess]:
    """The access classes Linux 6.1 builds for each memory cell (``drivers/acpi/numa/hmat.c``).

    QEMU names an initiator for every memory cell (``-numa node,initiator=`` is required
    with ``hmat=on``), so the kernel takes its "local processor" branch
    (``hmat_register_target_initiators``): ``access0`` and ``access1`` both list exactly
    that initiator (it always has CPUs), and the best-initiator search over the
    localities never runs; an interconnect from any other initiator, a Generic
    Initiator's included, is ignored even when it is faster. The values are filled while
    parsing (``hmat_parse_locality``): each memory-hierarchy structure, in data-type
    order, writes its entry for (initiator, cell), 0 when the document gives none, so a
    later read or write structure overwrites what an access one set. Units: QEMU's entries
    are exact picoseconds (shown rounded up to ns, the document's unit) and MiB/s (the
    document's KiB/s / 1024; sysfs says MB/s). ``{}`` without HMAT: no table, no classes.
    """
    if not domain.uses_hmat:
        return {}
    links = [link for link in domain.interconnects if (link.cache or 0) == 0]
    present = {(link.kind, link.type) for link in links}
    values = {
        (link.kind, link.type, link.initiator, link.target): link.value or 0 for link in links
    }
    found: dict[int, ExpectedAccess] = {}
    for cell, initiator in sorted(initiators.items()):
        metrics = dict.fromkeys(
            ("read_latency", "write_latency", "read_bandwidth", "write_bandwidth"), 0
        )
        for kind, data_type, fields in _FIELDS:
            if (kind, data_type) not in present:
                continue
            value = values.get((kind, data_type, initiator, cell), 0)
            for name in fields:
                metrics[name] = value if kind == "latency" else value // 1024
        found[cell] = ExpectedAccess(cell, initiator, **metrics)
    return found


def _access_text(initiators: str, metrics: tuple[int | None, ...]) -> str:
    rl, wl, rb, wb = ("?" if m is None else str(m) for m in metrics)
    return f"initiators {initiators}; latency {rl}/{wl} ns, bandwidth {rb}/{wb} MB/s (r/w)"


def _seen_access(access: AccessClass | None) -> str:
    if access is None:
        return "absent"
    return _access_text(
        format_bitmap(access.initiators) if access.initiators else "none",
        (access.read_latency, access.write_latency, access.read_bandwidth, access.write_bandwidth),
    )


def _access_checks(
    domain: Domain, view: GuestView, hmat: acpi.Hmat | None, mapping: dict[int, int]
) -> Iterator[Check]:
    """Memory cells' ``access0``/``access1`` against :func:`expected_access`, and no
    classes on a node that is neither a memory cell nor an initiator of one.

    Not checked: the classes of a memory-less node that is some memory cell's initiator
    (the kernel gives it ``accessN/targets`` only, which the guest does not report), and
    HMAT caches (``memory_side_cache``, not reported either).
    """
    initiators = memory_initiators(domain, hmat) if domain.uses_hmat else {}
    expected = expected_access(domain, initiators)
    for cell, want in expected.items():
        node_id = mapping.get(cell)
        if node_id is None:
            continue
        node = view.node(node_id)
        classes = {a.access: a for a in node.access} if node is not None else {}
        text = _access_text(
            _nodes({want.initiator}, mapping),
            (want.read_latency, want.write_latency, want.read_bandwidth, want.write_bandwidth),
        )
        for number in (0, 1):
            seen = _seen_access(classes.get(number))
            yield Check(
                f"cell {cell} (guest node {node_id}) access{number}", text, seen, seen == text
            )
    quiet = set(mapping) - set(expected) - set(initiators.values())
    for cell in sorted(quiet):
        node = view.node(mapping[cell])
        found = sorted(a.access for a in node.access) if node is not None else []
        yield Check(
            f"cell {cell} (guest node {mapping[cell]}) access classes",
            "none (no memory, no memory's initiator)" if domain.uses_hmat else "none (no HMAT)",
            " ".join(f"access{n}" for n in found) or "none",
            not found,
        )


def compare_guest(domain: Domain, profile: Profile, view: GuestView) -> tuple[Check, ...]:
    """Every check of the guest's report against the document."""
    checks: list[Check] = list(_lost_numa(view)) if domain.cells else []
    srat = view.tables.get("SRAT")
    if not domain.cells:
        checks.append(
            Check("SRAT", "absent (no NUMA)", "present" if srat else "absent", srat is None)
        )
        return tuple(checks)
    if srat is None:
        checks.append(Check("SRAT", "present", "absent", False))
        return tuple(checks)
    try:
        readback = guest_tables(view)
    except acpi.AcpiTableError as error:
        checks.append(Check("guest's ACPI tables", "decodable", str(error), False))
        return tuple(checks)
    entries = readback.entries
    checks += compare_table_contents(domain, profile, readback)
    checks += _gi_devices(view, entries)
    checks += initiator_place_checks(domain, profile, entries)
    mapping = pxm_to_node(entries)
    checks += _expander_nodes(domain, view, entries, mapping)
    if any(cell != node for cell, node in mapping.items()):
        pairs = ", ".join(f"cell {c} = node {n}" for c, n in sorted(mapping.items()) if c != n)
        checks.append(Check("kernel node numbering", "as Linux assigns it", pairs, True))
    checks += _node_sets(domain, profile, view, mapping)
    checks += _per_node(domain, view, mapping)
    checks += _distances(domain, view, mapping)
    checks += _access_checks(domain, view, readback.hmat, mapping)
    return tuple(checks)


# ------------------------------------------------------------------ PCI placement

_BRIDGES = frozenset(
    {
        "pcie-root-port",
        "ioh3420",
        "x3130-upstream",
        "xio3130-downstream",
        "pcie-pci-bridge",
        "pci-bridge",
        "i82801b11-bridge",
    }
)
"""QEMU devices that open a secondary bus named by their id."""


@dataclass(frozen=True)
class _PciDevice:
    ident: str
    driver: str
    bus: str
    slot: int
    function: int
    bus_nr: int | None


def _number(value: object, base: int) -> int | None:
    """An integer property as JSON (int) or key=value (text in ``base``) gives it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value, base) if isinstance(value, str) else None
    except ValueError:
        return None


def _pci_devices(argv: Sequence[str]) -> list[_PciDevice]:
    """Every ``-device`` with an id, a bus and a readable ``addr`` (SLOT[.FUNCTION], hex)."""
    found: list[_PciDevice] = []
    for flag, value in itertools.pairwise(argv):
        props = OptionValue.read(value, "driver") if flag == "-device" else None
        if props is None:
            continue
        values = props.values
        ident, bus, driver, addr = (values.get(k) for k in ("id", "bus", "driver", "addr"))
        slot: int | None
        function: int | None
        if isinstance(addr, int) and not isinstance(addr, bool):
            slot, function = addr >> 3, addr & 7  # QEMU reads an integer addr as devfn
        else:
            text, _, fn = addr.partition(".") if isinstance(addr, str) else ("", "", "")
            slot, function = _number(text, 16), _number(fn or "0", 16)
        if not (isinstance(ident, str) and isinstance(bus, str) and isinstance(driver, str)):
            continue
        if slot is not None and function is not None:
            bus_nr = _number(values.get("bus_nr"), 10)
            found.append(_PciDevice(ident, driver, bus, slot, function, bus_nr))
    return found


def firmware_bus_numbers(argv: Sequence[str]) -> dict[str, int]:
    """The number the guest's firmware gives each PCI bus an argv names.

    The root bus is 0 and an expander's (``pxb-pcie``) is its ``bus_nr``; below a root,
    each bridge's bus takes the next free number, depth first, a bus's bridges in
    (slot, function) order, no numbers kept for hotplug: how EDK2 and SeaBIOS scan.
    Measured on aarch64 (EDK2 2026.08, Linux 6.1 keeps the firmware's numbers): root
    ports ``pci.1``, ``pci.2`` at 00:01.0/.1 are buses 1 and 2, a root port behind a
    ``pxb-pcie`` with ``bus_nr`` 64 is bus 0x41; a ``pxb``'s bus is ``bus_nr`` + 1 (its
    internal pci-bridge; measured on i440fx). Guesswork only until the guest confirms it
    (:func:`guest_placements`)."""
    devices = _pci_devices(argv)
    children: dict[str, list[_PciDevice]] = {}
    for device in sorted(devices, key=lambda d: (d.slot, d.function)):
        children.setdefault(device.bus, []).append(device)
    numbers: dict[str, int] = {}

    def below(bus: str, number: int, free: int) -> int:
        numbers[bus] = number
        for child in children.get(bus, ()):
            if child.driver in _BRIDGES and child.ident not in numbers:
                free = below(child.ident, free, free + 1)
        return free

    for root in ROOT_BUSES:
        below(root, 0, 1)
    for device in devices:  # an expander host bridge's root bus is numbered by its bus_nr
        if device.driver in EXPANDER_DRIVERS and device.bus_nr is not None:
            # a PCI pxb's id names the pci-bridge QEMU puts behind its root bus (measured:
            # bus_nr 0xfe, its device at 0xff), a pxb-pcie's id the root bus itself
            number = device.bus_nr + (device.driver == "pxb")
            below(device.ident, number, number + 1)
    return numbers


def _firmware_placements(argv: Sequence[str]) -> Iterator[tuple[_PciDevice, PciPlacement]]:
    """Each device of ``argv`` on a bus the firmware numbers, at its guest place."""
    numbers = firmware_bus_numbers(argv)
    for device in _pci_devices(argv):
        bus = numbers.get(device.bus)
        if bus is not None:
            yield device, PciPlacement(bus, device.slot, device.function)


def guest_placements(argv: Sequence[str], view: GuestView) -> dict[str, PciPlacement]:
    """Each device id of ``argv`` at the address the guest enumerated it, tying a Generic
    Initiator's PCI handle to the device as ``query-pci`` does where QMP is at hand.

    The address is libvirt's ``bus`` (numbered by :func:`firmware_bus_numbers`) and
    ``addr``; a device counts only when the guest enumerated a function there, and a
    stand-in only when that function has the stand-in's vendor and device id. A device
    the guest does not show there is left out (its firmware or kernel did not scan it)."""
    present = {p.address: (p.vendor, p.device) for p in view.pci}
    placed: dict[str, PciPlacement] = {}
    for device, placement in _firmware_placements(argv):
        ids = present.get(placement.address)
        if ids is not None and (device.driver != STAND_IN or ids == STAND_IN_IDS):
            placed[device.ident] = placement
    return placed


def predicted_initiator_addresses(domain: Domain, profile: Profile) -> dict[int, tuple[str, ...]]:
    """The guest address (``SSSS:BB:DD.F``) of each Generic Initiator's device, by node,
    from the document alone: the device's bus and slot as the profile's argv writes them
    (libvirt's placement, :mod:`gi_conform.pcitopology`, for a device without a guest
    address), every bus numbered as the firmware numbers libvirt's guest
    (:func:`firmware_bus_numbers` over every controller libvirt writes). A node whose
    device has no predicted place (placement not modelled, the seed profile's unplaced
    devices) is left out."""
    argv = with_every_controller(domain, flatten(build_argv(domain, profile)))
    places = {device.ident: place.address for device, place in _firmware_placements(argv)}
    predicted: dict[int, list[str]] = {}
    unknown: set[int] = set()
    for initiator in read_argv(argv).initiators:
        if initiator.node is None:
            continue
        place = places.get(initiator.pci_dev or "")
        if place is None:
            unknown.add(initiator.node)
        else:
            predicted.setdefault(initiator.node, []).append(place)
    return {
        node: tuple(sorted(set(found))) for node, found in predicted.items() if node not in unknown
    }


def initiator_place_checks(
    domain: Domain, profile: Profile, entries: tuple[acpi.SratEntry, ...]
) -> Iterator[Check]:
    """Each node's initiators name, in the guest's SRAT, the addresses the document
    predicts (:func:`predicted_initiator_addresses`)."""
    seen: dict[int, set[str]] = {}
    for entry in acpi.enabled_entries(entries):
        if isinstance(entry, acpi.GenericInitiatorAffinity) and entry.pci_address is not None:
            seen.setdefault(entry.proximity_domain, set()).add(entry.pci_address)
    for node, places in sorted(predicted_initiator_addresses(domain, profile).items()):
        found = tuple(sorted(seen.get(node, ())))
        yield Check(
            f"GI of node {node} at the predicted guest address",
            ", ".join(places),
            ", ".join(found) or "no initiator",
            found == places,
        )
