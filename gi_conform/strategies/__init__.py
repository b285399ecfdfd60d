"""Hypothesis strategies for domain documents with generic initiators (public API).

Other implementations import these to generate inputs, so they follow Hypothesis' house
style: plural names, keyword ``min_*``/``max_*`` bounds, bad arguments raise
:class:`hypothesis.errors.InvalidArgument` when drawn (not when called), and everything
shrinks towards a small, plain document: lists are drawn with bounds, references are
chosen with ``sampled_from`` among what exists, and nothing is generated then filtered.

* :func:`topologies` - valid domain models (:class:`gi_conform.Domain`).
* :func:`renderings` - XML texts of one model that all parse back to exactly it.
* :func:`domain_documents` - the two together: valid XML text.
* :func:`invalid_documents` - ``(xml_text, rule_id)``: one mutation, one broken error rule.
* :func:`hostile_documents` - bytes meant to break a parser (all must be refused cleanly).

Needs ``hypothesis`` (a test dependency): ``import gi_conform`` itself never imports it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from lxml import etree

from gi_conform.bitmap import format_bitmap, parse_bitmap, ranges
from gi_conform.document.format import format_xml
from gi_conform.document.parse import MAX_DOCUMENT_BYTES, MAX_NODE, MAX_VCPUS
from gi_conform.document.parse import smallest_free as _smallest_free
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
    Initiator,
    Interconnect,
    InterconnectType,
    MdevSource,
    MemNode,
    MemoryBacking,
    Numatune,
    NumatuneMode,
    PciAddress,
    ScsiSource,
    Source,
    UsbSource,
)
from gi_conform.rules import Severity, catalogue
from gi_conform.semantics import (
    LOCAL_DISTANCE,
    UNREACHABLE,
    cpu_cells_written,
    initiator_pairs,
    unassigned_vcpus,
)

__all__ = [
    "MUTATED_RULES",
    "domain_documents",
    "hostile_documents",
    "invalid_documents",
    "renderings",
    "topologies",
]

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


def _draw_cells(
    draw: st.DrawFn, min_cells: int, max_cells: int, max_vcpus: int
) -> tuple[int, tuple[Cell, ...]]:
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

    arch, machine = draw(st.sampled_from(_MACHINES))
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
        )
        for index, device in enumerate(devices)
    )
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
    )
    return _draw_numa_features(draw, domain) if cells and extras else domain


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
        )
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


# ---------------------------------------------------------------------------------------
# Rendering: a model as XML text, with the variation real documents have.


@dataclass(frozen=True)
class _Style:
    """How a tree is written; none of it changes what the document means."""

    quote: str
    """``'``, ``"`` or empty for a mix chosen per attribute."""
    indent: str
    newline: str
    attribute_gap: str
    empty: str
    """``/>``, `` />`` or ``pair`` for ``<x></x>``."""
    prolog: str


_CANONICAL = _Style("'", "  ", "\n", " ", "/>", "")
_DECLARATIONS = (
    "<?xml version='1.0' encoding='UTF-8'?>",
    '<?xml version="1.0"?>',
    "\ufeff<?xml version='1.0' encoding='utf-8'?>",
    "<!-- generated by gi-conform -->",
)
_DEVICE_EXTRAS = (
    "<emulator>/usr/bin/qemu-system-x86_64</emulator>",
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='/var/lib/libvirt/images/guest.qcow2'/><target dev='vda' bus='virtio'/></disk>",
    "<watchdog model='i6300esb' action='reset'/>",
    "<controller type='usb' model='none'/>",
    "<console type='pty'><target type='serial' port='0'/></console>",
    "<memballoon model='none'/>",
    "<graphics type='vnc' port='-1' autoport='yes'/>",
    "<input type='mouse' bus='ps2'/>",
    "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
)
_ROOT_EXTRAS = (
    "<on_poweroff>destroy</on_poweroff>",
    "<on_reboot>restart</on_reboot>",
    "<clock offset='utc'/>",
    "<description>Généré pour les tests — ✓</description>",
    "<title>GI guest</title>",
    "<pm><suspend-to-mem enabled='no'/></pm>",
    "<iothreads>1</iothreads>",
)
_PADDING = ("", " ", "\n", "\t", "\n    ", "  ")


def _escape(text: str, quote: str | None = None) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")
    if quote is not None:
        text = text.replace("\n", "&#10;").replace("\t", "&#9;")
        text = text.replace(quote, "&apos;" if quote == "'" else "&quot;")
    return text


