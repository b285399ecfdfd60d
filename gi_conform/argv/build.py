"""The QEMU argv formatter: the GI-relevant subset of the command line, in two profiles.

* ``seed``: the seed cover letter's lines. Memory backends and ``-numa`` lines in cell
  order, one JSON ``-device`` per PCI host device, then every initiator as a key=value
  ``-object acpi-generic-initiator``.
* ``libvirt``: what libvirt 11.8 emits. The same NUMA lines, the PCI path of every
  device with an initiator (:mod:`gi_conform.pcitopology`), then each device followed
  right away by its initiators as JSON objects, ids ``gi0, gi1, ...`` counted across the
  domain in emission order. Devices are named as libvirt names them: a ``ua-`` alias is
  kept, any other alias is ignored and the device becomes ``hostdev<N>``.

Only what concerns the feature is emitted (no ``-m``, ``-smp``, machine or disks): this
is the part other implementations are compared on.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from gi_conform.argv.options import json_object, keyval_escape, shell_quote
from gi_conform.bitmap import ranges
from gi_conform.model import (
    CacheAssociativity,
    CachePolicy,
    Cell,
    Dialect,
    Domain,
    Hostdev,
    HostdevKind,
    Initiator,
    Interconnect,
    MdevSource,
    MemoryBacking,
    PciAddress,
)
from gi_conform.pcitopology import (
    addr_text,
    bus_id,
    controller_props,
    device_addresses,
    pci_path,
    pci_topology,
    smmuv3_props,
)
from gi_conform.semantics import (
    cpu_cells_seen,
    cpu_cells_written,
    distance_matrix,
    hugepage_size,
    legacy_numa_mem,
    vcpus_added_to_cell0,
)

__all__ = [
    "HUGETLBFS_PREFIX",
    "IOMMUFD_ID",
    "IOMMUFD_OPTION",
    "MEMORY_ALIGNMENT",
    "MEMORY_BACKING_DIR",
    "USER_ALIAS_CHARACTERS",
    "USER_ALIAS_PREFIX",
    "Option",
    "Profile",
    "aligned_memory",
    "build_argv",
    "default_profile",
    "device_ids",
    "emitted_initiators",
    "flatten",
    "hugetlbfs_mount",
    "is_user_alias",
    "render_args",
]

MEMORY_ALIGNMENT = 1024 * 1024
"""libvirt rounds each NUMA cell up to 1 MiB on x86 (qemuDomainAlignMemorySizes); QEMU
itself refuses cells whose sum is not a multiple of its 8 KiB RAM granularity."""


class Profile(enum.StrEnum):
    SEED = "seed"
    LIBVIRT = "libvirt"


@dataclass(frozen=True)
class Option:
    """One command-line option and its value: ``-numa node,nodeid=1``."""

    flag: str
    value: str

    def __init__(self, flag: str, value: str) -> None:
        """Both fields set at once: the frozen dataclass's own ``__init__`` sets each
        through ``object.__setattr__``, a cost every one of an argv's options paid."""
        fields = self.__dict__
        fields["flag"] = flag
        fields["value"] = value

    def __str__(self) -> str:
        return f"{self.flag} {shell_quote(self.value)}"


def default_profile(domain: Domain) -> Profile:
    """The profile of the input's dialect: seed when it has any seed element."""
    return Profile.SEED if domain.initiators else Profile.LIBVIRT


