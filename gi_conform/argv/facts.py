"""What an argv means, and what a correct one for a document means: comparable facts.

The oracle and the invariants compare implementations on meaning, not spelling: the
nodes with their CPUs and memory, the (host device, node) initiator pairs, the device ids
and the resolved distance matrix. :func:`semantic_facts` reads them from any argv,
:func:`document_facts` derives them from a domain; equal facts, equal meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gi_conform.argv.build import Profile, aligned_memory, default_profile, device_ids
from gi_conform.argv.read import ArgvReading, Device, device_key, iommufd_key, read_argv
from gi_conform.model import Domain, Hostdev, PciAddress
from gi_conform.pcitopology import (
    EXPANDER_DRIVERS,
    PlacedController,
    bus_id,
    device_addresses,
    pci_path,
    pci_topology,
)
from gi_conform.semantics import (
    LOCAL_DISTANCE,
    REMOTE_DISTANCE,
    distance_matrix,
    initiator_pairs,
    source_key,
    vcpus_added_to_cell0,
)

__all__ = [
    "ROOT_BUSES",
    "DevicePlace",
    "NodeFacts",
    "SemanticFacts",
    "document_facts",
    "expected_cells",
    "expected_distances",
    "expected_pairs",
    "expected_paths",
    "expected_places",
    "gi_device_paths",
    "hostdev_key",
    "path_positions",
    "pci_hostdevs",
    "resolved_distances",
    "semantic_facts",
]


@dataclass(frozen=True, order=True)
class NodeFacts:
    """One guest NUMA node: ``memory`` in bytes, ``None`` when its memdev is missing."""

    nodeid: int
    cpus: frozenset[int]
    memory: int | None


def _node_order(node: NodeFacts) -> tuple[int, tuple[int, ...], bool, int]:
    """A total order for nodes, repeats and unreadable memory included (the dataclass's
    own order compares CPU sets by inclusion and None with numbers)."""
    return node.nodeid, tuple(sorted(node.cpus)), node.memory is None, node.memory or 0


@dataclass(frozen=True, order=True)
class DevicePlace:
    """Where a device sits in the guest's PCI hierarchy, which its SRAT Generic Initiator
    entry's PCI handle (segment, bus, devfn) follows from.

    ``path`` is the root bus, then each controller down to the device with its ``addr``
    (an expander bus with its ``bus_nr``, which numbers the buses below it): None when
    the chain is not written (the seed profile writes no controllers). ``bus`` is the id
    of the bus the device names, as written; ``devfn`` its ``slot << 3 | function``
    (None: no readable ``addr``). A place is compared on ``path`` when the expected one
    has a path, else on ``bus`` (see :meth:`matches`).
    """

    bus: str | None
    path: str | None
    devfn: int | None

    def matches(self, actual: DevicePlace) -> bool:
        """Whether ``actual`` is this (expected) place."""
        if self.path is not None:
            return (self.path, self.devfn) == (actual.path, actual.devfn)
        return (self.bus, self.devfn) == (actual.bus, actual.devfn)

    def describe(self, traced: bool) -> str:
        """``PATH > SS.F`` (``traced``) or ``bus BUS > SS.F``: the compared part."""
        where = self.path if traced else f"bus {self.bus or '(none)'}"
        return f"{where or '(not traceable to a root bus)'} > {_devfn_text(self.devfn)}"


def _devfn_text(devfn: int | None) -> str:
    return "no addr" if devfn is None else f"{devfn >> 3:02x}.{devfn & 7:x}"


def _place_hop(driver: str | None, devfn: int | None, bus_nr: int | None) -> str:
    hop = f"{driver}@{_devfn_text(devfn)}"
    return hop if bus_nr is None else f"{hop} (bus_nr {bus_nr})"


@dataclass(frozen=True)
class SemanticFacts:
    """What an argv means for generic initiators, independent of spelling and ids.

    ``initiators`` holds (host device, node) pairs, the host device being a normalized
    PCI address or mdev path (``id:NAME`` when ``pci-dev`` names no host device).
    ``distances`` is the full (src, dst, value) matrix, empty when every distance is
    QEMU's default (10 local, 20 remote), however it was spelled.
    """

    nodes: tuple[NodeFacts, ...]
    initiators: frozenset[tuple[str, int]]
    device_ids: frozenset[str]
    distances: tuple[tuple[int, int, int], ...] = ()
    paths: frozenset[tuple[str, str]] = frozenset()
    """(host device, PCI path) of each device with an initiator whose path is known: the
    root bus, then each controller's driver (an expander bus with its NUMA node)."""
    places: frozenset[tuple[str, DevicePlace]] = frozenset()
    """(host device, its place) of each device with an initiator and a ``bus`` or an
    ``addr`` (in a document: a guest address whose place is modelled)."""


