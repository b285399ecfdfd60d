"""What libvirt 12.8 places on PCI besides hostdevs and PCI controllers: each device's
connect kind and its step in libvirt's order, read from the document's placement tokens
(:attr:`Domain.other_pci`), and the slots q35's chipset step gives some of them.

libvirt's ``qemuDomainDeviceCalculatePCIConnectFlags`` gives a device's kind (PCIe where
the machine is, PCI only, or integrated: bus 0 itself) and ``qemuDomainAssignDevicePCISlots``
the order (``src/qemu/qemu_domain_address.c``); every rule here was measured with real
libvirt 12.8 (``tests/libvirt/test_placement_devices.py``). :mod:`gi_conform.pcitopology`
places them.
"""

from __future__ import annotations

from typing import NamedTuple

from gi_conform.model import Domain, HostdevKind, PciAddress

__all__ = [
    "INTEGRATED",
    "Endpoint",
    "chipset_devices",
    "chipset_reservations",
    "endpoint_kind",
    "other_endpoints",
]

_SCSI_UNITS = 7


def endpoint_kind(domain: Domain) -> str:
    """A PCIe device's connect kind on this machine: ``pcie`` under a PCIe root (q35,
    virt), else ``pci``."""
    return "pcie" if domain.pci_root_bus == "pcie.0" else "pci"


INTEGRATED = "integrated"
"""The connect kind of a device libvirt plugs into bus 0 itself (VIR_PCI_CONNECT_INTEGRATED:
a pvpanic, a virtio IOMMU), PCI or PCIe alike; it never gets a bus of its own."""
_ICH9_SLOT = 0x1B
_PCI_IOMMUS = frozenset({"virtio", "amd"})
"""IOMMUs that are PCI devices on bus 0 (measured: AMD's at 00:02.0 on q35, before a
pvpanic); Intel's and smmuv3 take no slot."""


def _tokens(tokens: tuple[str, ...], kind: str) -> list[str]:
    return [t.partition(":")[2] for t in tokens if t.partition(":")[0] == kind]


def _virtio_kind(model: str, kind: str) -> str:
    """A virtio device's connect kind: PCI only when transitional."""
    return "pci" if model == "virtio-transitional" else kind


def _explicit_root_slots(domain: Domain) -> set[int]:
    """Slots of bus 0 that explicit addresses take (devices, hostdevs, controllers)."""
    taken = set(domain.root_slots_taken)
    taken |= {
        h.guest_address.slot
        for h in domain.hostdevs
        if h.guest_address is not None and h.guest_address.bus == 0
    }
    taken |= {c.address.slot for c in domain.pci_controllers if c.address and c.address.bus == 0}
    return taken


def _q35(domain: Domain) -> bool:
    return domain.arch in ("x86_64", "i686") and domain.pci_root_bus == "pcie.0"


def _ich9_at_1b(domain: Domain) -> bool:
    """q35's chipset step puts the first ICH9 sound card without address at 00:1b.0, where
    real ICH9 has its HD audio, unless an explicit address takes that slot
    (qemuDomainValidateDevicePCISlotsQ35; measured)."""
    if not _q35(domain) or "ich9" not in _tokens(domain.other_pci or (), "sound"):
        return False
    return _ICH9_SLOT not in _explicit_root_slots(domain)


_USB2_FUNCTIONS = {"ich9-ehci1": 7, "ich9-uhci1": 0, "ich9-uhci2": 1, "ich9-uhci3": 2}
"""An ICH9 USB2 set (one controller index): the EHCI and its UHCI companions share a
slot, each at its function (qemuDomainAssignDevicePCISlots)."""
_USB2_SLOTS = (0x1D, 0x1A)
"""Where real ICH9 has its USB2 sets: q35's chipset step puts a set there (the slot its
UHCI1 takes) when free."""


def _indexed(model: str) -> tuple[str, int]:
    """A token's model and index (``MODEL@INDEX``; 0 when not said)."""
    name, _, index = model.partition("@")
    return name, int(index or 0)


def _usb2_sets(domain: Domain) -> dict[int, tuple[int, tuple[int, ...]]]:
    """q35's ICH9 USB2 sets the chipset step places: controller index -> (slot, the
    functions its members take), 00:1d first, then 00:1a, each when no explicit address
    takes it and the set has a UHCI1 (measured)."""
    if not _q35(domain):
        return {}
    taken = _explicit_root_slots(domain)
    members: dict[int, list[int]] = {}
    slots: dict[int, int] = {}
    for model, index in map(_indexed, _tokens(domain.other_pci or (), "usb")):
        if model not in _USB2_FUNCTIONS:
            continue
        members.setdefault(index, []).append(_USB2_FUNCTIONS[model])
        if model == "ich9-uhci1" and index not in slots:
            free = [slot for slot in _USB2_SLOTS if slot not in taken]
            if free:
                slots[index] = free[0]
                taken.add(free[0])
    return {index: (slot, tuple(members[index])) for index, slot in slots.items()}