def aligned_memory(size: int) -> int:
    """A cell's memory as the argv carries it: rounded up to whole MiB."""
    return -(-size // MEMORY_ALIGNMENT) * MEMORY_ALIGNMENT


_HIERARCHY = {0: "memory", 1: "first-level", 2: "second-level", 3: "third-level"}
HUGETLBFS_PREFIX = "/dev/hugepages"
"""The hugetlbfs mount for a page size is ``HUGETLBFS_PREFIX`` + the size (``2M``, ``1G``):
the host of libvirt's tests (qemuxmlconftest), a parameter of the host, not the document."""
MEMORY_BACKING_DIR = "/var/lib/libvirt/qemu/ram"
"""libvirt's default ``memory_backing_dir``; file backends live in ``-1-NAME`` below it
(``-1``: the id of a domain that is not running, as ``domxml-to-native`` reports)."""


def hugetlbfs_mount(page_size: int) -> str:
    """Where the host mounts hugetlbfs for a page size: host configuration (qemu.conf
    ``hugetlbfs_mount``, else the mounts libvirt finds). The reference assumes the host of
    libvirt's own tests: ``/dev/hugepages2M``, ``/dev/hugepages1G``, ``/dev/hugepages<size>``."""
    for shift, suffix in ((30, "G"), (20, "M"), (10, "K")):
        if page_size % (1 << shift) == 0:
            return f"{HUGETLBFS_PREFIX}{page_size >> shift}{suffix}"
    return f"{HUGETLBFS_PREFIX}{page_size}"


def _backend(domain: Domain, cell: Cell) -> dict[str, object]:
    """The memory backend of a cell with memory, in libvirt 12.8's shape and key order:
    ``qom-type, id, [hugetlb, hugetlbsize | mem-path, discard-data], [share], [prealloc,
    prealloc-threads], size, [host-nodes, policy], [prealloc-context]``."""
    assert cell.id is not None
    assert cell.memory is not None
    backing = domain.memory_backing or MemoryBacking()
    access = cell.mem_access or backing.access
    page = hugepage_size(domain, cell.id)
    if backing.source == "memfd":
        qom_type = "memory-backend-memfd"
    elif backing.source == "file" or access is not None or page is not None:
        qom_type = "memory-backend-file"
    else:
        qom_type = "memory-backend-ram"
    props: dict[str, object] = {"qom-type": qom_type, "id": f"ram-node{cell.id}"}
    if qom_type == "memory-backend-memfd" and page is not None:
        props["hugetlb"] = True
        props["hugetlbsize"] = page
    if qom_type == "memory-backend-file":
        props.update(_file_props(domain, cell, page))
    if access is not None:
        props["share"] = access == "shared"
    prealloc = page is not None or backing.allocation_immediate
    if prealloc:
        props["prealloc"] = True
        if backing.allocation_threads is not None:
            props["prealloc-threads"] = backing.allocation_threads
    props["size"] = aligned_memory(cell.memory)
    binding = _binding(domain, cell.id)
    if binding is not None:
        props["host-nodes"] = list(binding[0])
        props["policy"] = binding[1]
        if prealloc:  # libvirt preallocates on threads bound to those host nodes
            props["prealloc-context"] = f"tc-ram-node{cell.id}"
    return props


def _file_props(domain: Domain, cell: Cell, page: int | None) -> dict[str, object]:
    """A file backend's path (hugetlbfs for hugepages, else libvirt's memory_backing_dir)
    and ``discard-data`` (a cell's ``discard`` overrides ``<memoryBacking><discard/>``)."""
    backing = domain.memory_backing or MemoryBacking()
    name = domain.name[:20]
    props: dict[str, object] = {
        "mem-path": f"{hugetlbfs_mount(page)}/libvirt/qemu/-1-{name}"
        if page is not None
        else f"{MEMORY_BACKING_DIR}/-1-{name}/ram-node{cell.id}"
    }
    discard = cell.discard if cell.discard is not None else (backing.discard or None)
    if discard is not None:
        props["discard-data"] = discard
    return props


def _backend_options(domain: Domain, cell: Cell) -> list[Option]:
    """A cell's backend, preceded by its thread context when it has one."""
    props = _backend(domain, cell)
    options: list[Option] = []
    if "prealloc-context" in props:
        context = {
            "qom-type": "thread-context",
            "id": props["prealloc-context"],
            "node-affinity": props["host-nodes"],
        }
        options.append(Option("-object", json_object(context)))
    options.append(Option("-object", json_object(props)))
    return options


def _binding(domain: Domain, cell_id: int) -> tuple[tuple[int, ...], str] | None:
    """The host nodes and policy ``<numatune>`` gives a cell's memory, if any."""
    tune = domain.numatune
    if tune is None:
        return None
    memnode = next((m for m in tune.memnodes if m.cell == cell_id), None)
    mode, nodeset = (memnode.mode, memnode.nodeset) if memnode else (tune.mode, tune.nodeset)
    if memnode is None and (not tune.has_memory or tune.placement_auto):
        return None  # placement auto: numad's host nodes are host state, not shown
    policy = mode.qemu_policy if mode is not None else None
    if policy is None or not nodeset:
        return None
    return nodeset, policy


def _node_initiator(
    cell: Cell, links: tuple[Interconnect, ...], written: set[int], seen: set[int]
) -> int | None:
    """The ``initiator=`` of a ``-numa node`` line when HMAT is used.

    As libvirt 12.8: a cell with CPUs (or cell 0 taking the vCPUs no cell names) is its
    own initiator; a CPU-less one takes the initiator of the first interconnect targeting
    it, else the first cell with CPUs. One difference, QEMU's rule: that initiator must
    have CPUs (``-numa node,initiator`` refuses a GI-only node), so interconnects from
    GI-only cells are passed over. ``written``/``seen``: :func:`cpu_cells_written` and
    :func:`cpu_cells_seen` (a node 0 whose vCPUs only QEMU places must name itself: QEMU
    refuses another initiator for it, "should be itself").
    """
    if cell.id in seen:
        return cell.id
    for link in links:
        if link.target == cell.id and link.initiator in written:
            return link.initiator
    return min(written) if written else None


def _size_text(size: int) -> str:
    return f"{size // 1024}K" if size % 1024 == 0 else str(size)


def _hmat_options(domain: Domain) -> list[Option]:
    options: list[Option] = []
    for link in domain.interconnects:
        if None in (link.initiator, link.target, link.type, link.value, link.cache):
            continue
        unit = "K" if link.kind == "bandwidth" else ""
        options.append(
            Option(
                "-numa",
                f"hmat-lb,initiator={link.initiator},target={link.target},"
                f"hierarchy={_HIERARCHY[link.cache or 0]},data-type={link.type}-{link.kind},"
                f"{link.kind}={link.value}{unit}",
            )
        )
    for cell in _cells_by_id(domain):
        for cache in sorted(cell.caches, key=lambda c: c.level or 0):
            if cell.id is None or None in (
                cache.level,
                cache.size,
                cache.line_size,
                cache.associativity,
                cache.policy,
            ):
                continue
            assert cache.size is not None
            assert cache.line_size is not None
            options.append(
                Option(
                    "-numa",
                    f"hmat-cache,node-id={cell.id},size={_size_text(cache.size)},"
                    f"level={cache.level},"
                    f"associativity={(cache.associativity or CacheAssociativity.NONE).qemu},"
                    f"policy={(cache.policy or CachePolicy.NONE).qemu},line={cache.line_size}",
                )
            )
    return options


def _numa_options(domain: Domain) -> list[Option]:
    options: list[Option] = []
    uses_hmat = domain.uses_hmat
    if uses_hmat:
        options.append(Option("-machine", "hmat=on"))
    extra = vcpus_added_to_cell0(domain)
    legacy = legacy_numa_mem(domain)
    # Which cells are initiators matters only for HMAT: derived only then.
    written: set[int] = cpu_cells_written(domain) if uses_hmat else set()
    seen: set[int] = cpu_cells_seen(domain) if uses_hmat else set()
    for cell in _cells_by_id(domain):
        if cell.id is None or cell.cpus is None or cell.memory is None:
            raise ValueError(f"cell on line {cell.line} is invalid; validate first")
        if not (cell.cpus or cell.memory or uses_hmat or (extra and cell.id == 0)):
            # a GI cell: no vCPUs, no memory, no HMAT initiator
            plain = _PLAIN_NODES[cell.id] if 0 <= cell.id < len(_PLAIN_NODES) else None
            options.append(plain or Option("-numa", f"node,nodeid={cell.id}"))
            continue
        parts = [f"node,nodeid={cell.id}"]
        cpus = [*cell.cpus, *extra] if cell.id == 0 else cell.cpus
        if cpus:  # most GI cells have none
            parts.extend(f"cpus={a}" if a == b else f"cpus={a}-{b}" for a, b in ranges(cpus))
        if uses_hmat:
            initiator = _node_initiator(cell, domain.interconnects, written, seen)
            if initiator is not None:
                parts.append(f"initiator={initiator}")
        if cell.memory > 0 and legacy:
            parts.append(f"mem={aligned_memory(cell.memory) // MEMORY_ALIGNMENT}")
        elif cell.memory > 0:
            options.extend(_backend_options(domain, cell))
            parts.append(f"memdev=ram-node{cell.id}")
        options.append(Option("-numa", ",".join(parts)))
    options.extend(
        Option("-numa", f"dist,src={src},dst={dst},val={value}")
        for (src, dst), value in sorted(distance_matrix(domain).items())
    )
    if uses_hmat:  # without interconnects or caches there is no HMAT line
        options.extend(_hmat_options(domain))
    return options


_PLAIN_NODES = tuple(Option("-numa", f"node,nodeid={node}") for node in range(128))
"""The line of a node with nothing but its id (a GI-only node), for every node a generic
initiator may name (QEMU's limit): options are values, one each serves every argv."""


def _cells_by_id(domain: Domain) -> tuple[Cell, ...]:
    """The cells in id order, as the ``-numa`` lines come (an unreadable id first)."""
    return tuple(sorted(domain.cells, key=lambda c: c.id if c.id is not None else -1))


USER_ALIAS_PREFIX = "ua-"
"""libvirt keeps only user aliases with this prefix; any other ``<alias name>`` is dropped
when the XML is parsed (virDomainDeviceInfoParseXML)."""
USER_ALIAS_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
)
"""The only characters libvirt 12.8 keeps a user alias with (``.``, ``:``, ``+``, ``/``,
non-ASCII: dropped silently, measured on every hostdev kind; ``ua-`` alone is kept)."""