ROOT_BUSES = ("pcie.0", "pci.0")


def _hop(driver: str, numa_node: int | None) -> str:
    return driver if numa_node is None else f"{driver} (node {numa_node})"


def gi_device_paths(reading: ArgvReading) -> dict[str, tuple[Device, ...]]:
    """Device id -> the controller devices from the root down to it, for every device an
    initiator names whose ``bus`` chain reaches a root bus through the argv's devices."""
    paths: dict[str, tuple[Device, ...]] = {}
    for initiator in reading.initiators:
        name = initiator.pci_dev
        device = reading.device(name) if name is not None else None
        if name is None or device is None or name in paths:
            continue
        chain: list[Device] = []
        bus = device.bus
        while bus is not None and bus not in ROOT_BUSES and len(chain) <= 256:
            parent = reading.device(bus)
            if parent is None:
                break
            chain.append(parent)
            bus = parent.bus
        if bus in ROOT_BUSES:
            paths[name] = tuple(reversed(chain))
    return paths


def path_positions(reading: ArgvReading) -> set[int]:
    """Where the PCI paths of the initiators' devices are in the argv: their controllers,
    and each ``arm-smmuv3`` whose primary bus is one of them or the root they hang from."""
    paths = gi_device_paths(reading)
    controllers = {d.position: d for chain in paths.values() for d in chain}
    buses = {d.id for d in controllers.values()} | (set(ROOT_BUSES) if paths else set())
    smmus = {
        d.position
        for d in reading.devices
        if d.driver == "arm-smmuv3" and d.primary_bus is not None and d.primary_bus in buses
    }
    return set(controllers) | smmus


def _path_text(root: str, hops: Sequence[tuple[str, int | None]]) -> str:
    return " > ".join([root, *(_hop(driver, node) for driver, node in hops)])


