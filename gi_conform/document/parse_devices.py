"""The device elements the parser reads quietly: PCI controllers, IOMMUs, the slots other
devices take and the primary video. What they cannot read is libvirt's to judge, so they
report nothing (an unreadable value is left out), unlike :mod:`gi_conform.document.parse`.
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from gi_conform.model import SMMUV3_DRIVER_OPTIONS, Iommu, PciAddress, PciController
from gi_conform.units import c_uint

__all__ = [
    "OTHER_PCI_RANK",
    "PCI_LIMITS",
    "chipset_slots",
    "first_children",
    "has_video",
    "iommus",
    "other_pci_devices",
    "pci_controllers",
    "root_slots_taken",
    "source_line",
]

PCI_LIMITS = {"domain": 0xFFFF, "bus": 0xFF, "slot": 0x1F, "function": 0x7}


def pci_controllers(controllers: Sequence[etree._Element]) -> tuple[PciController, ...]:
    """PCI controllers with a readable index (others are libvirt's to judge), by index as
    libvirt keeps them (one index's duplicates in document order). Unreadable attributes
    are left out (None): the reference then leaves that choice to libvirt.
    ``controllers``: the ``<controller>`` elements in document order."""
    found: list[PciController] = []
    for element in controllers:
        index = _small_uint(element.get("index"))
        if element.get("type") != "pci" or index is None:
            continue
        kids = first_children(element)
        target = kids.get("target")
        address = kids.get("address")
        node = target.find("node") if target is not None else None
        placed = _quiet_pci_address(address) if address is not None else None
        found.append(
            PciController(
                index=index,
                model=element.get("model"),
                address=placed,
                bus_nr=_small_uint(target.get("busNr")) if target is not None else None,
                node=_small_uint(node.text) if node is not None else None,
                chassis=_small_uint(target.get("chassis")) if target is not None else None,
                port=_small_uint(target.get("port")) if target is not None else None,
                line=source_line(element),
                # an address that is no address (unreadable) carries no multifunction either
                multifunction=_on_off(
                    address.get("multifunction") if address is not None and placed else None
                ),
            )
        )
    return tuple(sorted(found, key=lambda controller: controller.index or 0))


def _on_off(value: str | None) -> bool | None:
    """libvirt's virTristateSwitch: ``on``/``off``, anything else not given."""
    return {"on": True, "off": False}.get(value or "")


def iommus(iommus: Sequence[etree._Element]) -> tuple[Iommu, ...]:
    """``<iommu>`` elements: the model, an smmuv3's ``pciBus`` and its passed-on options."""
    found: list[Iommu] = []
    for element in iommus:
        driver = element.find("driver")
        options = tuple(
            (name, value)
            for name in SMMUV3_DRIVER_OPTIONS
            if driver is not None and (value := driver.get(name)) is not None
        )
        found.append(
            Iommu(
                model=element.get("model"),
                pci_bus=_small_uint(driver.get("pciBus")) if driver is not None else None,
                options=options,
                line=source_line(element),
            )
        )
    return tuple(found)


_OWN_ADDRESS_DEVICES = frozenset({"hostdev", "controller", "acpi-generic-initiator"})


def chipset_slots(arch: str, machine: str | None) -> frozenset[int]:
    """Bus-0 slots an x86 machine's chipset holds (q35's 0x1f, i440fx's PIIX3 at 1): libvirt
    reserves them whatever the document says, so a device libvirt writes there (q35's SATA
    at 1f.2, PIIX3's USB at 1.2) takes no slot of its own."""
    if arch not in ("x86_64", "i686"):
        return frozenset()
    return frozenset({0x1F}) if machine is not None and "q35" in machine else frozenset({1})


def root_slots_taken(
    by_tag: dict[str, list[etree._Element]], chipset: frozenset[int] = frozenset()
) -> tuple[int, ...]:
    """Slots of bus 0 other devices take by an explicit ``<address type='pci'>``, but for
    the ``chipset``'s own (:func:`chipset_slots`)."""
    slots: set[int] = set()
    for tag, elements in by_tag.items():
        if tag in _OWN_ADDRESS_DEVICES and tag != "controller":
            continue
        for element in elements:
            if tag == "controller" and element.get("type") == "pci":
                continue
            address = element.find("address")
            if address is None or address.get("type") != "pci":
                continue
            parsed = _quiet_pci_address(address)
            if parsed is not None and parsed.bus == 0 and parsed.slot not in chipset:
                slots.add(parsed.slot)
    return tuple(sorted(slots))


_NO_SLOT_TAGS = frozenset(
    {
        "emulator",
        "graphics",
        "audio",
        "hub",
        "redirdev",
        "smartcard",
        "tpm",
        "iommu",
        "lease",
        "parallel",
        "nvram",
        "acpi-generic-initiator",
        "hostdev",
    }
)
"""Device elements that take no PCI slot libvirt chooses (a hostdev's is modelled from
the hostdev itself, a virtio or AMD IOMMU's from :attr:`Domain.iommus`; libvirt 12.8's
qemuDomainDeviceCalculatePCIConnectFlags gives TPMs, hubs, redirdevs, smartcards and
audio backends no PCI connection)."""
_NO_SLOT_CONTROLLERS = frozenset({"pci", "fdc", "ccid", "xenbus", "isa"})
_NO_SLOT_DISK_BUSES = frozenset({"sd", "fdc"})
_NO_SLOT_WATCHDOGS = frozenset({"itco", "ib700", "diag288"})
_PCI_SOUNDS = frozenset({"ich9", "ich6", "ac97", "es1370"})
_NO_SLOT_SOUNDS = frozenset({"sb16", "pcspk", "usb"})
_VIRTIO_MODELS = {"": "virtio", "virtio": "virtio", "virtio-non-transitional": "virtio"}
"""A virtio device's model -> its token's model: transitional ones are PCI only."""
_NO_SLOT_PANICS = frozenset({"isa", "hyperv", "pseries", "s390"})
_PCI_MEMORY = frozenset({"virtio-mem", "virtio-pmem"})


def _virtio(kind: str, model: str | None) -> str | None:
    """``kind:virtio`` (PCIe where the machine is) or ``kind:virtio-transitional`` (PCI
    only); None for another model."""
    model = model or ""
    if model == "virtio-transitional":
        return f"{kind}:{model}"
    return f"{kind}:virtio" if model in _VIRTIO_MODELS else None


def _other_pci_token(tag: str, element: etree._Element, first: bool) -> str | None:
    """The placement token of one device element without a PCI address ("" for none
    needed), or None when the reference does not model where libvirt puts it. ``first``:
    the element is the first of its tag."""
    if tag in _NO_SLOT_TAGS:
        return ""
    if tag in ("channel", "console"):
        return _channel_token(element)
    if tag in ("controller", "disk", "interface"):
        return _connected_token(tag, element)
    if tag == "memballoon":
        balloon = element.get("model") or ""
        return None if balloon == "xen" else f"memballoon:{balloon}"
    if tag == "rng":
        token = _virtio("rng", element.get("model"))
        return "rng" if token == "rng:virtio" else token
    if tag == "watchdog":
        watchdog = element.get("model") or ""
        return "" if watchdog in _NO_SLOT_WATCHDOGS else f"watchdog:{watchdog}"
    if tag == "input":
        if element.get("bus") != "virtio":
            return ""
        model = element.get("model") or ""
        return "input:virtio" if model in _VIRTIO_MODELS else None
    if tag == "serial":
        target = element.find("target")
        kind = target.get("type") if target is not None else None
        if kind == "pci-serial":
            return "serial:pci"
        return "" if kind in (None, "isa-serial", "system-serial") else None
    return _more_token(tag, element, first)


def _more_token(tag: str, element: etree._Element, first: bool) -> str | None:
    """Sound cards, filesystems, shared memory, vsock, panic, memory devices, crypto and
    videos (see :func:`_other_pci_token`)."""
    model = element.get("model") or ""
    if tag == "sound":
        return (
            f"sound:{model}" if model in _PCI_SOUNDS else "" if model in _NO_SLOT_SOUNDS else None
        )
    if tag == "filesystem":
        driver = element.find("driver")
        fs_driver = driver.get("type") if driver is not None else None
        if fs_driver not in (None, "path", "handle", "virtiofs"):
            return None  # loop, nbd, ploop: no QEMU device libvirt places
        return _virtio("filesystem", model)
    if tag == "shmem":
        return "shmem"
    if tag == "vsock":
        return _virtio("vsock", model)
    if tag == "panic":
        return (
            ""
            if model in _NO_SLOT_PANICS
            else f"panic:{model}"
            if model in ("", "pvpanic")
            else None
        )
    if tag == "memory":
        return "memory:virtio" if model in _PCI_MEMORY else ""
    if tag == "crypto":
        return "crypto" if model == "virtio" else None
    if tag == "video":
        # the primary is Domain.video; another video, or a ramfb primary (no PCI device,
        # no chipset slot), is not modelled
        kind = element.find("model")
        video = kind.get("type") if kind is not None else None
        return "" if first and video != "ramfb" else "" if video == "none" else None
    return None


def _channel_token(element: etree._Element) -> str | None:
    """A virtio channel or console needs a virtio-serial controller, which libvirt adds
    when there is none (index 0, or the one its address names: not modelled)."""
    kids = first_children(element)
    target = kids.get("target")
    if target is None or target.get("type") != "virtio":
        return ""
    address = kids.get("address")
    controller = address.get("controller") if address is not None else None
    if controller is not None and _small_uint(controller) != 0:
        return None  # libvirt adds the controller the address names
    return "channel:virtio"


def _disk_index(name: str | None) -> int | None:
    """libvirt's virDiskNameToIndex for ``sdX``: ``sda`` 0, ``sdz`` 25, ``sdaa`` 26."""
    if name is None or not name.startswith("sd") or len(name) < 3:
        return None
    index = 0
    for letter in name[2:]:
        if not "a" <= letter <= "z":
            return None
        index = index * 26 + ord(letter) - ord("a") + 1
    return index - 1


def _connected_token(tag: str, element: etree._Element) -> str | None:
    """A controller's, disk's or NIC's token (see :func:`_other_pci_token`)."""
    kids = first_children(element)
    if tag == "controller":
        kind = element.get("type") or ""
        if kind in _NO_SLOT_CONTROLLERS:
            return ""
        if kind == "sata":
            index = _small_uint(element.get("index"))
            return None if index is None else f"sata:{index or ''}"
        if kind in ("usb", "scsi"):  # an index: which USB2 set, which SCSI disks' controller
            index = _small_uint(element.get("index"))
            suffix = f"@{index}" if index else ""
            return None if index is None else f"{kind}:{element.get('model') or ''}{suffix}"
        if kind == "ide":
            return f"{kind}:{element.get('model') or ''}"
        if kind != "virtio-serial" or (element.get("model") or "") not in _VIRTIO_MODELS:
            return None
        index = _small_uint(element.get("index"))
        return None if index is None else f"virtio-serial:{index}" if index else "virtio-serial"
    if tag == "disk":
        target = kids.get("target")
        bus = target.get("bus") if target is not None else None
        if bus == "virtio":
            return _virtio("disk", element.get("model"))
        if bus in ("sata", "ide", "usb"):
            return f"disk:{bus}"  # they need a controller, built in or not
        if bus == "scsi":  # its controller: seven units each, by the target's name
            index = _disk_index(target.get("dev") if target is not None else None)
            return None if index is None else "disk:scsi" + (f"@{index // 7}" if index > 6 else "")
        return "" if bus in _NO_SLOT_DISK_BUSES else None
    if element.get("type") == "hostdev":
        source = kids.get("source")
        address = source.find("address") if source is not None else None
        source_type = address.get("type") if address is not None else None
        # a PCI hostdev in libvirt's hostdev list (before the <hostdev> elements); USB: none
        return {"pci": "interface:hostdev", "usb": ""}.get(source_type or "")
    model = kids.get("model")
    return f"interface:{(model.get('type') or '') if model is not None else ''}"


OTHER_PCI_RANK = {
    "filesystem": -3,
    "interface": -2,
    "sound": -1,
    "disk": 1,
    "memballoon": 2,
    "rng": 3,
    "watchdog": 4,
    "shmem": 6,
    "input": 7,
    "serial": 8,
    "vsock": 10,
    "memory": 11,
    "crypto": 12,
    "panic": 13,
    "channel": 14,
}
"""Each token kind's step in libvirt 12.8's placement order (qemuDomainAssignDevicePCISlots:
filesystems, NICs, sound cards, controllers (0), virtio disks, hostdevs, balloon, RNGs,
watchdogs, videos, shared memory, inputs, serials, IOMMU, vsock, memory, crypto, panic)."""


def other_pci_devices(by_tag: dict[str, list[etree._Element]]) -> tuple[str, ...] | None:
    """The devices other than hostdevs and PCI controllers that libvirt places on PCI
    itself (no ``<address>``), as tokens in document order per element
    (``filesystem:MODEL``, ``interface:MODEL``, ``sound:MODEL``, ``usb:MODEL[@INDEX]``,
    ``scsi:MODEL[@INDEX]``, ``ide:``, ``sata:INDEX`` (empty for 0),
    ``virtio-serial[:INDEX]``, ``disk:MODEL`` (``disk:scsi[@CONTROLLER]``),
    ``memballoon:MODEL``, ``rng[:MODEL]``, ``watchdog:MODEL``, ``shmem``, ``input:virtio``,
    ``serial:pci``, ``vsock:MODEL``, ``memory:virtio``, ``crypto``, ``panic:MODEL``,
    ``channel:virtio`` for a virtio channel or console; a virtio MODEL is ``virtio`` or
    ``virtio-transitional``); None when one of them is a device whose placement the
    reference does not model (a second video, an ICH7 sound card, ...) or sits by address
    on a bus other than 0: then libvirt's placement of every addressless device is left
    unmodelled."""
    tokens: list[str] = []
    for tag, elements in by_tag.items():
        for position, element in enumerate(elements):
            address = element.find("address")
            own = tag == "hostdev" or (tag == "controller" and element.get("type") == "pci")
            if address is not None and not own and address.get("type") == "pci":
                parsed = _quiet_pci_address(address)
                if parsed is None or parsed.bus != 0 or tag == "iommu":
                    return None  # an addressed IOMMU: Domain.iommus does not say which
                continue  # its slot of bus 0 is in root_slots_taken
            if address is not None and tag not in ("hostdev", "controller", "channel", "console"):
                continue  # a drive, USB, ... address: no PCI slot
            token = _other_pci_token(tag, element, position == 0)
            if token is None:
                return None
            if token:
                tokens.append(token)
    # libvirt's order between kinds is its own; only document order inside a kind counts
    return tuple(sorted(tokens, key=lambda t: OTHER_PCI_RANK.get(t.partition(":")[0], 0)))


def has_video(by_tag: dict[str, list[etree._Element]]) -> bool:
    """libvirt gives a domain a primary video device for ``<video>`` (model not ``none``),
    or for ``<graphics>`` without any ``<video>``."""
    videos = by_tag.get("video")
    if not videos:
        return "graphics" in by_tag
    model = videos[0].find("model")
    return model is None or model.get("type") != "none"


def _small_uint(raw: str | None) -> int | None:
    """A decimal or C-style unsigned integer below 2**16, else None."""
    if raw is None:
        return None
    try:
        value = c_uint(raw.strip())
    except ValueError:
        return None
    return value if value < 1 << 16 else None


def _quiet_pci_address(element: etree._Element) -> PciAddress | None:
    """A PCI address whose every field reads and is in range, else None (no report). An
    absent field is 0, as libvirt reads a controller's or other device's partial address
    (``<address type='pci' bus='0x01'/>``: slot 0 of bus 1)."""
    values: dict[str, int] = {}
    for name, limit in PCI_LIMITS.items():
        raw = element.get(name)
        try:
            value = c_uint(raw) if raw is not None else 0
        except ValueError:
            return None
        if value > limit:
            return None
        values[name] = value
    return PciAddress(**values)


def first_children(element: etree._Element) -> dict[str, etree._Element]:
    """Each child tag's first element, as ``element.find(tag)`` gives it, from one walk
    over the children instead of one search per lookup."""
    found: dict[str, etree._Element] = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and tag not in found:
            found[tag] = child
    return found


def source_line(element: etree._Element) -> int:
    """The element's line in the document, 0 when lxml does not know it."""
    line = element.sourceline
    return line if isinstance(line, int) else 0