def is_user_alias(alias: str) -> bool:
    """Whether libvirt keeps ``alias`` as the device's id: ``ua-`` (case-sensitive)
    followed by ``[A-Za-z0-9_-]`` only; any other alias is ignored as if not written."""
    return alias.startswith(USER_ALIAS_PREFIX) and set(alias) <= USER_ALIAS_CHARACTERS


def device_ids(domain: Domain, profile: Profile) -> dict[str, str]:
    """Each hostdev's alias (as the model knows it) -> the id the profile's argv gives it.

    The seed profile keeps every alias: the seed's ``<pci-dev>`` refers to them. The
    libvirt profile names devices as libvirt 12.8 does (qemuAssignDeviceHostdevAlias):
    a user alias (:func:`is_user_alias`: ``ua-`` and ``[A-Za-z0-9_-]``) is kept, every
    other hostdev (any kind; ``ua-gpu.x`` too) takes ``hostdev<N>`` from one counter in
    document order, so every later ``hostdev<N>`` shifts. A name some seed element
    already uses is skipped, which libvirt never meets (it has no seed elements).
    """
    if profile is Profile.SEED:
        return {hostdev.alias: hostdev.alias for hostdev in domain.hostdevs}
    kept = {h.alias for h in domain.hostdevs if h.alias_given and is_user_alias(h.alias)}
    taken = kept | {initiator.id for initiator in domain.initiators}
    ids: dict[str, str] = {}
    counter = 0
    for hostdev in domain.hostdevs:
        if hostdev.alias in kept:
            ids[hostdev.alias] = hostdev.alias
            continue
        while f"hostdev{counter}" in taken:
            counter += 1
        ids[hostdev.alias] = f"hostdev{counter}"
        counter += 1
    return ids


