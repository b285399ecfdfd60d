"""Random valid domain models: NUMA cells, host devices and generic initiators.

Owns the model side of generation: argument checking for the public bounds, the drawing
of cells, distances, devices, names, machines and the optional NUMA features (memory
access, backing, numatune, HMAT), all valid by construction. Renderings, mutations and
hostile inputs start from a model drawn here; nothing here knows about XML text.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TypeVar

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from gi_conform.document.parse import MAX_VCPUS
from gi_conform.document.parse import smallest_free as _smallest_free
from gi_conform.document.parse_devices import OTHER_PCI_RANK
from gi_conform.document.validate import MAX_CELLS
from gi_conform.model import (
    CacheAssociativity,
    CachePolicy,
    Cell,
    CellCache,
    Dialect,
    Domain,
    Hostdev,
    HostdevKind,
    HugePage,
    Initiator,
    Interconnect,
    InterconnectType,
    Iommu,
    MdevSource,
    MemNode,
    MemoryBacking,
    Numatune,
    NumatuneMode,
    PciAddress,
    PciController,
    ScsiSource,
    Source,
    UsbSource,
)
from gi_conform.semantics import LOCAL_DISTANCE, UNREACHABLE, cpu_cells_written, initiator_pairs

_T = TypeVar("_T")


_MAX_HOSTDEVS = 64
"""The largest ``max_hostdevs`` accepted: more says nothing new and only slows drawing."""
_NODES_PER_DEVICE = 16
"""At most this many initiators per device (KubeVirt uses 8): keeps drawing cheap."""
_KINDS = (
    HostdevKind.PCI,
    HostdevKind.PCI,
    HostdevKind.PCI,
    HostdevKind.PCI,
    HostdevKind.MDEV,
    HostdevKind.USB,
    HostdevKind.SCSI,
)
"""PCI mostly; ``sampled_from`` shrinks towards the first entry."""
_MACHINES = (
    ("x86_64", "q35"),
    ("x86_64", None),
    ("x86_64", "pc"),
    ("x86_64", "pc-q35-10.0"),
    ("x86_64", "pc-i440fx-9.2"),
    ("aarch64", "virt"),
    ("aarch64", None),
)
_ALIAS_PREFIXES = ("ua-", "ua-gpu", "gpu", "hostdev", "gi", "nic.", "Dev_", "x")
"""Never ``ram-node``: that prefix is reserved. ``hostdev``/``gi`` collide with generated
names on purpose, so generated ids must step around them."""
_ALIAS_TAIL = "abcxyz0123456789._-"
_NAME_ALPHABET = "abcdefxyz0123456789_-.éü名"


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name}={value!r} must be an integer")
    if not low <= value <= high:
        raise InvalidArgument(f"{name}={value} must be in {low}..{high}")
    return value


def _check_bounds(name: str, low: object, high: object, limit: int) -> tuple[int, int]:
    minimum = _check_int(f"min_{name}", low, 0, limit)
    maximum = _check_int(f"max_{name}", high, 0, limit)
    if minimum > maximum:
        raise InvalidArgument(f"min_{name}={minimum} is above max_{name}={maximum}")
    return minimum, maximum


def _check_dialects(dialects: object) -> tuple[Dialect, ...]:
    if isinstance(dialects, str | bytes) or not isinstance(dialects, Collection):
        raise InvalidArgument(
            f"dialects={dialects!r} must be a collection of dialects, such as "
            "(Dialect.SEED, Dialect.LIBVIRT), not a single value"
        )
    chosen: list[Dialect] = []
    for item in dialects:
        try:
            dialect = Dialect(item)
        except ValueError:
            raise InvalidArgument(
                f"dialects: {item!r} is not a dialect ({', '.join(d.value for d in Dialect)})"
            ) from None
        if dialect not in chosen:
            chosen.append(dialect)
    return tuple(sorted(chosen, key=lambda d: d is Dialect.SEED))


_KIB_SIZES = st.one_of(
    st.just(0),
    st.integers(1, 64).map(lambda gib: gib << 20),
    st.integers(1, 2**26),
)
"""Cell memory in KiB: memoryless first (shrinks there), then whole GiB, then any KiB."""

_pci_addresses = st.builds(
    PciAddress,
    domain=st.one_of(st.just(0), st.integers(0, 0xFFFF)),
    bus=st.integers(0, 0xFF),
    slot=st.integers(0, 0x1F),
    function=st.integers(0, 7),
)
_guest_slots = st.one_of(
    # bus 0: slots 0-1 and 0x1f belong to the machine (HOSTDEV-ADDRESS-RESERVED)
    st.tuples(st.just(0), st.integers(2, 0x1E), st.integers(0, 7)),
    # a bus > 0 is a PCIe port on q35: slot 0 only; a bridge elsewhere: moved to slot 1
    # once the machine is drawn (HOSTDEV-BUS-SLOT)
    st.tuples(st.integers(1, 0xFF), st.just(0), st.integers(0, 7)),
)
_usb_ids = st.tuples(st.integers(1, 0xFFFF), st.integers(1, 0xFFFF))  # libvirt: zero refused
_aliases = st.builds(
    lambda prefix, tail: prefix + tail,
    st.sampled_from(_ALIAS_PREFIXES),
    st.text(alphabet=_ALIAS_TAIL, max_size=8),
)


@dataclass(frozen=True)
class _Device:
    """A hostdev before names are given out: what it is, and whether the user named it."""

    kind: HostdevKind
    source: Source
    guest: PciAddress | None
    managed: bool | None
    named: bool


_DIGIT_BOUNDARIES = ((11, 20), (101, 110))
"""Cell counts whose node ids cross 9/10 and 99/100: where an id's string order leaves its
numeric order (``10`` sorts before ``8``), so multi-digit node ids are drawn often."""


def _cell_bounds(draw: st.DrawFn, low: int, high: int) -> tuple[int, int]:
    """``(low, high)``, narrowed to a digit boundary's counts 3 draws in 8 (9/10) and
    1 in 32 (99/100: large documents, so rarer) when the bounds allow it."""
    choice = draw(st.integers(0, 31))
    boundary = (
        _DIGIT_BOUNDARIES[0] if choice < 12 else _DIGIT_BOUNDARIES[1] if choice == 12 else None
    )
    if boundary is None or high < boundary[0]:
        return low, high
    narrowed = max(low, boundary[0])
    return narrowed, max(narrowed, min(high, boundary[1]))


def _draw_cells(
    draw: st.DrawFn, min_cells: int, max_cells: int, max_vcpus: int
) -> tuple[int, tuple[Cell, ...]]:
    min_cells, max_cells = _cell_bounds(draw, min_cells, max_cells)
    memories = draw(st.lists(_KIB_SIZES, min_size=min_cells, max_size=max_cells))
    count = len(memories)
    vcpus = draw(st.integers(1, max_vcpus))
    if count == 0:
        return vcpus, ()
    if not any(memories):
        anchor = draw(st.integers(0, count - 1))
        memories[anchor] = draw(st.integers(1, 2**26))
    leave_unassigned = draw(st.booleans())
    owners = draw(
        st.lists(
            st.integers(0, count if leave_unassigned else count - 1),
            min_size=vcpus,
            max_size=vcpus,
        )
    )
    cells = [
        Cell(
            id=index,
            cpus=tuple(cpu for cpu, owner in enumerate(owners) if owner == index),
            memory=memory * 1024,
        )
        for index, memory in enumerate(memories)
    ]
    if draw(st.integers(0, 3)) > 0:  # distances on most topologies
        cells = [replace(cell, distances=_draw_distances(draw, cell, count)) for cell in cells]
    if draw(st.booleans()):
        cells = draw(st.permutations(cells))
    return vcpus, tuple(cells)


def _draw_distances(draw: st.DrawFn, cell: Cell, count: int) -> tuple[tuple[int, int], ...]:
    """A few valid ``<sibling>`` entries: 10 to itself, 11..255 to any other cell."""
    siblings = draw(st.lists(st.integers(0, count - 1), unique=True, max_size=min(count, 4)))
    return tuple(
        (sibling, LOCAL_DISTANCE if sibling == cell.id else draw(st.integers(11, UNREACHABLE)))
        for sibling in siblings
    )


def _draw_devices(draw: st.DrawFn, min_hostdevs: int, max_hostdevs: int) -> list[_Device]:
    kinds = draw(st.lists(st.sampled_from(_KINDS), min_size=min_hostdevs, max_size=max_hostdevs))

    def count(*wanted: HostdevKind) -> int:
        return sum(1 for kind in kinds if kind in wanted)

    def unique(elements: st.SearchStrategy[_T], size: int) -> list[_T]:
        return draw(st.lists(elements, min_size=size, max_size=size, unique=True))

    pci = iter(unique(_pci_addresses, count(HostdevKind.PCI)))
    mdev = iter(unique(st.uuids(), count(HostdevKind.MDEV)))
    usb = iter(unique(_usb_ids, count(HostdevKind.USB)))
    scsi = iter(unique(st.integers(0, 255), count(HostdevKind.SCSI)))
    pci_like = count(HostdevKind.PCI, HostdevKind.MDEV)
    with_guest = draw(st.lists(st.booleans(), min_size=pci_like, max_size=pci_like))
    guests = iter(unique(_guest_slots, sum(with_guest)))
    flags = iter(with_guest)
    devices: list[_Device] = []
    for kind in kinds:
        source: Source
        guest: PciAddress | None = None
        managed: bool | None = None
        if kind is HostdevKind.PCI:
            source = next(pci)
            managed = draw(st.sampled_from((True, None, False)))
        elif kind is HostdevKind.MDEV:
            source = MdevSource(str(next(mdev)))
        elif kind is HostdevKind.USB:
            first, second = next(usb)
            if draw(st.booleans()):
                source = UsbSource(bus=str(first), device=str(second))
            else:
                source = UsbSource(vendor=f"0x{first:04x}", product=f"0x{second:04x}")
        else:
            source = ScsiSource("scsi_host0", "0", "0", str(next(scsi)))
        if kind.is_pci and next(flags):
            bus, slot, function = next(guests)
            guest = PciAddress(0, bus, slot, function)
        devices.append(_Device(kind, source, guest, managed, named=draw(st.booleans())))
    return devices


def _draw_initiator_nodes(
    draw: st.DrawFn, devices: list[_Device], cell_ids: list[int], allowed: tuple[Dialect, ...]
) -> tuple[dict[int, list[int]], list[tuple[int, int]]]:
    """The initiators as ``(nodesets, seed_pairs)``: libvirt nodes per device index, and
    ``(device index, node)`` pairs for seed elements, in the order they are written."""
    # Initiators: per PCI-like device a set of nodes, each written in one dialect.
    nodesets: dict[int, list[int]] = {}
    seed_pairs: list[tuple[int, int]] = []
    if allowed and cell_ids:
        for index, device in enumerate(devices):
            if not device.kind.is_pci:
                continue
            nodes = draw(
                st.lists(
                    st.sampled_from(cell_ids),
                    unique=True,
                    max_size=min(len(cell_ids), _NODES_PER_DEVICE),
                )
            )
            for node in nodes:
                dialect = allowed[0] if len(allowed) == 1 else draw(st.sampled_from(allowed))
                if dialect is Dialect.LIBVIRT:
                    nodesets.setdefault(index, []).append(node)
                else:
                    seed_pairs.append((index, node))
        if len(seed_pairs) > 1 and draw(st.booleans()):
            seed_pairs = draw(st.permutations(seed_pairs))
    return nodesets, seed_pairs


def _draw_names(
    draw: st.DrawFn, devices: list[_Device], seed_pairs: list[tuple[int, int]]
) -> tuple[list[str], list[Initiator]]:
    """Every device's alias (by device index) and the seed initiators, named."""
    seed_named = draw(st.lists(st.booleans(), min_size=len(seed_pairs), max_size=len(seed_pairs)))

    # Names: user aliases are unique; the rest are given out as the parser does.
    wanted = sum(device.named for device in devices) + sum(seed_named)
    names = iter(draw(st.lists(_aliases, min_size=wanted, max_size=wanted, unique=True)))
    hostdev_names = [next(names) if device.named else None for device in devices]
    seed_names = [next(names) if named else None for named in seed_named]
    used = {name for name in (*hostdev_names, *seed_names) if name is not None}
    aliases: list[str] = []
    for wanted_name in hostdev_names:
        alias = wanted_name
        if alias is None:
            alias = _smallest_free("hostdev", used)
            used.add(alias)
        aliases.append(alias)
    initiators: list[Initiator] = []
    for (index, node), wanted_name in zip(seed_pairs, seed_names, strict=True):
        name = wanted_name
        if name is None:
            name = _smallest_free("gi", used)
            used.add(name)
        initiators.append(
            Initiator(name, aliases[index], node, Dialect.SEED, alias_given=wanted_name is not None)
        )
    return aliases, initiators


