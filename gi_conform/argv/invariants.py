"""Invariants any implementation's argv must satisfy for a valid document.

Golden files compare one spelling; these checks compare meaning, so they apply to every
implementation (libvirt, a patched libvirt, a toy converter): read the argv back with
:mod:`gi_conform.argv.read` and hold it against the document. The catalogue of ids lives
in ``reference/invariants.toml``; the ids are an interface and never change.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from gi_conform.argv.build import Profile
from gi_conform.argv.facts import (
    expected_cells,
    expected_distances,
    expected_pairs,
    pci_hostdevs,
    resolved_distances,
)
from gi_conform.argv.read import (
    GI_PROPERTIES,
    NUMA_DIST_PROPERTIES,
    NUMA_NODE_PROPERTIES,
    ArgvReading,
    Device,
    Form,
    device_key,
    read_argv,
)
from gi_conform.bitmap import format_bitmap
from gi_conform.document.validate import parse
from gi_conform.model import Domain
from gi_conform.resources import reference_dir
from gi_conform.semantics import (
    legacy_numa_mem,
    unassigned_vcpus,
    vcpus_added_to_cell0,
)

__all__ = [
    "BrokenInvariant",
    "Invariant",
    "check_invariants",
    "invariant_catalogue",
]


@dataclass(frozen=True)
class Invariant:
    """A catalogue entry: ``profile`` set means it is checked only for that profile."""

    id: str
    summary: str
    profile: str | None = None


@dataclass(frozen=True)
class BrokenInvariant:
    """One broken invariant; ``position`` is the argv index of the offending flag."""

    id: str
    message: str
    position: int | None = None

    def text(self) -> str:
        where = f" argv[{self.position}]" if self.position is not None else ""
        return f"{self.id}{where}: {self.message}"


@cache
def invariant_catalogue() -> Mapping[str, Invariant]:
    """Every invariant by id, in ``reference/invariants.toml`` order."""
    with (reference_dir() / "invariants.toml").open("rb") as handle:
        data = tomllib.load(handle)
    entries: dict[str, Invariant] = {}
    for entry in data["invariant"]:
        invariant = Invariant(entry["id"], entry["summary"], entry.get("profile"))
        if invariant.id in entries:
            raise ValueError(f"invariants.toml: duplicate id {invariant.id}")
        entries[invariant.id] = invariant
    return MappingProxyType(entries)


@dataclass(frozen=True)
class _Context:
    domain: Domain
    reading: ArgvReading
    cells: Mapping[int, tuple[frozenset[int], int]]
    profile: Profile | None = None
    """The profile whose device ids iommufd devices are keyed by (None: the document's)."""


def _broken(invariant: str, message: str, position: int | None = None) -> BrokenInvariant:
    return BrokenInvariant(invariant, message, position)


def _readable(ctx: _Context) -> Iterator[BrokenInvariant]:
    for error in ctx.reading.errors:
        if not error.stray:
            yield _broken(
                "INV-ARGV-READABLE",
                f"{error.flag} '{error.value}': {error.message}",
                error.position,
            )
    for gi in ctx.reading.initiators:
        extra = gi.properties - GI_PROPERTIES
        if extra and gi.form is Form.JSON:
            yield _broken(
                "INV-ARGV-READABLE",
                f"initiator '{gi.id}' has properties QEMU refuses: {', '.join(sorted(extra))}",
                gi.position,
            )


def _keyval(ctx: _Context) -> Iterator[BrokenInvariant]:
    for error in ctx.reading.errors:
        if error.stray:
            yield _broken(
                "INV-KEYVAL-REREAD",
                f"{error.flag} '{error.value}': {error.message}",
                error.position,
            )
    reading = ctx.reading
    node_properties = NUMA_NODE_PROPERTIES | (
        {"mem"} if legacy_numa_mem(ctx.domain) else frozenset()
    )
    written: list[tuple[str, frozenset[str], frozenset[str], Form, int]] = [
        *(
            (f"initiator '{g.id}'", g.properties, GI_PROPERTIES, g.form, g.position)
            for g in reading.initiators
        ),
        *(
            ("-numa dist", d.properties, NUMA_DIST_PROPERTIES, d.form, d.position)
            for d in reading.distances
        ),
        *(
            (f"-numa node {n.nodeid}", n.properties, node_properties, n.form, n.position)
            for n in reading.numa_nodes
        ),
    ]
    for label, properties, allowed, form, position in written:
        extra = properties - allowed
        if extra and form is Form.KEYVAL:
            yield _broken(
                "INV-KEYVAL-REREAD",
                f"{label} reads back with extra properties: {', '.join(sorted(extra))}",
                position,
            )


def _ids(ctx: _Context) -> Iterator[BrokenInvariant]:
    first: dict[str, int] = {}
    for name, position in ctx.reading.ids():
        if name in first:
            yield _broken(
                "INV-ID-UNIQUE", f"id '{name}' already used at argv[{first[name]}]", position
            )
        else:
            first[name] = position


def _gi_references(ctx: _Context) -> Iterator[BrokenInvariant]:
    nodeids = {node.nodeid for node in ctx.reading.numa_nodes}
    for gi in ctx.reading.initiators:
        if gi.pci_dev is not None and ctx.reading.device(gi.pci_dev) is None:
            yield _broken(
                "INV-GI-DEVICE",
                f"initiator '{gi.id}': pci-dev '{gi.pci_dev}' is not a -device id",
                gi.position,
            )
        if gi.node is not None and gi.node not in nodeids:
            yield _broken(
                "INV-GI-NODE",
                f"initiator '{gi.id}': node {gi.node} is not a -numa node",
                gi.position,
            )


def _numa_nodes(ctx: _Context) -> Iterator[BrokenInvariant]:
    seen: dict[int, int] = {}
    for node in ctx.reading.numa_nodes:
        if node.nodeid is None:
            yield _broken("INV-NUMA-NODES", "-numa node without nodeid", node.position)
        elif node.nodeid in seen:
            yield _broken(
                "INV-NUMA-NODES",
                f"nodeid {node.nodeid} already defined at argv[{seen[node.nodeid]}]",
                node.position,
            )
        elif node.nodeid not in ctx.cells:
            yield _broken(
                "INV-NUMA-NODES",
                f"nodeid {node.nodeid} is not a cell of the document",
                node.position,
            )
        else:
            seen[node.nodeid] = node.position
    missing = sorted(set(ctx.cells) - set(seen))
    if missing:
        yield _broken("INV-NUMA-NODES", f"no -numa node for cell(s) {format_bitmap(missing)}")


def _first_nodes(ctx: _Context) -> dict[int, int]:
    """Cell id -> index into ``reading.numa_nodes`` of the first node with that id."""
    found: dict[int, int] = {}
    for index, node in enumerate(ctx.reading.numa_nodes):
        if node.nodeid is not None and node.nodeid in ctx.cells:
            found.setdefault(node.nodeid, index)
    return found


def _numa_cpus(ctx: _Context) -> Iterator[BrokenInvariant]:
    for cell, index in _first_nodes(ctx).items():
        node = ctx.reading.numa_nodes[index]
        expected = ctx.cells[cell][0]
        if node.cpus != expected:
            parts = []
            if expected - node.cpus:
                parts.append(f"missing vCPU {format_bitmap(expected - node.cpus)}")
            if node.cpus - expected:
                parts.append(f"extra vCPU {format_bitmap(node.cpus - expected)}")
            yield _broken("INV-NUMA-CPUS", f"node {cell}: {'; '.join(parts)}", node.position)


def _legacy_mem(cell: int, mem: int, memory: int, position: int) -> Iterator[BrokenInvariant]:
    """``mem=`` where libvirt writes it (machine types up to 5.0): the cell's size."""
    if mem != memory:
        yield _broken(
            "INV-NUMA-MEMORY",
            f"node {cell}: legacy mem= of {mem} bytes, the cell needs {memory} "
            "(its memory rounded up to whole MiB)",
            position,
        )


def _numa_memory(ctx: _Context) -> Iterator[BrokenInvariant]:
    users: dict[str, list[int]] = {}
    for node in ctx.reading.numa_nodes:
        if node.memdev is not None:
            users.setdefault(node.memdev, []).append(node.position)
    for cell, index in _first_nodes(ctx).items():
        node = ctx.reading.numa_nodes[index]
        memory = ctx.cells[cell][1]
        if memory == 0:
            if node.memdev is not None or node.mem is not None:
                what = f"memdev={node.memdev}" if node.memdev is not None else f"mem={node.mem}"
                yield _broken(
                    "INV-NUMA-MEMORYLESS", f"memoryless node {cell} has {what}", node.position
                )
            continue
        if node.memdev is None and node.mem is not None and legacy_numa_mem(ctx.domain):
            yield from _legacy_mem(cell, node.mem, memory, node.position)
            continue
        if node.memdev is None:
            how = " (uses legacy mem=)" if node.mem is not None else ""
            yield _broken("INV-NUMA-MEMORY", f"node {cell} has no memdev{how}", node.position)
            continue
        backend = ctx.reading.backend(node.memdev)
        if backend is None:
            yield _broken(
                "INV-NUMA-MEMORY",
                f"node {cell}: memdev '{node.memdev}' is not a memory backend",
                node.position,
            )
        elif backend.size != memory:
            yield _broken(
                "INV-NUMA-MEMORY",
                f"node {cell}: backend '{backend.id}' has size {backend.size}, "
                f"the cell needs {memory} (its memory rounded up to whole MiB)",
                backend.position,
            )
        if len(users.get(node.memdev, ())) > 1:
            yield _broken(
                "INV-NUMA-MEMORY",
                f"node {cell}: backend '{node.memdev}' is used by several nodes",
                node.position,
            )
    for backend in ctx.reading.backends:
        if backend.id not in users and backend.id != ctx.reading.machine_memory_backend:
            yield _broken(
                "INV-NUMA-MEMORYLESS",
                f"memory backend '{backend.id}' is used by no -numa node",
                backend.position,
            )


def _numa_distances(ctx: _Context) -> Iterator[BrokenInvariant]:
    expected = expected_distances(ctx.domain)
    found = resolved_distances(ctx.reading)
    if found != expected:
        want = {(src, dst): value for src, dst, value in expected}
        have = {(src, dst): value for src, dst, value in found}
        wrong = [
            f"{src}->{dst}: {have.get((src, dst), 'default')} instead of "
            f"{want.get((src, dst), 'default')}"
            for src, dst in sorted(set(want) | set(have))
            if want.get((src, dst)) != have.get((src, dst))
        ]
        yield _broken("INV-NUMA-DISTANCES", "distances differ: " + "; ".join(wrong[:4]))
    given = {(d.src, d.dst) for d in ctx.reading.distances}
    if given:
        nodes = sorted({n.nodeid for n in ctx.reading.numa_nodes if n.nodeid is not None})
        missing = [
            f"{a}-{b}"
            for a in nodes
            for b in nodes
            if a < b and (a, b) not in given and (b, a) not in given
        ]
        if missing:
            yield _broken(
                "INV-NUMA-DISTANCES",
                f"QEMU needs a distance for every node pair once any is given: no "
                f"{', '.join(missing[:4])}",
            )


def _host_devices(ctx: _Context) -> list[tuple[Device, str]]:
    return [
        (device, key) for device in ctx.reading.devices if (key := device_key(device)) is not None
    ]


def _devices(ctx: _Context) -> Iterator[BrokenInvariant]:
    expected = {key: hostdev for hostdev, key in pci_hostdevs(ctx.domain, ctx.profile)}
    seen: dict[str, int] = {}
    for device, key in _host_devices(ctx):
        if key not in expected:
            yield _broken(
                "INV-DEVICES",
                f"-device '{device.id}' names host device {key}, not in the document",
                device.position,
            )
        elif key in seen:
            yield _broken(
                "INV-DEVICES",
                f"host device {key} already has a -device at argv[{seen[key]}]",
                device.position,
            )
        else:
            seen[key] = device.position
    for key, hostdev in expected.items():
        if key not in seen:
            yield _broken("INV-DEVICES", f"hostdev '{hostdev.alias}' ({key}) has no -device")


def _pairs(ctx: _Context) -> Iterator[BrokenInvariant]:
    expected = set(expected_pairs(ctx.domain, ctx.profile))
    found: Counter[tuple[str, int]] = Counter()
    for gi in ctx.reading.initiators:
        if gi.pci_dev is None or gi.node is None:
            continue
        device = ctx.reading.device(gi.pci_dev)
        key = device_key(device) if device is not None else None
        pair = (key if key is not None else f"id:{gi.pci_dev}", gi.node)
        found[pair] += 1
        if pair not in expected:
            yield _broken(
                "INV-GI-PAIRS",
                f"initiator '{gi.id}' pairs {pair[0]} with node {pair[1]}, "
                "which the document does not ask for",
                gi.position,
            )
        elif found[pair] == 2:
            yield _broken(
                "INV-GI-PAIRS",
                f"initiator '{gi.id}' repeats ({pair[0]}, node {pair[1]})",
                gi.position,
            )
    for key, node in sorted(expected - set(found)):
        yield _broken("INV-GI-PAIRS", f"no initiator pairs {key} with node {node}")


def _hmat(ctx: _Context) -> Iterator[BrokenInvariant]:
    domain, reading = ctx.domain, ctx.reading
    if domain.uses_hmat != reading.hmat_enabled:
        state = "describes HMAT" if domain.uses_hmat else "describes no HMAT"
        yield _broken("INV-HMAT", f"the document {state} but hmat=on is {reading.hmat_enabled}")
    links = [e for e in reading.hmat if e.kind == "hmat-lb"]
    caches = [e for e in reading.hmat if e.kind == "hmat-cache"]
    if len(links) != len(domain.interconnects):
        yield _broken(
            "INV-HMAT", f"{len(links)} hmat-lb for {len(domain.interconnects)} interconnects"
        )
    expected_caches = sum(len(cell.caches) for cell in domain.cells)
    if len(caches) != expected_caches:
        yield _broken("INV-HMAT", f"{len(caches)} hmat-cache for {expected_caches} cell caches")
    last_node = max((node.position for node in reading.numa_nodes), default=-1)
    for entry in reading.hmat:
        if entry.position < last_node:
            yield _broken(
                "INV-HMAT", f"-numa {entry.kind} comes before a -numa node", entry.position
            )
    for entry in caches:
        earlier = {
            e.position for e in links if e.node == entry.node and e.position < entry.position
        }
        if not earlier:
            yield _broken(
                "INV-HMAT",
                f"hmat-cache of node {entry.node} comes before any hmat-lb targeting it",
                entry.position,
            )
    placed_by_qemu = bool(unassigned_vcpus(domain)) and not vcpus_added_to_cell0(domain)
    with_cpus = {node.nodeid for node in reading.numa_nodes if node.cpus}
    for node in reading.numa_nodes:
        named_other = node.initiator is not None and node.initiator != node.nodeid
        if named_other and node.nodeid == 0 and placed_by_qemu:
            yield _broken(
                "INV-HMAT",
                f"-numa node 0 names initiator {node.initiator}, but QEMU puts the vCPUs no "
                "node names on node 0, which must then be its own initiator",
                node.position,
            )
        elif named_other and node.initiator not in with_cpus:
            yield _broken(
                "INV-HMAT",
                f"-numa node {node.nodeid} names initiator {node.initiator}, a node without CPUs",
                node.position,
            )


def _order_common(ctx: _Context, invariant: str) -> Iterator[BrokenInvariant]:
    """What both profiles share: the NUMA section in cell order, then host devices."""
    yield from _order_numa(ctx, invariant)
    yield from _order_devices(ctx, invariant)


def _order_numa(ctx: _Context, invariant: str) -> Iterator[BrokenInvariant]:
    """Nodes ascending, each backend just before its node, distances after their nodes."""
    reading = ctx.reading
    previous: int | None = None
    previous_position = -1
    for node in reading.numa_nodes:
        if node.nodeid is not None:
            if previous is not None and node.nodeid < previous:
                yield _broken(
                    invariant,
                    f"-numa node {node.nodeid} comes after node {previous}",
                    node.position,
                )
            previous = node.nodeid
        backend = reading.backend(node.memdev) if node.memdev is not None else None
        if backend is not None and not previous_position < backend.position < node.position:
            yield _broken(
                invariant,
                f"backend '{backend.id}' is not between node {node.nodeid} and the node before it",
                backend.position,
            )
        previous_position = node.position
    node_at = {node.nodeid: node.position for node in reading.numa_nodes}
    for distance in reading.distances:
        late = [n for n in (distance.src, distance.dst) if node_at.get(n, -1) > distance.position]
        if late:
            yield _broken(
                invariant,
                f"-numa dist comes before -numa node {late[0]}",
                distance.position,
            )


def _order_devices(ctx: _Context, invariant: str) -> Iterator[BrokenInvariant]:
    """Host devices and initiators after the NUMA section, devices in document order."""
    reading = ctx.reading
    positions = [node.position for node in reading.numa_nodes]
    positions.extend(backend.position for backend in reading.backends)
    positions.extend(distance.position for distance in reading.distances)
    numa_end = max(positions, default=-1)
    host_devices = _host_devices(ctx)
    for device, _ in host_devices:
        if device.position < numa_end:
            yield _broken(
                invariant,
                f"-device '{device.id}' comes before the NUMA section ends",
                device.position,
            )
    for gi in reading.initiators:
        if gi.position < numa_end:
            yield _broken(
                invariant, f"initiator '{gi.id}' comes before the NUMA section ends", gi.position
            )
    rank = {key: index for index, (_, key) in enumerate(pci_hostdevs(ctx.domain, ctx.profile))}
    last = -1
    for device, key in host_devices:
        if key in rank:
            if rank[key] < last:
                yield _broken(
                    invariant,
                    f"-device '{device.id}' ({key}) is out of document order",
                    device.position,
                )
            last = max(last, rank[key])


def _order_seed(ctx: _Context) -> Iterator[BrokenInvariant]:
    yield from _order_common(ctx, "INV-ORDER-SEED")
    last_device = max((device.position for device, _ in _host_devices(ctx)), default=-1)
    for gi in ctx.reading.initiators:
        if gi.position < last_device:
            yield _broken(
                "INV-ORDER-SEED",
                f"initiator '{gi.id}' comes before the last host device",
                gi.position,
            )


def _order_libvirt(ctx: _Context) -> Iterator[BrokenInvariant]:
    yield from _order_common(ctx, "INV-ORDER-LIBVIRT")
    initiators = {gi.position: gi for gi in ctx.reading.initiators}
    devices = {device.position: device for device in ctx.reading.devices}
    for gi in ctx.reading.initiators:
        before = gi.position - 2
        while before in initiators and initiators[before].pci_dev == gi.pci_dev:
            before -= 2
        device = devices.get(before)
        if device is None or device.id != gi.pci_dev:
            yield _broken(
                "INV-ORDER-LIBVIRT",
                f"initiator '{gi.id}' does not follow its device '{gi.pci_dev}' right away",
                gi.position,
            )
        previous = initiators.get(gi.position - 2)
        if (
            previous is not None
            and previous.pci_dev == gi.pci_dev
            and previous.node is not None
            and gi.node is not None
            and previous.node >= gi.node
        ):
            yield _broken(
                "INV-ORDER-LIBVIRT",
                f"initiator '{gi.id}' (node {gi.node}) comes after node {previous.node}",
                gi.position,
            )


def check_invariants(
    document: str | bytes | Domain,
    argv: Sequence[str] | ArgvReading,
    profile: Profile | str | None = None,
) -> list[BrokenInvariant]:
    """Every invariant ``argv`` breaks for ``document``, in catalogue order.

    ``document`` is XML (it must be valid: :class:`gi_conform.InvalidDocument` is raised
    otherwise, since invariants say nothing about a rejected input) or an accepted model.
    ``profile`` adds that profile's order invariant; ``None`` checks meaning only, which
    suits an implementation with its own option order.
    """
    domain = document if isinstance(document, Domain) else parse(document)
    reading = argv if isinstance(argv, ArgvReading) else read_argv(argv)
    chosen = Profile(profile) if profile is not None else None
    ctx = _Context(domain, reading, expected_cells(domain), chosen)
    checks = [
        _readable,
        _keyval,
        _ids,
        _gi_references,
        _numa_nodes,
        _numa_cpus,
        _numa_memory,
        _numa_distances,
        _devices,
        _pairs,
        _hmat,
    ]
    if chosen is Profile.SEED:
        checks.append(_order_seed)
    elif chosen is Profile.LIBVIRT:
        checks.append(_order_libvirt)
    broken = [item for check in checks for item in check(ctx)]
    rank = {invariant: index for index, invariant in enumerate(invariant_catalogue())}
    return sorted(
        broken, key=lambda item: (rank[item.id], item.position if item.position is not None else -1)
    )