class Endpoint(NamedTuple):
    """A device libvirt places: its element's tag (``controller`` for those libvirt adds),
    its connect kind, and the functions it and its companions take in its slot."""

    tag: str
    kind: str
    functions: tuple[int, ...] = (0,)


def other_endpoints(domain: Domain) -> tuple[list[Endpoint], list[Endpoint]] | None:
    """The devices libvirt places before the hostdevs and after them, in
    qemuDomainAssignDevicePCISlots' order (libvirt 12.8): filesystems, NICs, sound cards,
    controllers, virtio disks, NICs that are hostdevs | hostdevs, balloon, RNGs,
    watchdogs, videos, shared memory, virtio inputs, PCI serials, a virtio IOMMU, vsock,
    virtio memory, crypto, pvpanic. Its defaults included: q35's ``qemu-xhci``, the
    controllers it adds (SCSI for SCSI hostdevs, AHCI for a SATA disk, virtio-serial for
    a virtio channel), every x86 guest's virtio balloon (i440fx's PIIX3 USB and IDE,
    q35's SATA sit in the chipset's slots; aarch64 virt gets neither). None when one of
    them is not modelled."""
    tokens = domain.other_pci
    if tokens is None:
        return None
    kind = endpoint_kind(domain)
    x86 = domain.arch in ("x86_64", "i686")
    q35 = x86 and kind == "pcie"
    groups = _controller_groups(domain, kind, x86=x86)
    nets = _nic_kinds(tokens, kind, x86=x86)
    if groups is None or nets is None or _unmodelled(domain, tokens, x86=x86, q35=q35):
        return None
    before = [Endpoint("filesystem", _virtio_kind(m, kind)) for m in _tokens(tokens, "filesystem")]
    sounds = _tokens(tokens, "sound")
    if _ich9_at_1b(domain):
        sounds.remove("ich9")  # the chipset's (_reserved)
    before += [Endpoint("interface", k) for k in nets] + [Endpoint("sound", "pci")] * len(sounds)
    scsi = [h for h in domain.hostdevs if h.kind is HostdevKind.SCSI]
    scsi_kind = "pci" if x86 else kind
    if scsi:
        if _tokens(tokens, "scsi") or any(h.guest_address_type for h in scsi):
            return None  # which controller each uses: not modelled
        # libvirt adds a SCSI controller per seven hostdevs (units 0-6 of each) as it
        # reads them: LSI on x86, PCI only; virtio-scsi on aarch64 (measured)
        groups["scsi"] = [Endpoint("controller", scsi_kind)] * -(-len(scsi) // _SCSI_UNITS)
    if q35 and "usb" not in groups:
        groups["usb"] = [Endpoint("controller", kind)]  # the default qemu-xhci
    scsi_disks = _scsi_disk_controllers(tokens, len(groups.get("scsi", ())))
    if scsi_disks is None:
        return None
    if scsi_disks:  # LSI on x86, PCI only; virtio-scsi on aarch64 (measured)
        groups.setdefault("scsi", []).extend([Endpoint("controller", scsi_kind)] * scsi_disks)
    # then the controllers its common post-parse adds, each type a group of its own or
    # joining the document's: an AHCI for a SATA disk, a virtio-serial for a channel
    if "sata" in _tokens(tokens, "disk") and not q35 and "sata" not in groups:
        groups["sata"] = [Endpoint("controller", "pci")]
    if _tokens(tokens, "channel") and "" not in _tokens(tokens, "virtio-serial"):
        # index 0: first of its type
        groups.setdefault("virtio-serial", []).insert(0, Endpoint("controller", kind))
    before += [endpoint for group in groups.values() for endpoint in group]
    before += [
        Endpoint("disk", _virtio_kind(m, kind)) for m in _tokens(tokens, "disk") if "virtio" in m
    ]
    nic_hostdevs = _tokens(tokens, "interface").count("hostdev")
    before += [Endpoint("interface", kind)] * nic_hostdevs  # first of the hostdevs
    return before, _after_hostdevs(domain, tokens, kind, x86=x86)


def _after_hostdevs(
    domain: Domain, tokens: tuple[str, ...], kind: str, *, x86: bool
) -> list[Endpoint]:
    """The devices libvirt places after the hostdevs (see :func:`other_endpoints`)."""
    after: list[Endpoint] = []
    balloon = _tokens(tokens, "memballoon")
    if (not balloon and x86) or (balloon and balloon[0] != "none"):
        after.append(Endpoint("memballoon", _virtio_kind(balloon[0] if balloon else "", kind)))
    after += [Endpoint("rng", _virtio_kind(model, kind)) for model in _tokens(tokens, "rng")]
    after += [Endpoint("watchdog", "pci") for t in tokens if t == "watchdog:i6300esb"]  # PCI only
    if domain.video and not x86:
        after.append(Endpoint("video", kind))  # virtio-gpu; x86's primary has a chipset slot
    after += [Endpoint("shmem", "pci")] * len(_tokens(tokens, "shmem"))  # ivshmem: PCI only
    after += [Endpoint("input", kind) for t in tokens if t == "input:virtio"]
    after += [Endpoint("serial", "pci")] * len(_tokens(tokens, "serial"))  # pci-serial
    after += [Endpoint("iommu", INTEGRATED) for i in domain.iommus if i.model in _PCI_IOMMUS]
    after += [Endpoint("vsock", _virtio_kind(model, kind)) for model in _tokens(tokens, "vsock")]
    after += [Endpoint("memory", kind)] * len(_tokens(tokens, "memory"))
    after += [Endpoint("crypto", "pci")] * len(_tokens(tokens, "crypto"))  # PCI only in libvirt
    # pvpanic sits on bus 0; a panic without model is ISA on x86, pvpanic on aarch64
    panics = _tokens(tokens, "panic")
    after += [Endpoint("panic", INTEGRATED) for model in panics if model == "pvpanic" or not x86]
    return after


def _unmodelled(domain: Domain, tokens: tuple[str, ...], *, x86: bool, q35: bool) -> bool:
    """Whether libvirt adds or moves a device the reference does not model: a controller
    for a disk or USB device (an IDE or SCSI one, a USB controller where there is none),
    a watchdog other than i6300esb, a primary video whose chipset slot is taken."""
    usb = _tokens(tokens, "usb")
    usb_controller = x86 if not usb else "none" not in usb
    disks = {m for m in _tokens(tokens, "disk") if not m.startswith("scsi")}
    disks -= {"virtio", "virtio-transitional"}
    built_in = {"sata", "usb"} if q35 else {"ide", "usb", "sata"} if x86 else {"sata", "usb"}
    needs_usb = "usb" in disks or any(h.kind is HostdevKind.USB for h in domain.hostdevs)
    needs_usb = needs_usb or "usb-net" in _tokens(tokens, "interface")
    sata = _tokens(tokens, "sata")
    return (
        bool(disks - built_in)
        or (needs_usb and not usb_controller)
        or ("sata" in disks and bool(sata) and "" not in sata)  # an AHCI among others
        or any(t.startswith("watchdog:") and t != "watchdog:i6300esb" for t in tokens)
        or (x86 and domain.video and (1 if q35 else 2) in domain.root_slots_taken)
    )


_PCIE_NICS = frozenset({"virtio", "virtio-non-transitional", "e1000e", "igb"})
_PCI_NICS = frozenset(
    {
        "e1000",
        "rtl8139",
        "virtio-transitional",
        "ne2k_pci",
        "pcnet",
        "i82551",
        "i82557b",
        "i82559er",
        "vmxnet3",
    }
)


def _nic_kinds(tokens: tuple[str, ...], kind: str, *, x86: bool) -> list[str] | None:
    """The NICs, placed before every controller (measured: a q35 NIC without a model is
    libvirt's ``rtl8139``, PCI only, behind a pcie-to-pci-bridge; aarch64's is virtio;
    ``virtio``/``e1000e``/``igb`` take a root port; ``usb-net`` and a hostdev NIC take
    no slot here); None for another model."""
    found: list[str] = []
    for given in _tokens(tokens, "interface"):
        model = given or ("rtl8139" if x86 else "virtio")
        if model in ("usb-net", "hostdev"):
            continue
        if model not in _PCIE_NICS | _PCI_NICS:
            return None
        found.append(kind if model in _PCIE_NICS else "pci")
    return found


_CONTROLLER_TOKENS = frozenset({"usb", "ide", "sata", "scsi", "virtio-serial"})


_PCI_USB = frozenset({"ehci", "piix4-uhci", "pci-ohci", "vt82c686b-uhci"})


def _controller_groups(domain: Domain, kind: str, *, x86: bool) -> dict[str, list[Endpoint]] | None:
    """The document's own controllers, as libvirt keeps its list: grouped by type, the
    types in the order each first appears, document order within (measured: scsi, usb,
    scsi is placed scsi, scsi, usb); each group the controllers that take a slot
    (i440fx's PIIX3 USB and IDE, q35's first SATA and the ICH9 USB2 sets at 00:1d/00:1a
    are the chipset's; an ICH9 USB2 set shares one slot). None for one not modelled."""
    q35 = _q35(domain)
    groups: dict[str, list[Endpoint]] = {}
    usb2 = _usb2_members(domain)
    for token in domain.other_pci or ():
        name, _, model = token.partition(":")
        if name not in _CONTROLLER_TOKENS:
            continue
        group = groups.setdefault(name, [])
        if name == "usb":
            found = _usb_endpoint(model, kind, x86=x86, q35=q35, usb2=usb2)
            if found is None:
                return None
            group += found
        elif name == "ide":
            if q35 or not x86:
                return None
        elif name == "sata":
            if not (q35 and model == ""):
                group.append(Endpoint("controller", "pci"))  # an AHCI: PCI only
        elif name == "scsi":
            if _indexed(model)[0] != "virtio-scsi":
                return None
            group.append(Endpoint("controller", kind))
        else:
            group.append(Endpoint("controller", kind))  # virtio-serial
    return groups


def _scsi_disk_controllers(tokens: tuple[str, ...], present: int) -> int | None:
    """How many SCSI controllers libvirt adds for the SCSI disks (every index up to the
    highest a disk's name gives, seven units each; ``present``: those it added for SCSI
    hostdevs, indexes 0 up), after q35's default USB controller (measured); None when the
    document declares SCSI controllers the disks may not all use (not modelled)."""
    wanted = [_indexed(m)[1] + 1 for m in _tokens(tokens, "disk") if m.startswith("scsi")]
    if not wanted:
        return 0
    declared = {_indexed(m)[1] for m in _tokens(tokens, "scsi")}
    if declared:
        return 0 if set(range(max(wanted))) <= declared else None
    return max(0, max(wanted) - present)


def _usb2_members(domain: Domain) -> dict[int, tuple[int, ...]]:
    """The ICH9 USB2 sets libvirt places itself: controller index -> its members'
    functions, in document order (not those the chipset step places)."""
    chipset = _usb2_sets(domain)
    members: dict[int, tuple[int, ...]] = {}
    for model, index in map(_indexed, _tokens(domain.other_pci or (), "usb")):
        if model in _USB2_FUNCTIONS and index not in chipset:
            members[index] = (*members.get(index, ()), _USB2_FUNCTIONS[model])
    return members


def _usb_endpoint(
    token: str, kind: str, *, x86: bool, q35: bool, usb2: dict[int, tuple[int, ...]]
) -> list[Endpoint] | None:
    """A USB controller's place in its group: an xHCI is PCIe where the machine is, the
    others PCI only; an ICH9 USB2 set takes one slot, where its first member stands (its
    other members, and a set the chipset places, nothing more). None for one not
    modelled (Xen's)."""
    usb, index = _indexed(token)
    if usb in _USB2_FUNCTIONS:
        functions = usb2.pop(index, None)  # the set's first member brings them all
        return [Endpoint("controller", "pci", functions)] if functions else []
    if usb in ("qemu-xhci", "nec-xhci") or (usb == "" and (q35 or not x86)):
        return [Endpoint("controller", kind)]
    if usb in ("", "piix3-uhci") and x86 and not q35 and index == 0:
        return []  # PIIX3's, at 00:01.2
    if usb in _PCI_USB or usb in ("", "piix3-uhci"):
        return [Endpoint("controller", "pci")]
    return [] if usb == "none" else None


def chipset_devices(domain: Domain) -> list[tuple[str, PciAddress]]:
    """The devices q35's chipset step places (ICH9 audio, ICH9 USB2 sets)."""
    found = [("sound", PciAddress(0, 0, _ICH9_SLOT, 0))] if _ich9_at_1b(domain) else []
    for slot, functions in _usb2_sets(domain).values():
        found += [("controller", PciAddress(0, 0, slot, f)) for f in functions]
    return found


def chipset_reservations(domain: Domain) -> list[tuple[int, int, int]]:
    """(bus, slot, function) that q35's chipset step takes for other devices: ICH9 audio
    at 00:1b.0, ICH9 USB2 sets at 00:1d/00:1a (see :func:`chipset_devices`)."""
    return [(a.bus, a.slot, a.function) for _, a in chipset_devices(domain)]