_IOMMUFD_CHOICES = st.sampled_from((None, None, None, True, False))
"""An iommufd switch, absent most of the time: ``<driver iommufd>`` or ``<iommufd enabled>``."""


@st.composite
def _topologies(
    draw: st.DrawFn,
    *,
    min_cells: object,
    max_cells: object,
    min_hostdevs: object,
    max_hostdevs: object,
    max_vcpus: object,
    dialects: object,
    extras: bool = True,
) -> Domain:
    cells_low, cells_high = _check_bounds("cells", min_cells, max_cells, MAX_CELLS)
    hostdevs_low, hostdevs_high = _check_bounds(
        "hostdevs", min_hostdevs, max_hostdevs, _MAX_HOSTDEVS
    )
    vcpus_high = _check_int("max_vcpus", max_vcpus, 1, MAX_VCPUS)
    allowed = _check_dialects(dialects)

    vcpus, cells = _draw_cells(draw, cells_low, cells_high, vcpus_high)
    devices = _draw_devices(draw, hostdevs_low, hostdevs_high)
    cell_ids = sorted(cell.id for cell in cells if cell.id is not None)

    nodesets, seed_pairs = _draw_initiator_nodes(draw, devices, cell_ids, allowed)
    aliases, initiators = _draw_names(draw, devices, seed_pairs)

    arch, machine = draw(st.sampled_from(_MACHINES))
    if arch == "aarch64" and any(d.kind is HostdevKind.USB for d in devices):
        # libvirt 12.8 gives an aarch64 guest no USB controller, so it refuses any USB
        # device there ("USB is disabled for this domain"): not a GI rule, not drawn
        arch, machine = draw(st.sampled_from([m for m in _MACHINES if m[0] != "aarch64"]))
    if Domain(name="", arch=arch, machine=machine).pci_root_bus != "pcie.0":
        devices = [
            replace(d, guest=replace(d.guest, slot=1))
            if d.guest is not None and d.guest.bus > 0
            else d
            for d in devices
        ]
    shared_slots = {
        (d.guest.domain, d.guest.bus, d.guest.slot)
        for d in devices
        if d.guest is not None and d.guest.function > 0
    }
    hostdevs = tuple(
        Hostdev(
            kind=device.kind,
            alias=aliases[index],
            alias_given=device.named,
            source=device.source,
            guest_address=device.guest,
            nodeset=tuple(sorted(nodesets[index])) if index in nodesets else None,
            managed=device.managed,
            # QEMU refuses other functions beside a single-function function 0.
            multifunction=device.guest is not None
            and device.guest.function == 0
            and (device.guest.domain, device.guest.bus, device.guest.slot) in shared_slots,
            # KubeVirt's Grace GPUs: <driver iommufd='yes'/> (libvirt ignores it off PCI)
            iommufd=draw(_IOMMUFD_CHOICES) if device.kind is HostdevKind.PCI else None,
        )
        for index, device in enumerate(devices)
    )
    iommufd = draw(_IOMMUFD_CHOICES)
    memory = sum(cell.memory or 0 for cell in cells)
    if not cells:
        memory = draw(st.integers(1, 2**24)) * 1024
    domain = Domain(
        name=draw(st.text(alphabet=_NAME_ALPHABET, min_size=1, max_size=16)),
        domain_type=draw(st.sampled_from(("kvm", "qemu"))),
        uuid=draw(st.one_of(st.none(), st.uuids().map(str))),
        arch=arch,
        machine=machine,
        vcpus=vcpus,
        memory=memory,
        acpi=draw(st.sampled_from((True, None, False))),
        numa=bool(cells),
        cells=cells,
        hostdevs=hostdevs,
        initiators=tuple(initiators),
        iommufd=iommufd,
        # libvirt refuses an fdgroup for a disabled iommufd (HOSTDEV-IOMMUFD-FDGROUP)
        iommufd_fdgroup=draw(st.sampled_from((None, "iommu"))) if iommufd else None,
    )
    if extras:
        domain = _draw_pci_paths(draw, domain, allowed, cells_high)
        domain = _draw_other_pci(draw, domain)
    domain = _with_acpi(draw, domain)
    return _draw_numa_features(draw, domain) if cells and extras else domain