def _device_option(
    domain: Domain, hostdev: Hostdev, device_id: str, address: PciAddress | None = None
) -> Option:
    # ramfb='on': libvirt 12.8 writes QEMU's non-hotpluggable vfio-pci, which alone has
    # a ramfb (hostdev-mdev-display-ramfb, hostdev-pci-display-ramfb)
    props: dict[str, object] = {"driver": "vfio-pci-nohotplug" if hostdev.ramfb else "vfio-pci"}
    if hostdev.kind is HostdevKind.MDEV:
        assert isinstance(hostdev.source, MdevSource)
        props["id"] = device_id
        props["sysfsdev"] = f"/sys/bus/mdev/devices/{hostdev.source.uuid}"
        # libvirt 12.8 always writes it for a vfio-pci mdev (hostdev-mdev-display)
        props["display"] = "on" if hostdev.display else "off"
    else:
        if hostdev.source is None:
            raise ValueError(f"hostdev '{hostdev.alias}' has no valid source; validate first")
        iommufd = domain.uses_iommufd(hostdev)
        if not iommufd:
            props["host"] = str(hostdev.source)
        # with iommufd (domxml-to-native, libvirt 12.8) no host: the device comes by fd on
        # a real start, which adds "fd" here and on the iommufd object
        props["id"] = device_id
        if hostdev.display is not None:
            props["display"] = "on" if hostdev.display else "off"  # as given (measured)
    if hostdev.ramfb:
        props["ramfb"] = True  # ramfb='off' writes nothing (12.8; upstream later: false)
    if hostdev.kind is HostdevKind.PCI and domain.uses_iommufd(hostdev):
        props["iommufd"] = IOMMUFD_ID
    if address is None:
        address = hostdev.guest_address
    if address is not None:
        props["bus"] = bus_id(domain, address.bus)
        if hostdev.multifunction:
            props["multifunction"] = True  # libvirt's place for it: before addr
        props["addr"] = addr_text(address.slot, address.function)
    return Option("-device", json_object(props))