def _str(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8")


def _drop(element: etree._Element, name: str) -> None:
    if name in element.attrib:
        del element.attrib[name]


def _serialize(root: etree._Element, style: _Style, rng: random.Random, shuffle: bool) -> str:
    out: list[str] = [style.prolog + style.newline if style.prolog else ""]

    def write(element: etree._Element, depth: int) -> None:
        pad = style.indent * depth
        if not isinstance(element.tag, str):
            out.append(f"{pad}<!--{element.text or ''}-->{style.newline}")
            return
        items = list(element.attrib.items())
        if shuffle:
            rng.shuffle(items)
        attrs = ""
        for name, value in items:
            quote = style.quote or rng.choice(("'", '"'))
            attrs += (
                f"{style.attribute_gap}{_str(name)}={quote}{_escape(_str(value), quote)}{quote}"
            )
        tag = element.tag
        children = list(element)
        if children:
            out.append(f"{pad}<{tag}{attrs}>{style.newline}")
            for child in children:
                write(child, depth + 1)
            out.append(f"{pad}</{tag}>{style.newline}")
        elif element.text:
            out.append(f"{pad}<{tag}{attrs}>{_escape(element.text)}</{tag}>{style.newline}")
        elif style.empty == "pair":
            out.append(f"{pad}<{tag}{attrs}></{tag}>{style.newline}")
        else:
            out.append(f"{pad}<{tag}{attrs}{style.empty}{style.newline}")

    write(root, 0)
    return "".join(out)


def _tree(domain: Domain) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(format_xml(domain).encode("utf-8"), parser)


def _c_uint_forms(value: int, width: int) -> list[str]:
    """Spellings ``strtoul(s, NULL, 0)`` reads as ``value``: hex, decimal, octal."""
    forms = [f"0x{value:0{width}x}", f"0x{value:x}", f"0X{value:X}", str(value)]
    forms.append(f"0{value:o}")
    return forms


def _vary_bitmap(values: Sequence[int], rng: random.Random, limit: int) -> str:
    """Another spelling of the same set: split ranges, singles, repeats, ``^`` exclusions."""
    groups: list[list[str]] = []
    for first, last in ranges(values):
        choice = rng.randrange(5)
        if choice == 0 and last + 1 < limit:
            items = [f"{first}-{last + 1}", f"^{last + 1}"]
        elif choice == 1:
            items = [str(value) for value in range(first, min(last, first + 8) + 1)]
            if last > first + 8:
                items.append(f"{first + 9}-{last}" if last > first + 9 else str(last))
        elif choice == 2 and last > first:
            middle = rng.randint(first, last - 1)
            items = [f"{first}-{middle}", f"{middle + 1}-{last}"]
        else:
            items = [str(first) if first == last else f"{first}-{last}"]
        if rng.random() < 0.2:
            items.insert(rng.randint(0, len(items)), str(first))
        groups.append(items)
    rng.shuffle(groups)
    return ",".join(item for group in groups for item in group)


def _vary_size(kib: int, rng: random.Random) -> tuple[str, str | None]:
    """Another spelling of a size in KiB: libvirt's units, or the default unit."""
    forms: list[tuple[str, str | None]] = [
        (str(kib), "KiB"),
        (str(kib), None),
        (str(kib), "k"),
        (str(kib), "K"),
        (str(kib * 1024), "b"),
        (str(kib * 1024), "bytes"),
    ]
    if kib % 1024 == 0:
        forms += [(str(kib >> 10), "MiB"), (str(kib >> 10), "M"), (str(kib >> 10), "m")]
    if kib % (1 << 20) == 0:
        forms += [(str(kib >> 20), "GiB"), (str(kib >> 20), "G")]
    if kib * 1024 % 1000 == 0:
        forms.append((str(kib * 1024 // 1000), "KB"))
    return rng.choice(forms)


def _set_size(element: etree._Element, value_attr: str | None, rng: random.Random) -> None:
    raw = element.get(value_attr) if value_attr else element.text
    if raw is None or not raw.isdigit() or element.get("unit", "KiB") != "KiB":
        return
    value, unit = _vary_size(int(raw), rng)
    if value_attr:
        element.set(value_attr, value)
    else:
        element.text = value
    if unit is None:
        _drop(element, "unit")
    else:
        element.set("unit", unit)


def _vary_address(element: etree._Element, rng: random.Random) -> None:
    widths = {"domain": 4, "bus": 2, "slot": 2, "function": 1}
    for name, width in widths.items():
        raw = element.get(name)
        if raw is None:
            continue
        value = int(raw, 16)
        if name == "domain" and value == 0 and rng.random() < 0.3:
            del element.attrib[name]
            continue
        element.set(name, rng.choice(_c_uint_forms(value, width)))


def _vary_values(root: etree._Element, rng: random.Random) -> None:
    """Rewrite values into other spellings the parser reads identically."""
    for element in (root.find("name"), root.find("uuid")):
        if element is not None and element.text:
            element.text = rng.choice(_PADDING) + element.text + rng.choice(_PADDING)
    memory = root.find("memory")
    if memory is not None:
        _set_size(memory, None, rng)
    vcpu = root.find("vcpu")
    if vcpu is not None and rng.random() < 0.5:
        _drop(vcpu, "placement")
    numa = root.find("cpu/numa")
    for position, cell in enumerate(numa.iterchildren("cell") if numa is not None else ()):
        if cell.get("id") == str(position) and rng.random() < 0.3:
            del cell.attrib["id"]
        cpus = cell.get("cpus")
        if cpus is not None:
            cell.set("cpus", _vary_bitmap(parse_bitmap(cpus, limit=MAX_VCPUS), rng, MAX_VCPUS))
        _set_size(cell, "memory", rng)
    devices = root.find("devices")
    for hostdev in devices.iterchildren("hostdev") if devices is not None else ():
        if rng.random() < 0.3:
            _drop(hostdev, "mode")
        for address in (hostdev.find("source/address"), hostdev.find("address")):
            if address is not None and address.get("bus", "").startswith("0x"):
                _vary_address(address, rng)
        acpi = hostdev.find("acpi")
        if acpi is not None and acpi.get("nodeset"):
            nodes = parse_bitmap(acpi.get("nodeset", ""), limit=MAX_NODE + 1)
            acpi.set("nodeset", _vary_bitmap(nodes, rng, MAX_NODE + 1))
    for seed in devices.iterchildren("acpi-generic-initiator") if devices is not None else ():
        for child in seed:
            if child.tag in ("pci-dev", "numa-node") and child.text:
                child.text = rng.choice(_PADDING) + child.text + rng.choice(_PADDING)


def _merge(
    first: list[etree._Element], second: list[etree._Element], rng: random.Random
) -> list[etree._Element]:
    """A random interleaving that keeps the order inside each list."""
    merged: list[etree._Element] = []
    a, b = list(first), list(second)
    while a or b:
        take_a = bool(a) and (not b or rng.random() < len(a) / (len(a) + len(b)))
        merged.append(a.pop(0) if take_a else b.pop(0))
    return merged


def _vary_order(root: etree._Element, rng: random.Random) -> None:
    """Reorder what libvirt's schema interleaves; keep hostdev and seed order (they name)."""
    children = list(root)
    rng.shuffle(children)
    root[:] = children
    devices = root.find("devices")
    if devices is None:
        return
    hostdevs = [child for child in devices if child.tag == "hostdev"]
    seeds = [child for child in devices if child.tag == "acpi-generic-initiator"]
    others = [child for child in devices if child.tag not in ("hostdev", "acpi-generic-initiator")]
    order = _merge(hostdevs, seeds, rng)
    for other in others:
        order.insert(rng.randint(0, len(order)), other)
    devices[:] = order
    for element in (*hostdevs, *seeds):
        parts = list(element)
        rng.shuffle(parts)
        element[:] = parts


def _add_unrelated(root: etree._Element, rng: random.Random) -> None:
    """Elements the GI rules ignore: disks, NICs, clock, features, comments."""
    devices = root.find("devices")
    if devices is not None:
        for snippet in rng.sample(_DEVICE_EXTRAS, rng.randint(1, 4)):
            devices.insert(rng.randint(0, len(devices)), etree.fromstring(snippet))
    for snippet in rng.sample(_ROOT_EXTRAS, rng.randint(1, 3)):
        root.insert(rng.randint(1, len(root)), etree.fromstring(snippet))
    features = root.find("features")
    if features is not None:
        features.insert(0, etree.Element("apic"))
        features.append(etree.Element("pae"))
    os = root.find("os")
    if os is not None:
        etree.SubElement(os, "boot", dev="hd")
    cpu = root.find("cpu")
    if cpu is not None:
        cpu.set("mode", "host-passthrough")
        cpu.set("check", "none")
    containers = [root, *(e for e in (devices, root.find("cpu/numa")) if e is not None)]
    for _ in range(rng.randint(0, 3)):
        container = rng.choice(containers)
        comment = etree.Comment(rng.choice((" note ", " à vérifier ✓ ", "x")))
        container.insert(rng.randint(0, len(container)), comment)


@st.composite
def _styles(draw: st.DrawFn) -> _Style:
    indent = draw(st.sampled_from(("  ", "", " ", "    ", "\t")))
    return _Style(
        quote=draw(st.sampled_from(("'", '"', ""))),
        indent=indent,
        newline=draw(st.sampled_from(("\n", "", "\r\n"))),
        attribute_gap=draw(st.sampled_from((" ", "  ", "\n" + indent * 2, "\t"))),
        empty=draw(st.sampled_from(("/>", " />", "pair"))),
        prolog=draw(st.sampled_from(("", *_DECLARATIONS))),
    )


@dataclass(frozen=True)
class _Variation:
    """Which kinds of variation apply: each shrinks to off on its own."""

    values: bool
    order: bool
    unrelated: bool
    style: _Style
    rng: random.Random


@st.composite
def _variations(draw: st.DrawFn, values_allowed: bool = True) -> _Variation:
    return _Variation(
        values=values_allowed and draw(st.booleans()),
        order=draw(st.booleans()),
        unrelated=draw(st.booleans()),
        style=draw(st.one_of(st.just(_CANONICAL), _styles())),
        rng=draw(st.randoms(use_true_random=True)),
    )


def _render(root: etree._Element, variation: _Variation) -> str:
    rng = variation.rng
    if variation.values:
        _vary_values(root, rng)
    if variation.unrelated:
        _add_unrelated(root, rng)
    if variation.order:
        _vary_order(root, rng)
    return _serialize(root, variation.style, rng, shuffle=variation.order)


@st.composite
def _renderings(draw: st.DrawFn, domain: object, vary: object) -> str:
    if not isinstance(domain, Domain):
        raise InvalidArgument(f"domain={domain!r} must be a gi_conform.Domain")
    if not isinstance(vary, bool):
        raise InvalidArgument(f"vary={vary!r} must be a bool")
    if not vary:
        return format_xml(domain)
    return _render(_tree(domain), draw(_variations()))


def renderings(domain: Domain, *, vary: bool = True) -> st.SearchStrategy[str]:
    """XML texts of ``domain`` that all parse back to exactly ``domain``.

    With ``vary`` (the default) the text varies the way real documents do: quote style,
    whitespace and declarations; disks, NICs, comments and other elements the rules
    ignore; elements in another order where libvirt's schema allows it; numbers,
    bitmaps and sizes in other spellings (``0x06``/``6``/``06``, ``1-3``/``3,1-2``,
    ``1 GiB``/``1048576 KiB``). Without it, the one canonical ``format_xml`` text.
    """
    return _renderings(domain, vary)


@st.composite
def _domain_documents(draw: st.DrawFn, bounds: dict[str, Any], vary: object) -> str:
    domain = draw(_topologies(**bounds))
    return draw(_renderings(domain, vary))


def domain_documents(
    *,
    min_cells: int = 1,
    max_cells: int = MAX_CELLS,
    min_hostdevs: int = 0,
    max_hostdevs: int = 16,
    max_vcpus: int = 64,
    dialects: Collection[Dialect | str] = (Dialect.SEED, Dialect.LIBVIRT),
    vary: bool = True,
) -> st.SearchStrategy[str]:
    """Valid documents as XML text: a :func:`topologies` draw through :func:`renderings`."""
    bounds: dict[str, object] = {
        "min_cells": min_cells,
        "max_cells": max_cells,
        "min_hostdevs": min_hostdevs,
        "max_hostdevs": max_hostdevs,
        "max_vcpus": max_vcpus,
        "dialects": dialects,
    }
    return _domain_documents(bounds, vary)


# ---------------------------------------------------------------------------------------
# Invalid documents: one mutation per error rule.

_Post = Callable[[str], str]
"""A text-level step after serializing (for rules about the XML itself)."""
_Mutation = Callable[[st.DrawFn, Domain, etree._Element], _Post | None]


def _numa(root: etree._Element) -> etree._Element:
    numa = root.find("cpu/numa")
    assert numa is not None, "invalid_documents draws topologies with at least one cell"
    return numa


def _devices(root: etree._Element) -> etree._Element:
    devices = root.find("devices")
    assert devices is not None, "format_xml always writes <devices>"
    return devices


def _hostdev_elements(root: etree._Element) -> list[etree._Element]:
    return list(_devices(root).iterchildren("hostdev"))


def _seed_elements(root: etree._Element) -> list[etree._Element]:
    return list(_devices(root).iterchildren("acpi-generic-initiator"))


def _used_names(domain: Domain) -> set[str]:
    return {h.alias for h in domain.hostdevs} | {i.id for i in domain.initiators}


def _fresh_name(domain: Domain, prefix: str, taken: Collection[str] = ()) -> str:
    return _smallest_free(prefix, _used_names(domain) | set(taken))


def _fresh_sources(domain: Domain, count: int) -> list[PciAddress]:
    """PCI sources no hostdev uses (a fixed walk, not a filter on random draws)."""
    used = {h.source for h in domain.hostdevs}
    fresh: list[PciAddress] = []
    bus = 0
    while len(fresh) < count:
        candidate = PciAddress(0xFFFF, bus, 0x1F, 7)
        if candidate not in used:
            fresh.append(candidate)
        bus += 1
    return fresh


def _hostdev_element(hostdev: Hostdev) -> etree._Element:
    """A canonical ``<hostdev>`` element, written by the formatter itself."""
    found = _tree(Domain(name="x", hostdevs=(hostdev,))).find("devices/hostdev")
    assert found is not None
    return found


def _new_pci(
    source: PciAddress,
    alias: str | None = None,
    *,
    guest: PciAddress | None = None,
    nodeset: tuple[int, ...] | None = None,
) -> etree._Element:
    hostdev = Hostdev(
        kind=HostdevKind.PCI,
        alias="unused",
        alias_given=False,
        source=source,
        guest_address=guest,
        nodeset=nodeset,
    )
    element = _hostdev_element(hostdev)
    if alias is not None:
        element.insert(1, etree.Element("alias", name=alias))
    return element


def _seed_element(device: str | None, node: str | None, alias: str | None = None) -> etree._Element:
    element = etree.Element("acpi-generic-initiator")
    if alias is not None:
        etree.SubElement(element, "alias", name=alias)
    if device is not None:
        etree.SubElement(element, "pci-dev").text = device
    if node is not None:
        etree.SubElement(element, "numa-node").text = node
    return element


def _append_cell(
    root: etree._Element, cell_id: str, memory: str = "0", cpus: str | None = None
) -> None:
    cell = etree.SubElement(_numa(root), "cell", id=cell_id)
    if cpus is not None:
        cell.set("cpus", cpus)
    cell.set("memory", memory)
    cell.set("unit", "KiB")


def _cell_ids(domain: Domain) -> list[int]:
    return sorted(cell.id for cell in domain.cells if cell.id is not None)


def _targets(domain: Domain) -> set[int]:
    return {node for _, node in initiator_pairs(domain)}


def _pci_indexes(domain: Domain) -> list[int]:
    return [index for index, hostdev in enumerate(domain.hostdevs) if hostdev.kind.is_pci]


def _m_xml_malformed(draw: st.DrawFn, domain: Domain, root: etree._Element) -> _Post:
    how = draw(st.sampled_from(("truncate", "ampersand", "mismatch")))
    if how == "ampersand":
        return lambda text: text.replace("</name>", "&</name>", 1)
    if how == "mismatch":
        return lambda text: _before_root_end(text, "</x>")
    fraction = draw(st.integers(0, 999))

    def truncate(text: str) -> str:
        return text[: fraction * len(text.rstrip()) // 1000]

    return truncate


_DOCTYPES = (
    '<!DOCTYPE domain [<!ENTITY x "y">]>',
    '<!DOCTYPE domain SYSTEM "http://example.invalid/domain.dtd">',
    '<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',
    '<!DOCTYPE domain [<!ENTITY % p SYSTEM "http://example.invalid/p.dtd"> %p;]>',
)


def _insert_in_prolog(text: str, insert: str) -> str:
    body = text.lstrip("\ufeff")
    bom = text[: len(text) - len(body)]
    if body.startswith("<?xml"):
        end = body.index("?>") + 2
        return bom + body[:end] + insert + body[end:]
    return bom + insert + body


def _m_xml_forbidden(draw: st.DrawFn, domain: Domain, root: etree._Element) -> _Post:
    doctype = draw(st.sampled_from(_DOCTYPES))
    return lambda text: _insert_in_prolog(text, doctype + "\n")


def _before_root_end(text: str, insert: str) -> str:
    """``insert`` just before the root's closing tag (the last ``</`` of the text)."""
    head, separator, tail = text.rpartition("</")
    return head + insert + separator + tail


def _m_xml_too_large(draw: st.DrawFn, domain: Domain, root: etree._Element) -> _Post:
    if draw(st.integers(0, 9)) == 0:
        padding = "<!--" + "x" * MAX_DOCUMENT_BYTES + "-->"
        return lambda text: _before_root_end(text, padding)
    depth = draw(st.integers(260, 2000))
    return lambda text: _before_root_end(text, "<x>" * depth + "</x>" * depth)


def _m_xml_root(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    root.tag = draw(st.sampled_from(("network", "Domain", "DOMAIN", "domainsnapshot", "pool")))


def _m_vcpu_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    vcpu = root.find("vcpu")
    assert vcpu is not None
    bad = ("0", "-1", "abc", "", "1.5", str(MAX_VCPUS + 1), "99999999999", "0x4", "4 4", "\uff14")
    vcpu.text = draw(st.sampled_from(bad))


def _m_numa_no_cells(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    numa = _numa(root)
    for cell in list(numa):
        numa.remove(cell)


def _m_cell_id_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    bad = draw(st.sampled_from(("x", "-1", "1.5", "", "0x1", "\uff11", "99999999999", "1 2")))
    cells = list(_numa(root).iterchildren("cell"))
    named = _targets(domain) | {sibling for c in domain.cells for sibling, _ in c.distances}
    free = [cell for cell in cells if int(cell.get("id", "-1")) not in named]
    target = draw(st.sampled_from([*free, None]))
    if target is None:
        _append_cell(root, bad)
    else:
        target.set("id", bad)


def _m_cell_id_duplicate(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    twin = draw(st.sampled_from(_cell_ids(domain)))
    _append_cell(root, str(twin), memory=str(draw(st.sampled_from((0, 1024, 1048576)))))


def _m_cell_id_noncontiguous(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    gap = draw(st.integers(1, 5))
    _append_cell(root, str(len(domain.cells) + gap))


def _m_too_many_cells(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    total = MAX_CELLS + 1 + draw(st.integers(0, 3))
    for cell_id in range(len(domain.cells), total):
        _append_cell(root, str(cell_id))


def _m_cpus_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    cell = draw(st.sampled_from(list(_numa(root).iterchildren("cell"))))
    bad = ("abc", "3-1", "", "^0", f"0-{MAX_VCPUS}", "1,,2", "-1", "0-3,^", "1-2-3", "0-1 ")
    cell.set("cpus", draw(st.sampled_from(bad)))


def _cell_element(root: etree._Element, cell_id: int) -> etree._Element:
    found = next((c for c in _numa(root).iterchildren("cell") if c.get("id") == str(cell_id)), None)
    assert found is not None
    return found


def _add_cpu(element: etree._Element, cpu: int) -> None:
    current = element.get("cpus")
    values = set(parse_bitmap(current, limit=MAX_VCPUS)) if current else set()
    element.set("cpus", format_bitmap(values | {cpu}))


def _m_cpus_overlap(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    owned = [(cell.id, cpu) for cell in domain.cells for cpu in cell.cpus or ()]
    ids = _cell_ids(domain)
    if owned:
        owner, cpu = draw(st.sampled_from(owned))
    else:
        owner, cpu = draw(st.sampled_from(ids)), draw(st.integers(0, (domain.vcpus or 1) - 1))
        assert owner is not None
        _add_cpu(_cell_element(root, owner), cpu)
    others = [cell_id for cell_id in ids if cell_id != owner]
    other = draw(st.sampled_from([*others, None]))
    if other is None:
        _append_cell(root, str(len(ids)), cpus=str(cpu))
    else:
        _add_cpu(_cell_element(root, other), cpu)


def _m_cpus_out_of_range(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    vcpus = domain.vcpus or 1
    cpu = draw(
        st.one_of(st.integers(vcpus, min(vcpus + 64, MAX_VCPUS - 1)), st.just(MAX_VCPUS - 1))
    )
    _add_cpu(_cell_element(root, draw(st.sampled_from(_cell_ids(domain)))), cpu)


def _m_memory_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    cell = draw(st.sampled_from(list(_numa(root).iterchildren("cell"))))
    how = draw(st.sampled_from(("missing", "value", "unit")))
    if how == "missing":
        del cell.attrib["memory"]
    elif how == "value":
        bad = ("-1", "abc", "1.5", "", "1e6", "9" * 31, "0x10")
        cell.set("memory", draw(st.sampled_from(bad)))
    else:
        cell.set("unit", draw(st.sampled_from(("XB", "KiBB", "kb2", "ib", "Zi", "GiB "))))
        cell.set("memory", "1")


def _new_sibling(draw: st.DrawFn, root: etree._Element) -> etree._Element:
    cell = draw(st.sampled_from(list(_numa(root).iterchildren("cell"))))
    distances = cell.find("distances")
    if distances is None:
        distances = etree.SubElement(cell, "distances")
    return etree.SubElement(distances, "sibling")


def _m_distance_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    sibling = _new_sibling(draw, root)
    sibling.set("id", str(draw(st.sampled_from(_cell_ids(domain)))))
    sibling.set("value", "20")
    field = draw(st.sampled_from(("id", "value")))
    bad = draw(st.sampled_from(("x", "-1", "", "1.5", "99999999999", "0x1", "missing")))
    if bad == "missing":
        del sibling.attrib[field]
    else:
        sibling.set(field, bad)


def _m_distance_sibling_unknown(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    sibling = _new_sibling(draw, root)
    sibling.set("id", str(len(domain.cells) + draw(st.integers(0, 10**6))))
    sibling.set("value", str(draw(st.integers(11, UNREACHABLE))))


def _m_distance_value(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    sibling = _new_sibling(draw, root)
    parent = sibling.getparent()
    cell = parent.getparent() if parent is not None else None
    assert cell is not None
    own = int(cell.get("id", "0"))
    others = [cell_id for cell_id in _cell_ids(domain) if cell_id != own]
    out_of_range = st.one_of(st.integers(0, 9), st.integers(UNREACHABLE + 1, 999_999_999))
    target = draw(st.sampled_from([own, *others]))
    if target == own:
        value = draw(st.one_of(st.integers(11, UNREACHABLE), out_of_range))
    else:
        value = draw(st.one_of(st.just(LOCAL_DISTANCE), out_of_range))
    sibling.set("id", str(target))
    sibling.set("value", str(value))


def _m_numa_no_memory(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    for cell in _numa(root).iterchildren("cell"):
        cell.set("memory", "0")
        cell.set("unit", draw(st.sampled_from(("KiB", "GiB", "b"))))


def _m_address_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    hostdevs = _hostdev_elements(root)
    choices: list[tuple[str, etree._Element]] = []
    for element in hostdevs:
        kind = element.get("type")
        source_address = element.find("source/address")
        if kind == "pci" and source_address is not None:
            choices.append(("pci", source_address))
        if kind == "mdev" and source_address is not None:
            choices.append(("uuid", source_address))
        guest = element.find("address")
        if guest is not None:
            choices.append(("pci", guest))
        choices.append(("source", element))
    if not choices:
        element = _new_pci(_fresh_sources(domain, 1)[0])
        _devices(root).append(element)
        source_address = element.find("source/address")
        assert source_address is not None
        choices.append(("pci", source_address))
    how, element = draw(st.sampled_from(choices))
    if how == "uuid":
        element.set("uuid", draw(st.sampled_from(("not-a-uuid", "", "1234", "g" * 32))))
    elif how == "source":
        source = element.find("source")
        assert source is not None
        element.remove(source)
    else:
        field = draw(st.sampled_from(("domain", "bus", "slot", "function")))
        too_big = {"domain": "0x10000", "bus": "0x100", "slot": "0x20", "function": "8"}
        bad = draw(
            st.sampled_from((too_big[field], "zz", "", "-1", "0x", "09", "1e3", "1_0", "missing"))
        )
        if bad == "missing" and field != "domain":
            del element.attrib[field]
        else:
            element.set(field, too_big[field] if bad == "missing" else bad)


def _m_source_duplicate(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    devices = _devices(root)
    if not domain.hostdevs:
        source = _fresh_sources(domain, 1)[0]
        devices.append(_new_pci(source))
        devices.append(_new_pci(source))
        return
    original = draw(st.sampled_from(domain.hostdevs))
    copy = Hostdev(original.kind, "unused", False, original.source, managed=original.managed)
    devices.append(_hostdev_element(copy))


def _m_guest_duplicate(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    devices = _devices(root)
    placed = [h.guest_address for h in domain.hostdevs if h.guest_address is not None]
    if placed:
        guest = draw(st.sampled_from(placed))
        devices.append(_new_pci(_fresh_sources(domain, 1)[0], guest=guest))
        return
    guest = PciAddress(0, 0, draw(st.integers(2, 0x1E)), 0)
    first, second = _fresh_sources(domain, 2)
    devices.append(_new_pci(first, guest=guest))
    devices.append(_new_pci(second, guest=guest))


def _m_multifunction(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """Functions 0 and 1 of a free slot, function 0 without multifunction='on'."""
    used = {
        h.guest_address.slot
        for h in domain.hostdevs
        if h.guest_address is not None and h.guest_address.bus == 0
    }
    slot = draw(st.sampled_from([s for s in range(2, 0x1F) if s not in used]))
    first, second = _fresh_sources(domain, 2)
    devices = _devices(root)
    devices.append(_new_pci(first, guest=PciAddress(0, 0, slot, 0)))
    devices.append(_new_pci(second, guest=PciAddress(0, 0, slot, 1)))


def _m_alias_duplicate(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    devices = _devices(root)
    given = [h.alias for h in domain.hostdevs if h.alias_given]
    given += [i.id for i in domain.initiators if i.alias_given]
    if given:
        devices.append(_new_pci(_fresh_sources(domain, 1)[0], draw(st.sampled_from(given))))
        return
    twin = _fresh_name(domain, "ua-twin")
    first, second = _fresh_sources(domain, 2)
    devices.append(_new_pci(first, twin))
    devices.append(_new_pci(second, twin))


def _m_alias_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    bad = ("bad id", "a,b", "1abc", "", "x=y", "gpü", "-x", "a" * 129, "tab\there", "ua-x;rm")
    element = _new_pci(_fresh_sources(domain, 1)[0], draw(st.sampled_from(bad)))
    _devices(root).append(element)


def _m_alias_reserved(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    alias = f"ram-node{draw(st.integers(0, 200))}"
    _devices(root).append(_new_pci(_fresh_sources(domain, 1)[0], alias))


def _m_gi_missing_field(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    seeds = _seed_elements(root)
    edit_existing = draw(st.booleans())
    if seeds and edit_existing:
        seed = draw(st.sampled_from(seeds))
        for tag in draw(st.sampled_from((("pci-dev",), ("numa-node",), ("pci-dev", "numa-node")))):
            child = seed.find(tag)
            assert child is not None
            seed.remove(child)
        return
    node = str(draw(st.sampled_from(_cell_ids(domain))))
    pci = [domain.hostdevs[i].alias for i in _pci_indexes(domain)]
    without_node = draw(st.booleans())
    if pci and without_node:
        _devices(root).append(_seed_element(draw(st.sampled_from(pci)), None))
    else:
        _devices(root).append(_seed_element(None, node))


def _m_gi_node_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    bad_node = ("x", "-1", str(MAX_NODE + 1), "", "1.0", "99999999999", "0x1", "\uff12")
    bad_nodeset = ("abc", "", "3-1", "^1", str(MAX_NODE + 1), "0-200", "1,,2", "1-")
    seeds = _seed_elements(root)
    hostdevs = _hostdev_elements(root)
    how = draw(st.sampled_from(("seed", "nodeset") if seeds else ("nodeset",)))
    if how == "seed":
        node = draw(st.sampled_from(seeds)).find("numa-node")
        assert node is not None
        node.text = draw(st.sampled_from(bad_node))
        return
    if not hostdevs:
        hostdevs = [_new_pci(_fresh_sources(domain, 1)[0])]
        _devices(root).append(hostdevs[0])
    target = draw(st.sampled_from(hostdevs))
    acpi = target.find("acpi")
    if acpi is None:
        acpi = etree.SubElement(target, "acpi")
    acpi.set("nodeset", draw(st.sampled_from(bad_nodeset)))


def _m_gi_no_numa(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    cpu = root.find("cpu")
    assert cpu is not None
    cpu.remove(_numa(root))
    if initiator_pairs(domain):
        return
    nodes = draw(st.lists(st.integers(0, MAX_NODE), min_size=1, max_size=4, unique=True))
    pci = [element for element in _hostdev_elements(root) if element.get("type") in ("pci", "mdev")]
    if pci:
        etree.SubElement(draw(st.sampled_from(pci)), "acpi", nodeset=format_bitmap(nodes))
    else:
        source = _fresh_sources(domain, 1)[0]
        _devices(root).append(_new_pci(source, nodeset=tuple(sorted(nodes))))


def _m_gi_node_unknown(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    node = draw(st.integers(len(domain.cells), MAX_NODE))
    pci = _pci_indexes(domain)
    if not pci:
        _devices(root).append(_new_pci(_fresh_sources(domain, 1)[0], nodeset=(node,)))
        return
    index = draw(st.sampled_from(pci))
    if draw(st.booleans()):
        _devices(root).append(_seed_element(domain.hostdevs[index].alias, str(node)))
        return
    element = _hostdev_elements(root)[index]
    acpi = element.find("acpi")
    current = domain.hostdevs[index].nodeset or ()
    if acpi is None:
        acpi = etree.SubElement(element, "acpi")
    acpi.set("nodeset", format_bitmap({*current, node}))


def _m_gi_device_unknown(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    node = str(draw(st.sampled_from(_cell_ids(domain))))
    names = [_fresh_name(domain, "ua-missing"), "", "nosuch"]
    names += [i.id for i in domain.initiators]
    device = draw(st.sampled_from([n for n in names if domain.hostdev(n) is None]))
    _devices(root).append(_seed_element(device, node))


def _usb(product: int) -> UsbSource:
    return UsbSource(vendor="0xffff", product=f"0x{product:04x}")


def _m_gi_not_pci(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    node = draw(st.sampled_from(_cell_ids(domain)))
    others = [i for i, h in enumerate(domain.hostdevs) if not h.kind.is_pci]
    elements = _hostdev_elements(root)
    if others:
        index = draw(st.sampled_from(others))
        alias, element = domain.hostdevs[index].alias, elements[index]
    else:
        alias = _fresh_name(domain, "ua-usb")
        taken = {h.source for h in domain.hostdevs}
        product = next(p for p in range(1, 0x10000) if _usb(p) not in taken)
        element = _hostdev_element(Hostdev(HostdevKind.USB, alias, True, _usb(product)))
        _devices(root).append(element)
    if draw(st.booleans()):
        acpi = element.find("acpi")
        if acpi is None:
            acpi = etree.SubElement(element, "acpi")
        acpi.set("nodeset", str(node))
    else:
        _devices(root).append(_seed_element(alias, str(node)))


def _m_gi_duplicate(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    pairs = initiator_pairs(domain)
    if pairs:
        device, node = draw(st.sampled_from(pairs))
        _devices(root).append(_seed_element(device, str(node)))
        return
    node = draw(st.sampled_from(_cell_ids(domain)))
    pci = _pci_indexes(domain)
    if pci:
        alias = domain.hostdevs[draw(st.sampled_from(pci))].alias
    else:
        alias = _fresh_name(domain, "ua-gpu")
        _devices(root).append(_new_pci(_fresh_sources(domain, 1)[0], alias))
    _devices(root).append(_seed_element(alias, str(node)))
    _devices(root).append(_seed_element(alias, str(node)))


def _m_cell_attribute_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    cell = draw(st.sampled_from(list(_numa(root).iterchildren("cell"))))
    name = draw(st.sampled_from(("memAccess", "discard")))
    cell.set(name, draw(st.sampled_from(("", "both", "Shared", "true", "1", "on"))))


def _m_backing_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    backing = etree.SubElement(root, "memoryBacking")
    tag, attribute = draw(st.sampled_from((("source", "type"), ("access", "mode"))))
    etree.SubElement(backing, tag).set(attribute, draw(st.sampled_from(("", "disk", "SHARED"))))


def _memnode(root: etree._Element, cell: str, mode: str = "strict", nodeset: str = "0") -> None:
    tune = root.find("numatune")
    if tune is None:
        tune = etree.SubElement(root, "numatune")
    etree.SubElement(tune, "memnode", cellid=cell, mode=mode, nodeset=nodeset)


def _m_numatune_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    cell = str(draw(st.sampled_from(_cell_ids(domain))))
    field = draw(st.sampled_from(("cellid", "mode", "nodeset")))
    if field == "cellid":
        _memnode(root, draw(st.sampled_from(("x", "-1", ""))))
    elif field == "mode":
        _memnode(root, cell, mode=draw(st.sampled_from(("bind", "", "STRICT"))))
    else:
        _memnode(root, cell, nodeset=draw(st.sampled_from(("abc", "", "3-1", "99999"))))


def _m_numatune_cell_unknown(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    _memnode(root, str(len(domain.cells) + draw(st.integers(0, 1000))))


def _m_numatune_cell_duplicate(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    cell = str(draw(st.sampled_from(_cell_ids(domain))))
    _memnode(root, cell)
    _memnode(root, cell, mode=draw(st.sampled_from(tuple(NumatuneMode)[:3])))


def _link(root: etree._Element, kind: str = "latency", **attrs: str) -> etree._Element:
    numa = _numa(root)
    container = numa.find("interconnects")
    if container is None:
        container = etree.SubElement(numa, "interconnects")
    attrs.setdefault("type", "access")
    attrs.setdefault("value", "1024" if kind == "bandwidth" else "5")  # whole MiB/s
    return etree.SubElement(container, kind, attrib=attrs)


def _cpu_cell(draw: st.DrawFn, domain: Domain, root: etree._Element) -> str:
    """A cell with vCPUs in the argv; if none has (every vCPU unnamed, cell 0 memoryless),
    cell 0 is given the unnamed vCPUs explicitly, which changes nothing else."""
    nodes = sorted(cpu_cells_written(domain))
    if nodes:
        return str(draw(st.sampled_from(nodes)))
    cell = next(c for c in _numa(root).iterchildren("cell") if c.get("id") == "0")
    cell.set("cpus", format_bitmap(unassigned_vcpus(domain)))
    return "0"


def _m_hmat_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    target = str(draw(st.sampled_from(_cell_ids(domain))))
    link = _link(root, draw(st.sampled_from(("latency", "bandwidth"))), target=target)
    link.set("initiator", _cpu_cell(draw, domain, root))
    field = draw(st.sampled_from(("type", "value", "initiator", "cache")))
    bad = ("", "x", "-1", "1.5") + (("4", "0") if field == "cache" else ("sometimes",))
    link.set(field, draw(st.sampled_from(bad)))


def _m_hmat_node_unknown(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    unknown = str(len(domain.cells) + draw(st.integers(0, 1000)))
    if draw(st.booleans()):
        _link(root, initiator=_cpu_cell(draw, domain, root), target=unknown)
    else:
        _link(root, initiator=unknown, target="0")


def _m_hmat_initiator_invalid(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """A new CPU-less, memoryless cell with no initiator as the latency's initiator."""
    new_id = str(len(domain.cells))
    etree.SubElement(_numa(root), "cell", id=new_id, memory="0", unit="KiB")
    _link(root, initiator=new_id, target=str(draw(st.sampled_from(_cell_ids(domain)))))


def _m_hmat_duplicate(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    initiator = _cpu_cell(draw, domain, root)
    target = str(draw(st.sampled_from(_cell_ids(domain))))
    kind = draw(st.sampled_from(("latency", "bandwidth")))
    _link(root, kind, initiator=initiator, target=target)
    _link(root, kind, initiator=initiator, target=target, value="2048")


def _m_hmat_cache_unknown(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    target = str(draw(st.sampled_from(_cell_ids(domain))))
    _link(root, initiator=_cpu_cell(draw, domain, root), target=target, cache="1")


def _m_hmat_cache_without_lb(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    cell = draw(st.sampled_from(list(_numa(root).iterchildren("cell"))))
    cache = etree.SubElement(cell, "cache", level="1", associativity="direct", policy="writeback")
    etree.SubElement(cache, "size", value="10", unit="KiB")
    etree.SubElement(cache, "line", value="64", unit="B")
    if draw(st.booleans()):  # only one of the two it needs
        kind = draw(st.sampled_from(("latency", "bandwidth")))
        _link(root, kind, initiator=_cpu_cell(draw, domain, root), target=cell.get("id", "0"))


def _m_bus_slot(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """A device on an unused bus > 0 at a slot that bus lacks (a port's slot > 0, a
    bridge's slot 0)."""
    used = {h.guest_address.bus for h in domain.hostdevs if h.guest_address is not None}
    bus = draw(st.integers(1, 0xFF).filter(lambda b: b not in used))
    slot = draw(st.integers(1, 0x1F)) if domain.pci_root_bus == "pcie.0" else 0
    guest = PciAddress(0, bus, slot, 0)
    _devices(root).append(_new_pci(_fresh_sources(domain, 1)[0], guest=guest))


def _m_address_reserved(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """A device on a slot of bus 0 the x86 machine keeps for its own devices."""
    os_type = root.find("os/type")
    assert os_type is not None
    os_type.set("arch", "x86_64")
    # the same bus family as before, so buses > 0 keep their kind (HOSTDEV-BUS-SLOT)
    machine = "q35" if domain.pci_root_bus == "pcie.0" else "pc"
    os_type.set("machine", machine)
    slot = draw(st.sampled_from((0, 0x1F) if machine == "q35" else (0, 1)))
    guest = PciAddress(0, 0, slot, 0)
    _devices(root).append(_new_pci(_fresh_sources(domain, 1)[0], guest=guest))


def _m_hmat_value(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    initiator = _cpu_cell(draw, domain, root)
    target = str(draw(st.sampled_from(_cell_ids(domain))))
    others = [str(cell) for cell in _cell_ids(domain) if str(cell) != target]
    if not others or draw(st.booleans()):  # a bandwidth off whole MiB/s
        value = str(draw(st.integers(1, 10**6).filter(lambda v: v % 1024 != 0)))
        _link(root, "bandwidth", initiator=initiator, target=target, value=value)
        return
    low = draw(st.integers(1, 9))  # a unit of 1 ns, and a latency 65535+ of them
    _link(root, initiator=initiator, target=target, value=str(low))
    high = str(draw(st.integers(65535, 10**6).filter(lambda v: v % 10 != 0)))
    _link(root, initiator=initiator, target=draw(st.sampled_from(others)), value=high)


def _m_hmat_cache_levels(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    cell = draw(st.sampled_from(list(_numa(root).iterchildren("cell"))))
    initiator = _cpu_cell(draw, domain, root)
    for kind in ("latency", "bandwidth"):
        _link(root, kind, initiator=initiator, target=cell.get("id", "0"), value="1024")
    levels = draw(st.sampled_from(((2,), (3,), (1, 3), (1, 1), (1, 2))))
    shrinking = levels == (1, 2)
    for position, level in enumerate(levels):
        cache = etree.SubElement(cell, "cache", level=str(level), associativity="none")
        cache.set("policy", "none")
        size = 64 // (position + 1) if shrinking else 64
        etree.SubElement(cache, "size", value=str(size), unit="KiB")
        etree.SubElement(cache, "line", value="64", unit="B")


def _m_numatune_restrictive(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    cell = str(draw(st.sampled_from(_cell_ids(domain))))
    tune = etree.SubElement(root, "numatune")
    memory_mode = draw(st.sampled_from((None, "strict", "restrictive")))
    if memory_mode is not None:
        etree.SubElement(tune, "memory", mode=memory_mode, nodeset="0")
    other = "strict" if memory_mode == "restrictive" else "restrictive"
    etree.SubElement(tune, "memnode", cellid=cell, mode=other, nodeset="0")


_MUTATIONS: dict[str, _Mutation] = {
    "XML-MALFORMED": _m_xml_malformed,
    "XML-FORBIDDEN": _m_xml_forbidden,
    "XML-TOO-LARGE": _m_xml_too_large,
    "XML-ROOT": _m_xml_root,
    "DOMAIN-VCPU-SYNTAX": _m_vcpu_syntax,
    "NUMA-NO-CELLS": _m_numa_no_cells,
    "NUMA-CELL-ID-SYNTAX": _m_cell_id_syntax,
    "NUMA-CELL-ID-DUPLICATE": _m_cell_id_duplicate,
    "NUMA-CELL-ID-NONCONTIGUOUS": _m_cell_id_noncontiguous,
    "NUMA-TOO-MANY-CELLS": _m_too_many_cells,
    "NUMA-CPUS-SYNTAX": _m_cpus_syntax,
    "NUMA-CPUS-OVERLAP": _m_cpus_overlap,
    "NUMA-CPUS-OUT-OF-RANGE": _m_cpus_out_of_range,
    "NUMA-MEMORY-SYNTAX": _m_memory_syntax,
    "NUMA-NO-MEMORY": _m_numa_no_memory,
    "NUMA-DISTANCE-SYNTAX": _m_distance_syntax,
    "NUMA-DISTANCE-SIBLING-UNKNOWN": _m_distance_sibling_unknown,
    "NUMA-DISTANCE-VALUE": _m_distance_value,
    "HOSTDEV-ADDRESS-SYNTAX": _m_address_syntax,
    "HOSTDEV-SOURCE-DUPLICATE": _m_source_duplicate,
    "HOSTDEV-GUEST-ADDRESS-DUPLICATE": _m_guest_duplicate,
    "HOSTDEV-MULTIFUNCTION": _m_multifunction,
    "HOSTDEV-BUS-SLOT": _m_bus_slot,
    "HOSTDEV-ADDRESS-RESERVED": _m_address_reserved,
    "DEVICE-ALIAS-DUPLICATE": _m_alias_duplicate,
    "DEVICE-ALIAS-SYNTAX": _m_alias_syntax,
    "DEVICE-ALIAS-RESERVED": _m_alias_reserved,
    "GI-MISSING-FIELD": _m_gi_missing_field,
    "GI-NODE-SYNTAX": _m_gi_node_syntax,
    "GI-NO-NUMA": _m_gi_no_numa,
    "GI-NODE-UNKNOWN": _m_gi_node_unknown,
    "GI-DEVICE-UNKNOWN": _m_gi_device_unknown,
    "GI-DEVICE-NOT-PCI": _m_gi_not_pci,
    "GI-DUPLICATE": _m_gi_duplicate,
    "NUMA-CELL-ATTRIBUTE-SYNTAX": _m_cell_attribute_syntax,
    "MEMORY-BACKING-SYNTAX": _m_backing_syntax,
    "NUMATUNE-SYNTAX": _m_numatune_syntax,
    "NUMATUNE-CELL-UNKNOWN": _m_numatune_cell_unknown,
    "NUMATUNE-CELL-DUPLICATE": _m_numatune_cell_duplicate,
    "NUMATUNE-RESTRICTIVE": _m_numatune_restrictive,
    "HMAT-SYNTAX": _m_hmat_syntax,
    "HMAT-NODE-UNKNOWN": _m_hmat_node_unknown,
    "HMAT-INITIATOR-INVALID": _m_hmat_initiator_invalid,
    "HMAT-DUPLICATE": _m_hmat_duplicate,
    "HMAT-CACHE-UNKNOWN": _m_hmat_cache_unknown,
    "HMAT-CACHE-WITHOUT-LB": _m_hmat_cache_without_lb,
    "HMAT-VALUE": _m_hmat_value,
    "HMAT-CACHE-LEVELS": _m_hmat_cache_levels,
}

MUTATED_RULES: frozenset[str] = frozenset(_MUTATIONS)
"""Every rule :func:`invalid_documents` can break (the test suite holds it equal to the
catalogue's error rules)."""


@st.composite
def _invalid_documents(draw: st.DrawFn, rule: object) -> tuple[str, str]:
    if rule is not None:
        if not isinstance(rule, str) or rule not in catalogue():
            raise InvalidArgument(f"rule={rule!r} is not a rule id of reference/rules.toml")
        if catalogue()[rule].severity is not Severity.ERROR:
            raise InvalidArgument(f"rule={rule!r} is a warning: only error rules reject")
        if rule not in _MUTATIONS:
            raise InvalidArgument(f"rule={rule!r} has no mutation yet (a gi-conform bug)")
    errors = [r for r in catalogue() if r in _MUTATIONS]
    chosen = rule if isinstance(rule, str) else draw(st.sampled_from(errors))
    domain = draw(
        _topologies(
            min_cells=1,
            max_cells=8,
            min_hostdevs=0,
            max_hostdevs=4,
            max_vcpus=16,
            dialects=(Dialect.SEED, Dialect.LIBVIRT),
            # no drawn memory/numatune/HMAT: each mutation adds what it breaks itself
            extras=False,
        )
    )
    root = _tree(domain)
    post = _MUTATIONS[chosen](draw, domain, root)
    text = _render(root, draw(_variations(values_allowed=False)))
    return (post(text) if post is not None else text), chosen


def invalid_documents(rule: str | None = None) -> st.SearchStrategy[tuple[str, str]]:
    """``(xml_text, rule_id)``: a valid document with one mutation breaking one error rule.

    The validator reports ``rule_id`` and no other error for the text. ``rule`` picks one
    error rule of ``reference/rules.toml``; ``None`` draws among all of them.
    """
    return _invalid_documents(rule)


# ---------------------------------------------------------------------------------------
# Hostile inputs.

_ATTACKS: tuple[bytes, ...] = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>'
    b"<domain><name>&lol2;</name></domain>",
    b'<!DOCTYPE domain [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><domain><name>&xxe;</name>'
    b"</domain>",
    b'<!DOCTYPE domain [<!ENTITY % ext SYSTEM "http://127.0.0.1:1/x.dtd"> %ext;]><domain/>',
    b'<!DOCTYPE domain SYSTEM "http://127.0.0.1:1/domain.dtd"><domain/>',
    b"\xef\xbb\xbf  <!-- c --> <!DOCTYPE domain><domain/>",
    b"<?xml version='1.0'?>\n<?pi x?>\n<!DOCTYPE domain []><domain/>",
    b"<!ENTITY x 'y'><domain/>",
    b"<domain xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='/etc/passwd'"
    b" parse='text'/></domain>",
    b"<domain><name>&undefined;</name></domain>",
    b"<domain><name>&#0;</name></domain>",
    b"<domain><name>&#xD800;</name></domain>",
    "<?xml version='1.0' encoding='UTF-16'?><domain/>".encode("utf-16"),
    b"<?xml version='1.0' encoding='ISO-8859-1'?><domain><name>caf\xe9</name></domain>",
    b"<domain><![CDATA[<cpu><numa><cell id='0' memory='1'/></numa></cpu>]]></domain>",
    b"<domain><devices><hostdev mode='subsystem' type='pci'><source><address bus='0x06'"
    b" slot='0x12' function='0x1'/></source><acpi nodeset='0'/></hostdev></devices></domain>",
)
_HUGE = (
    "9" * 40,
    "18446744073709551616",
    "4294967296",
    "-" + "9" * 20,
    "0x" + "f" * 40,
    "1e999",
    "inf",
    "NaN",
    "0" * 500 + "1",
    "1" + "0" * 4400,
)
_HUGE_SLOTS = (
    "<domain><vcpu>{}</vcpu></domain>",
    "<domain><memory unit='KiB'>{}</memory><cpu><numa><cell id='0' memory='1'/></numa></cpu>"
    "</domain>",
    "<domain><vcpu>2</vcpu><cpu><numa><cell id='{}' cpus='0-1' memory='1'/></numa></cpu></domain>",
    "<domain><vcpu>2</vcpu><cpu><numa><cell id='0' cpus='{}' memory='1'/></numa></cpu></domain>",
    "<domain><vcpu>2</vcpu><cpu><numa><cell id='0' cpus='0-{}' memory='1'/></numa></cpu></domain>",
    "<domain><cpu><numa><cell id='0' memory='{}' unit='EiB'/></numa></cpu></domain>",
    "<domain><cpu><numa><cell id='0' memory='1'/></numa></cpu><devices><hostdev mode='subsystem'"
    " type='pci'><source><address bus='{}' slot='0' function='0'/></source>"
    "<acpi nodeset='0-{}'/></hostdev></devices></domain>",
    "<domain><cpu><numa><cell id='0' memory='1'/></numa></cpu><devices><acpi-generic-initiator>"
    "<pci-dev>x</pci-dev><numa-node>{}</numa-node></acpi-generic-initiator></devices></domain>",
)
_NAME_SLOTS = (
    "<domain><name>{}</name></domain>",
    "<domain type='{}'><name>x</name></domain>",
    "<domain><os><type arch='x86_64' machine='{}'>hvm</type></os></domain>",
    "<domain><cpu><numa><cell id='0' memory='1'/></numa></cpu><devices><hostdev mode='subsystem'"
    " type='pci'><source><address bus='1' slot='0' function='0'/></source><alias name='{}'/>"
    "<acpi nodeset='0'/></hostdev></devices></domain>",
    "<domain><cpu><numa><cell id='0' memory='1'/></numa></cpu><devices><hostdev mode='subsystem'"
    " type='pci'><source><address bus='1' slot='0' function='0'/></source><alias name='a'/>"
    "</hostdev><acpi-generic-initiator><alias name='{}'/><pci-dev>a</pci-dev>"
    "<numa-node>0</numa-node></acpi-generic-initiator></devices></domain>",
    "<domain><devices><hostdev mode='subsystem' type='usb'><source><vendor id='{}'/></source>"
    "</hostdev></devices></domain>",
)


def _attribute_safe(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")


@st.composite
def _truncated(draw: st.DrawFn) -> bytes:
    data = draw(domain_documents(max_cells=6, max_hostdevs=3)).encode("utf-8")
    return data[: draw(st.integers(0, max(len(data) - 1, 0)))]


@st.composite
def _corrupted(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(domain_documents(max_cells=6, max_hostdevs=3)).encode("utf-8"))
    for position, value in draw(
        st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), max_size=4)
    ):
        data[position] = value
    return bytes(data)


@st.composite
def _deep(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(200, 5000))
    tag = draw(st.sampled_from(("a", "cpu", "numa", "devices", "domain")))
    return ("<domain>" + f"<{tag}>" * depth + f"</{tag}>" * depth + "</domain>").encode()


@st.composite
def _huge_numbers(draw: st.DrawFn) -> bytes:
    template = draw(st.sampled_from(_HUGE_SLOTS))
    number = draw(st.one_of(st.sampled_from(_HUGE), st.integers(-(2**70), 2**70).map(str)))
    return template.replace("{}", number).encode("utf-8")


@st.composite
def _strange_names(draw: st.DrawFn) -> bytes:
    template = draw(st.sampled_from(_NAME_SLOTS))
    name = draw(st.text(max_size=40))
    if draw(st.booleans()):
        name = "".join(f"&#{ord(char)};" if ord(char) < 32 else char for char in name)
    return template.replace("{}", _attribute_safe(name)).encode("utf-8", "surrogatepass")


@st.composite
def _many_elements(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(129, 3000))
    what = draw(st.sampled_from(("cells", "hostdevs", "seeds")))
    if what == "cells":
        body = "".join(f"<cell id='{i}' cpus='{i}' memory='1'/>" for i in range(count))
        return f"<domain><vcpu>{count}</vcpu><cpu><numa>{body}</numa></cpu></domain>".encode()
    cells = "<cpu><numa><cell id='0' memory='1'/><cell id='1' memory='0'/></numa></cpu>"
    if what == "hostdevs":
        body = "".join(
            "<hostdev mode='subsystem' type='pci'><source>"
            f"<address domain='{i >> 8}' bus='{i & 255}' slot='0' function='0'/></source>"
            "<acpi nodeset='0-1'/></hostdev>"
            for i in range(count)
        )
    else:
        body = (
            "<hostdev mode='subsystem' type='pci'><source><address bus='1' slot='0'"
            " function='0'/></source><alias name='g'/></hostdev>"
        )
        body += "".join(
            f"<acpi-generic-initiator><pci-dev>g</pci-dev><numa-node>{i % 2}</numa-node>"
            "</acpi-generic-initiator>"
            for i in range(count)
        )
    return f"<domain>{cells}<devices>{body}</devices></domain>".encode()


def hostile_documents() -> st.SearchStrategy[bytes]:
    """Bytes meant to break a parser; a sound implementation refuses them cleanly.

    Truncated and corrupted valid documents, random bytes, DTD and entity attacks
    (billion laughs, external entities, XInclude), nesting deeper than any parser limit,
    numbers far past every range, non-ASCII and control characters in names and ids,
    other encodings, and thousands of elements. Some are valid documents: robustness
    properties check outcomes, not verdicts.
    """
    return st.one_of(
        st.sampled_from(_ATTACKS),
        _truncated(),
        _corrupted(),
        st.binary(max_size=512),
        _deep(),
        _huge_numbers(),
        _strange_names(),
        _many_elements(),
    )