def with_libvirt_acpi(domain: Domain) -> Domain:
    """The domain with ``<features><acpi/>``, and on aarch64 the UEFI libvirt requires for
    it: what a document asking for initiators needs (GI-ACPI-DISABLED, DOMAIN-ACPI-UEFI)."""
    return replace(domain, acpi=True, uefi=domain.arch == "aarch64" or domain.uefi)


def _with_acpi(draw: st.DrawFn, domain: Domain) -> Domain:
    """ACPI on where initiators are asked for; elsewhere any of on, ``<features>`` without
    ``<acpi/>``, or no ``<features>`` (libvirt writes ``acpi=off`` for both)."""
    if initiator_pairs(domain) or domain.acpi:
        return with_libvirt_acpi(domain)
    return replace(domain, uefi=domain.arch == "aarch64" and draw(st.booleans()))


def _other_rank(token: str) -> int:
    return OTHER_PCI_RANK.get(token.partition(":")[0], 0)


_OTHER_PCI = st.tuples(
    st.sampled_from(("", "usb:none", "usb:qemu-xhci", "virtio-serial")),
    st.sampled_from(("", "memballoon:none", "memballoon:virtio")),
    st.sets(st.sampled_from(("disk:virtio", "rng", "watchdog:i6300esb", "input:virtio"))),
    st.sets(st.sampled_from(("sound:ich9", "vsock:virtio", "panic:pvpanic"))),
).map(
    lambda drawn: tuple(
        sorted(filter(None, (drawn[0], drawn[1], *drawn[2], *drawn[3])), key=_other_rank)
    )
)
"""Other devices libvirt places itself (issue 23): a USB controller, a balloon, a virtio
disk, an RNG, an i6300esb watchdog, a virtio input, and what virt-install adds (an ICH9
sound card, a vsock, a pvpanic), each at most once, in the parser's order
(:attr:`Domain.other_pci`). No NIC: libvirt's argv needs ``/dev/net/tun`` for most."""