def emitted_initiators(domain: Domain, profile: Profile) -> list[Initiator]:
    """Every initiator in emission order, with the id the profile gives it.

    Seed elements keep their alias (or the ``gi<N>`` the parser gave them). Nodeset
    initiators take ``gi<N>`` from one counter in emission order, skipping every name
    the argv already uses, so generated ids never collide. ``device`` is the id the
    profile gives the device (see :func:`device_ids`).
    """
    pci = [hostdev for hostdev in domain.hostdevs if hostdev.in_guest]
    return _emitted(domain, profile, device_ids(domain, profile), pci)


def _emitted(
    domain: Domain, profile: Profile, names: dict[str, str], pci: list[Hostdev]
) -> list[Initiator]:
    """:func:`emitted_initiators`; ``pci``: the hostdevs QEMU gets, in document order."""
    used: set[str] = set()
    counter = 0

    def next_id() -> str:
        nonlocal counter
        if not used:  # the names taken, gathered only when a nodeset needs an id
            used.update(names.values(), (i.id for i in domain.initiators))
        while f"gi{counter}" in used:
            counter += 1
        counter += 1
        return f"gi{counter - 1}"

    def from_nodeset(hostdev: Hostdev, node: int) -> Initiator:
        return Initiator(next_id(), names[hostdev.alias], node, Dialect.LIBVIRT, alias_given=False)

    kept_off = {h.alias for h in domain.hostdevs if h.kind.is_pci and not h.in_guest}
    if profile is Profile.SEED:
        return [
            *(i for i in domain.initiators if i.device not in kept_off),
            *(from_nodeset(h, node) for h in pci for node in h.nodeset or ()),
        ]
    emitted: list[Initiator] = []
    by_device: dict[str | None, dict[int | None, Initiator]] = {}
    for initiator in domain.initiators:  # the last one of a (device, node) wins
        by_device.setdefault(initiator.device, {})[initiator.node] = initiator
    for hostdev in pci:
        seeds = by_device.get(hostdev.alias, {})
        for node in sorted(set(hostdev.nodeset or ()) | {n for n in seeds if n is not None}):
            if node in seeds:
                emitted.append(dataclasses.replace(seeds[node], device=names[hostdev.alias]))
            else:
                emitted.append(from_nodeset(hostdev, node))
    return emitted


def _initiator_option(initiator: Initiator, profile: Profile) -> Option:
    if initiator.device is None or initiator.node is None:
        raise ValueError(f"initiator '{initiator.id}' is incomplete; validate first")
    if profile is Profile.SEED:
        return Option(
            "-object",
            f"acpi-generic-initiator,id={keyval_escape(initiator.id)},"
            f"pci-dev={keyval_escape(initiator.device)},node={initiator.node}",
        )
    return Option(
        "-object",
        json_object(
            {
                "qom-type": "acpi-generic-initiator",
                "id": initiator.id,
                "pci-dev": initiator.device,
                "node": initiator.node,
            }
        ),
    )


