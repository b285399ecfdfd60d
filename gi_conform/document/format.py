"""The canonical XML formatter: the model written back as libvirt writes domain XML.

Single-quoted attributes, two-space indentation, libvirt's element order, and both
dialects kept as written: seed elements stay elements, nodesets stay nodesets. Only what
the model holds is written, so ``fmt`` is a projection: ``fmt(parse(fmt(parse(x))))``
equals ``fmt(parse(x))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gi_conform.bitmap import format_bitmap
from gi_conform.model import (
    Cell,
    Domain,
    Hostdev,
    HostdevKind,
    Initiator,
    Interconnect,
    Iommu,
    MdevSource,
    MemoryBacking,
    Numatune,
    PciAddress,
    PciController,
    ScsiSource,
    UsbSource,
)

__all__ = ["format_xml"]


@dataclass
class _Node:
    tag: str
    attrs: list[tuple[str, str | None]] = field(default_factory=list)
    children: list[_Node] = field(default_factory=list)
    text: str | None = None

    def add(self, tag: str, *attrs: tuple[str, str | None], text: str | None = None) -> _Node:
        child = _Node(tag, list(attrs), text=text)
        self.children.append(child)
        return child


def _escape(text: str, *, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\r", "&#13;")  # a raw CR would come back as a newline
    if attribute:
        text = text.replace("'", "&apos;").replace("\n", "&#10;").replace("\t", "&#9;")
    return text


def _write(node: _Node, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    attrs = "".join(
        f" {name}='{_escape(value, attribute=True)}'"
        for name, value in node.attrs
        if value is not None
    )
    if node.text is not None:
        out.append(f"{pad}<{node.tag}{attrs}>{_escape(node.text)}</{node.tag}>\n")
    elif node.children:
        out.append(f"{pad}<{node.tag}{attrs}>\n")
        for child in node.children:
            _write(child, depth + 1, out)
        out.append(f"{pad}</{node.tag}>\n")
    else:
        out.append(f"{pad}<{node.tag}{attrs}/>\n")


def _kib(size: int) -> str:
    return str(size // 1024)


def _pci_attrs(address: PciAddress) -> list[tuple[str, str | None]]:
    return [
        ("domain", f"0x{address.domain:04x}"),
        ("bus", f"0x{address.bus:02x}"),
        ("slot", f"0x{address.slot:02x}"),
        ("function", f"0x{address.function:x}"),
    ]


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("yes" if value else "no")


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


def _size(parent: _Node, tag: str, size: int | None) -> None:
    if size is None:
        return
    if size % 1024 == 0:
        parent.add(tag, ("value", str(size // 1024)), ("unit", "KiB"))
    else:
        parent.add(tag, ("value", str(size)), ("unit", "B"))


def _cell(numa: _Node, cell: Cell) -> None:
    node = numa.add(
        "cell",
        ("id", None if cell.id is None else str(cell.id)),
        ("cpus", format_bitmap(cell.cpus) if cell.cpus else None),
        ("memory", None if cell.memory is None else _kib(cell.memory)),
        ("unit", "KiB"),
        ("memAccess", cell.mem_access),
        ("discard", _yes_no(cell.discard)),
    )
    if cell.distances:
        distances = node.add("distances")
        for sibling, value in cell.distances:
            distances.add("sibling", ("id", str(sibling)), ("value", str(value)))
    for cache in cell.caches:
        element = node.add(
            "cache",
            ("level", _text(cache.level)),
            ("associativity", cache.associativity),
            ("policy", cache.policy),
        )
        _size(element, "size", cache.size)
        _size(element, "line", cache.line_size)


def _interconnects(numa: _Node, links: tuple[Interconnect, ...]) -> None:
    if not links:
        return
    container = numa.add("interconnects")
    for link in links:
        container.add(
            link.kind,
            ("initiator", _text(link.initiator)),
            ("target", _text(link.target)),
            ("cache", str(link.cache) if link.cache else None),
            ("type", link.type),
            ("value", _text(link.value)),
            ("unit", "KiB" if link.kind == "bandwidth" else None),
        )


def _memory_backing(root: _Node, backing: MemoryBacking | None) -> None:
    if backing is None:
        return
    node = root.add("memoryBacking")
    if backing.hugepages:
        pages = node.add("hugepages")
        for page in backing.pages:
            pages.add(
                "page",
                ("size", _text(page.size)),
                ("unit", "b" if page.size is not None else None),
                ("nodeset", format_bitmap(page.nodeset) if page.nodeset is not None else None),
            )
    if backing.source is not None:
        node.add("source", ("type", backing.source))
    if backing.access is not None:
        node.add("access", ("mode", backing.access))
    if backing.allocation_immediate or backing.allocation_threads is not None:
        node.add(
            "allocation",
            ("mode", "immediate" if backing.allocation_immediate else None),
            ("threads", _text(backing.allocation_threads)),
        )
    if backing.discard:
        node.add("discard")


def _nodeset(nodes: tuple[int, ...] | None, text: str | None) -> str | None:
    """A host nodeset, or the text it was written as when it could not be read."""
    return format_bitmap(nodes) if nodes else text


def _numatune(root: _Node, tune: Numatune | None) -> None:
    if tune is None:
        return
    node = root.add("numatune")
    if tune.has_memory:
        node.add(
            "memory",
            ("mode", tune.mode),
            ("nodeset", _nodeset(tune.nodeset, tune.nodeset_text)),
            ("placement", "auto" if tune.placement_auto else None),
        )
    for memnode in tune.memnodes:
        node.add(
            "memnode",
            ("cellid", _text(memnode.cell)),
            ("mode", memnode.mode),
            ("nodeset", _nodeset(memnode.nodeset, memnode.nodeset_text)),
        )


def _controller(devices: _Node, controller: PciController) -> None:
    node = devices.add(
        "controller",
        ("type", "pci"),
        ("index", None if controller.index is None else str(controller.index)),
        ("model", controller.model),
    )
    target_attrs = [
        (name, None if value is None else str(value))
        for name, value in (
            ("chassis", controller.chassis),
            ("port", controller.port),
            ("busNr", controller.bus_nr),
        )
    ]
    if any(value is not None for _, value in target_attrs) or controller.node is not None:
        target = node.add("target", *target_attrs)
        if controller.node is not None:
            target.add("node", text=str(controller.node))
    if controller.address is not None:
        multifunction = controller.multifunction
        node.add(
            "address",
            ("type", "pci"),
            *_pci_attrs(controller.address),
            (
                "multifunction",
                None if multifunction is None else ("on" if multifunction else "off"),
            ),
        )


def _iommu(devices: _Node, iommu: Iommu) -> None:
    node = devices.add("iommu", ("model", iommu.model))
    if iommu.pci_bus is not None or iommu.options:
        bus = None if iommu.pci_bus is None else str(iommu.pci_bus)
        node.add("driver", ("pciBus", bus), *iommu.options)


def _hostdev(devices: _Node, hostdev: Hostdev) -> None:
    managed = None if hostdev.managed is None else ("yes" if hostdev.managed else "no")
    attrs: list[tuple[str, str | None]] = [
        ("mode", "subsystem"),
        ("type", hostdev.kind.value),
        ("managed", managed),
    ]
    if hostdev.kind is HostdevKind.MDEV:
        attrs.append(("model", "vfio-pci"))
    attrs.append(("display", _on_off(hostdev.display)))
    attrs.append(("ramfb", _on_off(hostdev.ramfb)))
    node = devices.add("hostdev", *attrs)
    source = node.add("source")
    match hostdev.source:
        case PciAddress() as address:
            source.add("address", *_pci_attrs(address))
        case MdevSource(uuid=uuid):
            source.add("address", ("uuid", uuid))
        case UsbSource() as usb:
            if usb.vendor is not None:
                source.add("vendor", ("id", usb.vendor))
            if usb.product is not None:
                source.add("product", ("id", usb.product))
            if usb.bus is not None or usb.device is not None:
                source.add("address", ("bus", usb.bus), ("device", usb.device))
        case ScsiSource() as scsi:
            source.add("adapter", ("name", scsi.adapter))
            source.add("address", ("bus", scsi.bus), ("target", scsi.target), ("unit", scsi.unit))
        case None if hostdev.invalid_source is not None:
            source.add("address", *hostdev.invalid_source)
        case None:
            pass
    _hostdev_tail(node, hostdev)


def _on_off(value: bool | None) -> str | None:
    return None if value is None else ("on" if value else "off")


def _hostdev_tail(node: _Node, hostdev: Hostdev) -> None:
    """What follows ``<source>``: alias, driver, acpi and the guest address."""
    if hostdev.alias_given:
        node.add("alias", ("name", hostdev.alias))
    if hostdev.iommufd is not None:
        node.add("driver", ("iommufd", "yes" if hostdev.iommufd else "no"))
    if hostdev.nodeset is not None:
        node.add("acpi", ("nodeset", format_bitmap(hostdev.nodeset)))
    _guest_address(node, hostdev)


def _guest_address(node: _Node, hostdev: Hostdev) -> None:
    if hostdev.guest_address is not None:
        address = node.add(
            "address",
            ("type", "pci"),
            *_pci_attrs(hostdev.guest_address),
            ("multifunction", "on" if hostdev.multifunction else None),
        )
    elif hostdev.guest_address_type is not None:
        address = node.add("address", ("type", hostdev.guest_address_type))
    elif hostdev.zpci is not None:
        address = node.add("address", ("type", "pci"))  # an empty one: libvirt places it
    else:
        return
    if hostdev.zpci is not None:
        address.add("zpci", *hostdev.zpci)


def _initiator(devices: _Node, initiator: Initiator) -> None:
    node = devices.add("acpi-generic-initiator")
    if initiator.alias_given:
        node.add("alias", ("name", initiator.id))
    if initiator.device is not None:
        node.add("pci-dev", text=initiator.device)
    if initiator.node is not None:
        node.add("numa-node", text=str(initiator.node))


_UEFI_CODE = {"aarch64": "/usr/share/AAVMF/AAVMF_CODE.fd"}
"""The UEFI code image a ``pflash`` loader names (Debian's paths, as KubeVirt writes them);
OVMF's for every other architecture."""


def format_xml(domain: Domain) -> str:
    """The canonical libvirt-style text of a domain model."""
    root = _Node("domain", [("type", domain.domain_type)])
    root.add("name", text=domain.name)
    if domain.uuid is not None:
        root.add("uuid", text=domain.uuid)
    if domain.memory is not None:
        root.add("memory", ("unit", "KiB"), text=_kib(domain.memory))
    _memory_backing(root, domain.memory_backing)
    if domain.vcpus is not None:
        root.add("vcpu", ("placement", "static"), text=str(domain.vcpus))
    _numatune(root, domain.numatune)
    os = root.add("os")
    os.add("type", ("arch", domain.arch), ("machine", domain.machine), text="hvm")
    if domain.uefi:
        os.add(
            "loader",
            ("readonly", "yes"),
            ("type", "pflash"),
            text=_UEFI_CODE.get(domain.arch, "/usr/share/OVMF/OVMF_CODE.fd"),
        )
    if domain.acpi is not None:
        features = root.add("features")
        if domain.acpi:
            features.add("acpi")
    if domain.numa:
        numa = root.add("cpu").add("numa")
        for cell in domain.cells:
            _cell(numa, cell)
        _interconnects(numa, domain.interconnects)
    if domain.iommufd is not None:
        root.add(
            "iommufd",
            ("enabled", "yes" if domain.iommufd else "no"),
            ("fdgroup", domain.iommufd_fdgroup),
        )
    _devices(root.add("devices"), domain)
    out: list[str] = []
    _write(root, 0, out)
    return "".join(out)


def _other_pci(devices: _Node, tokens: tuple[str, ...] | None) -> None:
    """Elements that parse back to the placement tokens (an ICH7 sound card for None: a
    device whose placement is not modelled)."""
    if tokens is None:
        devices.add("sound", ("model", "ich7"))
        return
    for number, token in enumerate(tokens):
        kind, _, model = token.partition(":")
        transitional = ("model", model if model == "virtio-transitional" else None)
        if kind in ("usb", "scsi", "ide"):
            model, _, index = model.partition("@")
            devices.add(
                "controller", ("type", kind), ("index", index or "0"), ("model", model or None)
            )
        elif kind in ("sata", "virtio-serial"):
            devices.add("controller", ("type", kind), ("index", model or "0"))
        elif kind == "channel":
            channel = devices.add("channel", ("type", "unix"))
            channel.add("target", ("type", "virtio"), ("name", f"org.example.channel{number}"))
        elif kind == "disk":
            disk = devices.add("disk", ("type", "file"), ("device", "disk"), transitional)
            disk.add("source", ("file", "/var/lib/libvirt/images/guest.qcow2"))
            bus = "virtio" if model == "virtio-transitional" else model
            name = {"virtio": "vda", "ide": "hda", "usb": "sdb"}.get(model, "sda")
            if model.startswith("scsi"):  # its controller index: a name with 7 units each
                bus, _, controller = model.partition("@")
                name = "sd" + _disk_letters(7 * int(controller or 0))
            disk.add("target", ("dev", "vdb" if bus == "virtio" != model else name), ("bus", bus))
        elif kind in ("memballoon", "watchdog", "sound", "panic"):
            devices.add(kind, ("model", model or None))
        elif kind == "rng":
            devices.add("rng", ("model", model or "virtio")).add(
                "backend", ("model", "random"), text="/dev/urandom"
            )
        elif kind == "interface":
            _other_nic(devices, model, number)
        elif kind == "input":
            devices.add("input", ("type", "tablet"), ("bus", "virtio"))
        else:
            _other_device(devices, kind, transitional, number)


def _disk_letters(index: int) -> str:
    """``sdX``'s letters for disk index ``index`` (0 ``a``, 25 ``z``, 26 ``aa``)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def _other_nic(devices: _Node, model: str, number: int) -> None:
    if model == "hostdev":
        nic = devices.add("interface", ("type", "hostdev"), ("managed", "yes"))
        address = PciAddress(0, 0xF0 + number % 16, 0, 0)  # a host address of its own
        nic.add("source").add("address", ("type", "pci"), *_pci_attrs(address))
        return
    nic = devices.add("interface", ("type", "user"))
    if model:
        nic.add("model", ("type", model))


def _other_device(
    devices: _Node, kind: str, transitional: tuple[str, str | None], number: int
) -> None:
    """Filesystems, shared memory, vsock, serials, memory devices and crypto."""
    if kind == "filesystem":
        fs = devices.add(
            "filesystem", ("type", "mount"), ("accessmode", "passthrough"), transitional
        )
        fs.add("source", ("dir", "/srv"))
        fs.add("target", ("dir", f"share{number}"))
    elif kind == "shmem":
        shmem = devices.add("shmem", ("name", f"shmem{number}"))
        shmem.add("model", ("type", "ivshmem-plain"))
        shmem.add("size", ("unit", "M"), text="4")
    elif kind == "vsock":
        devices.add("vsock", ("model", transitional[1] or "virtio")).add("cid", ("auto", "yes"))
    elif kind == "serial":
        devices.add("serial", ("type", "pty")).add("target", ("type", "pci-serial"))
    elif kind == "memory":
        target = devices.add("memory", ("model", "virtio-mem")).add("target")
        target.add("size", ("unit", "KiB"), text="1048576")
        target.add("node", text="0")
        target.add("block", ("unit", "KiB"), text="2048")
        target.add("requested", ("unit", "KiB"), text="0")
    elif kind == "crypto":
        crypto = devices.add("crypto", ("model", "virtio"), ("type", "qemu"))
        crypto.add("backend", ("model", "builtin"), ("queues", "1"))


def _devices(devices: _Node, domain: Domain) -> None:
    for controller in domain.pci_controllers:
        _controller(devices, controller)
    for hostdev in domain.hostdevs:
        _hostdev(devices, hostdev)
    for initiator in domain.initiators:
        _initiator(devices, initiator)
    for iommu in domain.iommus:
        _iommu(devices, iommu)
    _other_pci(devices, domain.other_pci)
    if domain.graphics:
        devices.add("graphics", ("type", "vnc"))
    if domain.video:
        devices.add("video")
    elif domain.graphics:  # else libvirt (and the parser) give <graphics> a primary video
        devices.add("video").add("model", ("type", "none"))
    for slot in domain.root_slots_taken:
        # the model keeps only that some other device takes the slot: an RNG stands for it
        rng = devices.add("rng", ("model", "virtio"))
        rng.add("backend", ("model", "random"), text="/dev/urandom")
        rng.add("address", ("type", "pci"), *_pci_attrs(PciAddress(0, 0, slot, 0)))