_OTHER_PCI_MAX_BUS = 128
"""Beyond it, the root ports libvirt adds for the buses named fill most of bus 0."""


def _draw_other_pci(draw: st.DrawFn, domain: Domain) -> Domain:
    """Other devices libvirt places, where libvirt accepts them: a machine type that has
    PCI (an aarch64 guest without one gets none), bus 0 not crowded by explicit addresses
    (libvirt refuses when its root ports find no slot), no USB controller ``none`` beside
    USB hostdevs (libvirt refuses those)."""
    explicit = [h.guest_address for h in domain.hostdevs if h.guest_address is not None]
    explicit += [c.address for c in domain.pci_controllers if c.address is not None]
    if domain.machine is None or any(a.bus == 0 or a.bus > _OTHER_PCI_MAX_BUS for a in explicit):
        return domain
    drawn = draw(_OTHER_PCI)
    if any(h.kind is HostdevKind.USB for h in domain.hostdevs):
        drawn = tuple(t for t in drawn if t != "usb:none")
    return replace(domain, other_pci=drawn)


_EXPANDER_MAX_INDEX = 16
"""Expander buses only where few buses are in use: bus 0 must keep a slot for each."""
_GRACE_CELLS = 8
"""KubeVirt gives each Grace GPU eight GI cells of its own."""
_SMMUV3_OPTIONS = (("accel", "on"), ("ats", "on"), ("ril", "off"), ("oas", "48"))
"""The smmuv3 driver options KubeVirt writes (libvirt drops its ``ssidSize``)."""