IOMMUFD_ID = "iommufd0"
"""The id of libvirt's one shared ``iommufd`` object."""
IOMMUFD_OPTION = Option("-object", '{"qom-type":"iommufd","id":"iommufd0"}')
"""libvirt 12.8's iommufd object under domxml-to-native (a real start adds ``"fd"``)."""


def _with_iommufd(
    domain: Domain, pci: Sequence[Hostdev], device: Callable[[Hostdev], Option]
) -> Iterator[Option]:
    """The devices' options, the shared iommufd object right before the first that uses it."""
    written = False
    for hostdev in pci:
        if not written and domain.uses_iommufd(hostdev):
            written = True
            yield IOMMUFD_OPTION
        yield device(hostdev)


def _path_options(
    domain: Domain,
    pci: Sequence[Hostdev],
    names: dict[str, str],
    initiators: list[Initiator],
    addresses: dict[str, PciAddress],
) -> list[Option]:
    """The PCI path of every device with an initiator: the controllers from the root down
    to its bus, in index order as libvirt writes them, then each ``arm-smmuv3`` whose
    primary bus is on such a path. ``addresses``: each device's guest address, the
    document's or where libvirt places it (:func:`device_addresses`)."""
    with_initiator = {initiator.device for initiator in initiators}
    buses = [
        addresses[hostdev.alias].bus
        for hostdev in pci
        if hostdev.alias in addresses and names[hostdev.alias] in with_initiator
    ]
    # the placement is derived only when some such device sits below the root bus
    topology = pci_topology(domain) if any(buses) else {}
    on_path: set[int] = set()
    known = False
    for guest_bus in buses:
        path = pci_path(topology, guest_bus)
        if path is not None:
            known = True
            on_path.update(controller.index for controller in path)
    options = [
        Option("-device", json_object(controller_props(domain, topology[index])))
        for index in sorted(on_path)
    ]
    for number, iommu in enumerate(domain.iommus):
        bus = iommu.pci_bus
        if iommu.model == "smmuv3" and bus is not None and (bus in on_path or (bus == 0 and known)):
            options.append(
                Option("-device", json_object(smmuv3_props(domain, number, bus, iommu.options)))
            )
    return options


def build_argv(domain: Domain, profile: Profile | None = None) -> tuple[Option, ...]:
    """The GI-relevant argv of a valid domain (validate it first: invalid fields raise)."""
    chosen = profile if profile is not None else default_profile(domain)
    options = _numa_options(domain)
    names = device_ids(domain, chosen)
    pci = [hostdev for hostdev in domain.hostdevs if hostdev.in_guest]
    initiators = _emitted(domain, chosen, names, pci)
    if chosen is Profile.SEED:
        options.extend(
            _with_iommufd(domain, pci, lambda h: _device_option(domain, h, names[h.alias]))
        )
        options.extend([_initiator_option(i, chosen) for i in initiators])
        return tuple(options)
    addresses = device_addresses(domain)
    options.extend(_path_options(domain, pci, names, initiators, addresses))
    by_device: dict[str | None, list[Initiator]] = {}
    for initiator in initiators:
        by_device.setdefault(initiator.device, []).append(initiator)
    iommufd_written = False
    for hostdev in pci:
        device_id = names[hostdev.alias]
        if not iommufd_written and domain.uses_iommufd(hostdev):
            iommufd_written = True
            options.append(IOMMUFD_OPTION)
        address = addresses.get(hostdev.alias)
        options.append(_device_option(domain, hostdev, device_id, address))
        options.extend(_initiator_option(i, chosen) for i in by_device.get(device_id, ()))
    return tuple(options)


def flatten(options: Sequence[Option]) -> list[str]:
    """The argv as a process would receive it: ``["-numa", "node,nodeid=0", ...]``."""
    return [part for option in options for part in (option.flag, option.value)]


def render_args(options: Sequence[Option]) -> str:
    """libvirt's ``.args`` layout: one option a line, ``\\``-continued, JSON quoted."""
    return " \\\n".join(str(option) for option in options) + "\n" if options else ""