def _argv_paths(reading: ArgvReading) -> frozenset[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for name, chain in gi_device_paths(reading).items():
        device = reading.device(name)
        key = device_key(device) if device is not None else None
        root = chain[0].bus if chain else (device.bus if device is not None else None)
        if key is None or root is None:
            continue
        found.add((key, _path_text(root, [(d.driver, d.numa_node) for d in chain])))
    return frozenset(found)


def _argv_places(reading: ArgvReading) -> frozenset[tuple[str, DevicePlace]]:
    paths = gi_device_paths(reading)
    found: set[tuple[str, DevicePlace]] = set()
    for initiator in reading.initiators:
        device = reading.device(initiator.pci_dev) if initiator.pci_dev is not None else None
        key = device_key(device) if device is not None else None
        if device is None or key is None or (device.bus is None and device.addr is None):
            continue
        chain = paths.get(initiator.pci_dev or "")
        path = None
        if chain is not None:
            hops = [
                _place_hop(d.driver, d.devfn, d.bus_nr if d.driver in EXPANDER_DRIVERS else None)
                for d in chain
            ]
            path = " > ".join([(chain[0].bus if chain else device.bus) or "", *hops])
        found.add((key, DevicePlace(device.bus, path, device.devfn)))
    return frozenset(found)


def resolved_distances(reading: ArgvReading) -> tuple[tuple[int, int, int], ...]:
    """The distance matrix QEMU builds: a missing reverse distance mirrors the given one,
    an unset local distance is 10; ``()`` when nothing differs from the defaults."""
    given: dict[tuple[int, int], int] = {}
    for distance in reading.distances:
        if distance.src is not None and distance.dst is not None and distance.value is not None:
            given[(distance.src, distance.dst)] = distance.value
    if not given:
        return ()
    nodes = {node.nodeid for node in reading.numa_nodes if node.nodeid is not None}
    ids = sorted(nodes | {src for src, _ in given} | {dst for _, dst in given})
    matrix: list[tuple[int, int, int]] = []
    for src in ids:
        for dst in ids:
            default = LOCAL_DISTANCE if src == dst else REMOTE_DISTANCE
            value = given.get((src, dst), given.get((dst, src), default))
            matrix.append((src, dst, value))
    if all(value == (LOCAL_DISTANCE if a == b else REMOTE_DISTANCE) for a, b, value in matrix):
        return ()
    return tuple(matrix)


def semantic_facts(argv: Sequence[str] | ArgvReading) -> SemanticFacts:
    """The comparable meaning of an argv (or of a reading of one)."""
    reading = argv if isinstance(argv, ArgvReading) else read_argv(argv)
    nodes: list[NodeFacts] = []
    for node in reading.numa_nodes:
        if node.nodeid is None:
            continue
        memory: int | None = 0
        if node.memdev is not None:
            backend = reading.backend(node.memdev)
            memory = backend.size if backend is not None else None
        elif node.mem is not None:
            memory = node.mem
        nodes.append(NodeFacts(node.nodeid, node.cpus, memory))
    pairs: set[tuple[str, int]] = set()
    for initiator in reading.initiators:
        if initiator.pci_dev is None or initiator.node is None:
            continue
        device = reading.device(initiator.pci_dev)
        key = device_key(device) if device is not None else None
        pairs.add((key if key is not None else f"id:{initiator.pci_dev}", initiator.node))
    return SemanticFacts(
        nodes=tuple(sorted(nodes, key=_node_order)),
        initiators=frozenset(pairs),
        device_ids=frozenset(
            d.id for d in reading.devices if d.id is not None and device_key(d) is not None
        ),
        distances=resolved_distances(reading),
        paths=_argv_paths(reading),
        places=_argv_places(reading),
    )


# ------------------------------------------------------------------ expected from a document


def expected_cells(domain: Domain) -> dict[int, tuple[frozenset[int], int]]:
    """Cell id -> (CPUs, argv memory bytes), with unnamed vCPUs on cell 0 as libvirt does
    (only when cell 0 has memory).

    The memory is the cell's rounded up to whole MiB, as libvirt aligns it (and QEMU
    needs the cells to add up to its own rounded RAM size).
    """
    extra = frozenset(vcpus_added_to_cell0(domain))
    cells: dict[int, tuple[frozenset[int], int]] = {}
    for cell in domain.cells:
        if cell.id is None or cell.cpus is None or cell.memory is None:
            continue
        cpus = frozenset(cell.cpus) | (extra if cell.id == 0 else frozenset())
        cells[cell.id] = (cpus, aligned_memory(cell.memory))
    return cells


def hostdev_key(domain: Domain, hostdev: Hostdev, profile: Profile | None = None) -> str | None:
    """What the argv's device for ``hostdev`` is compared on (see ``device_key``): its host
    address or mdev path, or ``id:ID`` for an iommufd device, which has no host address
    in the argv (``profile``, default the document's, decides the id)."""
    if not hostdev.in_guest:
        return None
    if domain.uses_iommufd(hostdev) and hostdev.source is not None:
        names = device_ids(domain, profile if profile is not None else default_profile(domain))
        return iommufd_key(names[hostdev.alias])
    return source_key(hostdev.source)


def expected_pairs(domain: Domain, profile: Profile | None = None) -> list[tuple[str, int]]:
    pairs: list[tuple[str, int]] = []
    for alias, node in initiator_pairs(domain):
        hostdev = domain.hostdev(alias)
        key = hostdev_key(domain, hostdev, profile) if hostdev is not None else None
        if key is not None:
            pairs.append((key, node))
    return pairs


def pci_hostdevs(domain: Domain, profile: Profile | None = None) -> list[tuple[Hostdev, str]]:
    return [
        (hostdev, key)
        for hostdev in domain.hostdevs
        if (key := hostdev_key(domain, hostdev, profile)) is not None
    ]


def document_facts(domain: Domain, profile: Profile | None = None) -> SemanticFacts:
    """The facts a correct argv for ``domain`` has (compare with ``semantic_facts``).

    Only the device ids depend on the profile (``None``: the document's own).
    """
    names = device_ids(domain, profile if profile is not None else default_profile(domain))
    nodes = tuple(
        sorted(
            NodeFacts(cell, cpus, memory) for cell, (cpus, memory) in expected_cells(domain).items()
        )
    )
    pairs = expected_pairs(domain, profile)
    devices = _initiator_devices(domain, profile, pairs)
    return SemanticFacts(
        nodes=nodes,
        initiators=frozenset(pairs),
        device_ids=frozenset(names[hostdev.alias] for hostdev, _ in pci_hostdevs(domain, profile)),
        distances=expected_distances(domain),
        paths=_paths(domain, devices),
        places=_places(domain, devices),
    )


_InitiatorDevice = tuple[str, PciAddress, "tuple[PlacedController, ...] | None"]


def _initiator_devices(
    domain: Domain, profile: Profile | None, pairs: list[tuple[str, int]]
) -> list[_InitiatorDevice]:
    """(host device, guest address, the controllers from the root down to its bus) for
    each device with an initiator (in ``pairs``) whose guest address is modelled
    (:func:`gi_conform.pcitopology.device_addresses`). The controllers are None where the
    argv has no path to it: one on the way is not modelled (:func:`pci_path`), or, in the
    seed profile, whose cover-letter lines leave controllers out, it is off the root bus."""
    seed = (profile if profile is not None else default_profile(domain)) is Profile.SEED
    with_initiator = {key for key, _ in pairs}
    addresses = device_addresses(domain, placed=not seed)
    topology = pci_topology(domain) if any(a.bus for a in addresses.values()) else {}
    found: list[_InitiatorDevice] = []
    for hostdev, key in pci_hostdevs(domain, profile):
        address = addresses.get(hostdev.alias)
        if key not in with_initiator or address is None:
            continue
        chain = pci_path(topology, address.bus)
        found.append((key, address, None if chain is None or (seed and chain) else chain))
    return found


def _paths(domain: Domain, devices: list[_InitiatorDevice]) -> frozenset[tuple[str, str]]:
    return frozenset(
        (
            key,
            _path_text(
                domain.pci_root_bus,
                [(c.driver or c.model, c.node if c.is_expander else None) for c in chain],
            ),
        )
        for key, _, chain in devices
        if chain is not None
    )


def _places(domain: Domain, devices: list[_InitiatorDevice]) -> frozenset[tuple[str, DevicePlace]]:
    return frozenset(
        (
            key,
            DevicePlace(
                bus_id(domain, address.bus),
                None
                if chain is None
                else " > ".join([domain.pci_root_bus, *(_placed_hop(c) for c in chain)]),
                address.slot << 3 | address.function,
            ),
        )
        for key, address, chain in devices
    )


def expected_paths(domain: Domain, profile: Profile | None = None) -> frozenset[tuple[str, str]]:
    """(host device, PCI path) for each device with an initiator and a modelled path (a
    guest address, every controller on the way placed: :func:`pci_path`). The seed
    profile writes the cover letter's lines, which leave controllers out: only devices on
    the root bus have a path in its argv."""
    return _paths(domain, _initiator_devices(domain, profile, expected_pairs(domain, profile)))


def _placed_hop(controller: PlacedController) -> str:
    devfn = None if controller.slot is None else controller.slot << 3 | controller.function
    bus_nr = controller.bus_nr if controller.is_expander else None
    return _place_hop(controller.driver, devfn, bus_nr)


def expected_places(
    domain: Domain, profile: Profile | None = None
) -> frozenset[tuple[str, DevicePlace]]:
    """(host device, place) for each device with an initiator whose guest address is
    modelled (:func:`gi_conform.pcitopology.device_addresses`), its path written out as
    in :func:`expected_paths` (None where the argv has no path to it)."""
    return _places(domain, _initiator_devices(domain, profile, expected_pairs(domain, profile)))


def expected_distances(domain: Domain) -> tuple[tuple[int, int, int], ...]:
    """The matrix as a meaning: all-default distances mean the same as none (as in
    :func:`gi_conform.argv.read.resolved_distances`), though libvirt writes them out."""
    matrix = distance_matrix(domain)
    if all(
        value == (LOCAL_DISTANCE if src == dst else REMOTE_DISTANCE)
        for (src, dst), value in matrix.items()
    ):
        return ()
    return tuple(sorted((src, dst, value) for (src, dst), value in matrix.items()))