def _draw_pci_paths(
    draw: st.DrawFn, domain: Domain, allowed: tuple[Dialect, ...], max_cells: int
) -> Domain:
    """Some PCI devices without a guest address moved behind expander buses: on a PCIe
    machine a ``pcie-expander-bus`` with a ``pcie-root-port`` (KubeVirt's layout, an
    smmuv3 per bus on aarch64), on i440fx a ``pci-expander-bus``; each bus's node a
    cell or none, its busNr given or libvirt's. With the libvirt dialect a device may get
    eight new GI cells of its own as its nodeset, as KubeVirt gives each Grace GPU."""
    pcie = domain.pci_root_bus == "pcie.0"
    movable = [
        i
        for i, h in enumerate(domain.hostdevs)
        if h.kind is HostdevKind.PCI and h.guest_address is None
    ]
    chosen = draw(st.lists(st.sampled_from(movable), unique=True, max_size=2)) if movable else []
    used = {h.guest_address.bus for h in domain.hostdevs if h.guest_address is not None}
    index = max(used, default=0) + 1
    if not chosen or index > _EXPANDER_MAX_INDEX:
        return domain
    hostdevs, cells = list(domain.hostdevs), list(domain.cells)
    controllers: list[PciController] = []
    iommus: list[Iommu] = []
    bus_nrs = iter(draw(st.lists(st.integers(16, 254), unique=True, min_size=2, max_size=2)))
    grace = (
        Dialect.LIBVIRT in allowed
        and bool(cells)
        and not any(cell.distances for cell in cells)
        and not domain.initiators
    )
    for position in chosen:
        cell_ids = [cell.id for cell in cells if cell.id is not None]
        node = draw(st.one_of(st.none(), st.sampled_from(cell_ids))) if cell_ids else None
        bus_nr = next(bus_nrs) if draw(st.booleans()) else None
        model = "pcie-expander-bus" if pcie else "pci-expander-bus"
        controllers.append(PciController(index, model, bus_nr=bus_nr, node=node))
        device_bus, slot = index, draw(st.integers(1, 0x1F))
        if pcie:
            controllers.append(
                PciController(index + 1, "pcie-root-port", address=PciAddress(0, index, 0, 0))
            )
            device_bus, slot = index + 1, 0
        if domain.arch == "aarch64" and draw(st.booleans()):
            options = draw(st.sampled_from(((), _SMMUV3_OPTIONS)))
            iommus.append(Iommu("smmuv3", pci_bus=index, options=options))
        hostdev = replace(hostdevs[position], guest_address=PciAddress(0, device_bus, slot, 0))
        if grace and len(cells) + _GRACE_CELLS <= max_cells and draw(st.booleans()):
            first = max(cell_ids) + 1
            cells += [Cell(first + k, (), 0) for k in range(_GRACE_CELLS)]
            hostdev = replace(hostdev, nodeset=tuple(range(first, first + _GRACE_CELLS)))
        hostdevs[position] = hostdev
        index = device_bus + 1
    return replace(
        domain,
        hostdevs=tuple(hostdevs),
        cells=tuple(cells),
        pci_controllers=tuple(controllers),
        iommus=tuple(iommus),
    )


def _draw_pages(draw: st.DrawFn, with_memory: list[int]) -> tuple[HugePage, ...]:
    """``<hugepages>`` pages: none (the host's default), one for every cell, or some
    cells' own sizes (a cell no page names keeps normal pages)."""
    sizes = st.sampled_from((2 * 2**20, 2**30))
    shape = draw(st.sampled_from(("default", "all", "nodesets")))
    if shape == "default":
        return ()
    if shape == "all":
        return (HugePage(draw(sizes)),)
    named = draw(st.lists(st.sampled_from(with_memory), min_size=1, unique=True))
    split = draw(st.integers(1, len(named)))
    groups = [tuple(sorted(named[:split])), tuple(sorted(named[split:]))]
    return tuple(HugePage(draw(sizes), group) for group in groups if group)


_HOST_NODES = (0, 1)
"""Host NUMA nodes numatune binds to: the two the libvirt chroot pretends to have."""


def _draw_numa_features(draw: st.DrawFn, domain: Domain) -> Domain:
    """Memory access, backing, numatune and HMAT on some topologies, all of them valid
    for the reference and for QEMU (values QEMU can encode, caches it will build)."""
    with_memory = [c.id for c in domain.cells if c.id is not None and c.memory]
    cells = tuple(
        replace(
            cell,
            mem_access=draw(st.sampled_from((None, None, "shared", "private"))),
            discard=draw(st.sampled_from((None, None, True, False))),
        )
        if cell.memory and draw(st.integers(0, 3)) == 0
        else cell
        for cell in domain.cells
    )
    backing = None
    if draw(st.integers(0, 4)) == 0:
        backing = MemoryBacking(
            source=draw(st.sampled_from((None, "anonymous", "file", "memfd"))),
            access=draw(st.sampled_from((None, "shared", "private"))),
            discard=draw(st.booleans()),
            allocation_immediate=draw(st.booleans()),
            allocation_threads=draw(st.sampled_from((None, None, 2, 8))),
        )
        # libvirt refuses hugepages with an anonymous source (MEMORY-HUGEPAGES-ANONYMOUS)
        if bool(with_memory) and backing.source != "anonymous" and draw(st.booleans()):
            backing = replace(backing, hugepages=True, pages=_draw_pages(draw, with_memory))
    tune = None
    if with_memory and draw(st.integers(0, 4)) == 0:
        host_nodes = st.lists(st.sampled_from(_HOST_NODES), min_size=1, unique=True).map(
            lambda nodes: tuple(sorted(nodes))
        )
        modes = st.sampled_from(tuple(NumatuneMode)[:3])
        bound = draw(st.lists(st.sampled_from(with_memory), unique=True, max_size=3))
        has_memory = draw(st.booleans())
        tune = Numatune(
            mode=draw(modes) if has_memory else None,
            nodeset=draw(host_nodes) if has_memory else (),
            has_memory=has_memory,
            memnodes=tuple(MemNode(cell, draw(modes), draw(host_nodes)) for cell in bound),
        )
    domain = replace(domain, cells=cells, memory_backing=backing, numatune=tune)
    if draw(st.integers(0, 3)) == 0:
        domain = _draw_hmat(draw, domain)
    return domain


def _draw_hmat(draw: st.DrawFn, domain: Domain) -> Domain:
    pci = {h.alias for h in domain.hostdevs if h.kind.is_pci}
    gi_nodes = {node for alias, node in initiator_pairs(domain) if alias in pci}
    initiators = sorted(cpu_cells_written(domain) | gi_nodes)
    if not initiators:
        return domain
    targets = sorted(c.id for c in domain.cells if c.id is not None)
    keys = st.tuples(
        st.sampled_from(initiators),
        st.sampled_from(targets),
        st.sampled_from(("latency", "bandwidth")),
        st.sampled_from(InterconnectType),
    )
    chosen = draw(st.lists(keys, unique=True, min_size=1, max_size=6))
    # QEMU: values of one kind within 65534x of each other, bandwidth in whole MiB/s.
    links = [
        Interconnect(
            kind,
            initiator,
            target,
            0,
            kind_type,
            draw(st.integers(1, 1000)) * (1024 if kind == "bandwidth" else 1),
        )
        for initiator, target, kind, kind_type in chosen
    ]
    described = {
        link.target
        for link in links
        if link.kind == "latency"
        and any(o.kind == "bandwidth" and o.target == link.target for o in links)
    }
    cells = []
    for cell in domain.cells:
        levels = draw(st.integers(0, 3)) if cell.id in described else 0
        size = 1024 * draw(st.integers(1, 64))
        caches = []
        for level in range(1, levels + 1):
            size *= draw(st.integers(2, 8))  # QEMU: each level larger than the one before
            caches.append(
                CellCache(
                    level,
                    draw(st.sampled_from(CacheAssociativity)),
                    draw(st.sampled_from(CachePolicy)),
                    size,
                    draw(st.sampled_from((8, 16, 32, 64, 128))),
                )
            )
        cells.append(replace(cell, caches=tuple(caches)))
    cached = {c.id: {cache.level for cache in c.caches} for c in cells if c.caches}
    for link in list(links):
        present = sorted(level for level in cached.get(link.target, ()) if level is not None)
        add: bool = draw(st.booleans())
        if present and add:
            extra = replace(link, cache=draw(st.sampled_from(present)))
            if all(
                (o.kind, o.initiator, o.target, o.cache, o.type)
                != (extra.kind, extra.initiator, extra.target, extra.cache, extra.type)
                for o in links
            ):
                links.append(extra)
    return replace(domain, cells=tuple(cells), interconnects=tuple(links))


def topologies(
    *,
    min_cells: int = 1,
    max_cells: int = MAX_CELLS,
    min_hostdevs: int = 0,
    max_hostdevs: int = 16,
    max_vcpus: int = 64,
    dialects: Collection[Dialect | str] = (Dialect.SEED, Dialect.LIBVIRT),
) -> st.SearchStrategy[Domain]:
    """Valid domain models: the validator accepts ``format_xml`` of every draw.

    Cells (``min_cells``..``max_cells``, at most 128) are memoryless or not, with vCPUs
    (1..``max_vcpus``) dealt among them, some left to no cell; at least one cell has memory.
    Hostdevs (``min_hostdevs``..``max_hostdevs``) are PCI mostly, mdev, USB and SCSI too,
    with or without a guest PCI address and a user alias. Initiators target PCI and mdev
    devices, each (device, node) pair once, written in one of ``dialects`` (an empty
    collection gives none). ``min_cells=0`` gives documents without ``<numa>``.
    """
    return _topologies(
        min_cells=min_cells,
        max_cells=max_cells,
        min_hostdevs=min_hostdevs,
        max_hostdevs=max_hostdevs,
        max_vcpus=max_vcpus,
        dialects=dialects,
    )
