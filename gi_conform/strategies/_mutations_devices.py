"""Mutations for the error rules about devices: one mutation per rule.

Host-device addresses, sources, guest slots, multifunction, buses and reserved slots,
device aliases, and generic initiators in both dialects (missing fields, node syntax,
unknown nodes and devices, non-PCI devices, duplicates, no NUMA). Each function breaks
exactly its rule and no other error rule; the table mapping rule ids to mutations is in
``_mutations``.
"""

from __future__ import annotations

from hypothesis import strategies as st
from lxml import etree

from gi_conform.bitmap import format_bitmap
from gi_conform.document.parse import MAX_NODE
from gi_conform.model import Domain, Hostdev, HostdevKind, PciAddress, ScsiSource, UsbSource
from gi_conform.semantics import initiator_pairs
from gi_conform.strategies._mutation_helpers import (
    _cell_ids,
    _devices,
    _fresh_name,
    _fresh_sources,
    _hostdev_element,
    _hostdev_elements,
    _new_pci,
    _numa,
    _pci_indexes,
    _seed_element,
    _seed_elements,
)


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
            choices.append(("guest", guest))
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
        # an absent field is 0 in a guest address (libvirt's reading): missing only in a source
        if bad == "missing" and field != "domain" and how == "pci":
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


def _scsi(unit: int) -> ScsiSource:
    return ScsiSource("scsi_host0", "0", "0", str(unit))


def _m_gi_not_pci(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    node = draw(st.sampled_from(_cell_ids(domain)))
    others = [i for i, h in enumerate(domain.hostdevs) if not h.kind.is_pci]
    elements = _hostdev_elements(root)
    if others:
        index = draw(st.sampled_from(others))
        alias, element = domain.hostdevs[index].alias, elements[index]
    elif domain.arch == "aarch64":
        # libvirt 12.8 gives an aarch64 guest no USB controller: a USB hostdev there is
        # refused for that ("USB is disabled for this domain"), so a SCSI one
        alias = _fresh_name(domain, "ua-scsi")
        taken = {h.source for h in domain.hostdevs}
        unit = next(u for u in range(256) if _scsi(u) not in taken)
        element = _hostdev_element(Hostdev(HostdevKind.SCSI, alias, True, _scsi(unit)))
        _devices(root).append(element)
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
    # slot 0 of bus 0 is libvirt's "no address" at any function: the other kept slot
    slot = 0x1F if machine == "q35" else 1
    # q35 keeps functions 0, 2 and 3 of slot 0x1f; pc the whole of slot 1
    function = draw(st.sampled_from((0, 2, 3)) if machine == "q35" else st.integers(0, 7))
    guest = PciAddress(0, 0, slot, function)
    _devices(root).append(_new_pci(_fresh_sources(domain, 1)[0], guest=guest))


def _m_guest_address_type(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    if draw(st.booleans()):  # an mdev takes a PCI guest address or none
        used = {str(h.source) for h in domain.hostdevs if h.kind is HostdevKind.MDEV}
        uuid = str(draw(st.uuids().filter(lambda u: str(u) not in used)))
        element = etree.Element("hostdev", mode="subsystem", type="mdev", model="vfio-pci")
        etree.SubElement(etree.SubElement(element, "source"), "address", uuid=uuid)
        address_type = draw(st.sampled_from(("drive", "unassigned", "ccw", "usb")))
    else:  # a PCI hostdev a PCI one, unassigned or none
        element = _new_pci(_fresh_sources(domain, 1)[0])
        address_type = draw(st.sampled_from(("drive", "ccw", "usb", "isa")))
    etree.SubElement(element, "address", type=address_type)
    _devices(root).append(element)


def _m_iommufd_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """A ``<driver iommufd>`` or a domain ``<iommufd enabled>`` that is not yes/no."""
    bad = draw(st.sampled_from(("on", "off", "true", "1", "", "YES", "missing")))
    hostdevs = _hostdev_elements(root)
    on_hostdev: bool = draw(st.booleans())
    if hostdevs and on_hostdev:
        element = draw(st.sampled_from(hostdevs))
        driver = element.find("driver")
        if driver is None:
            driver = etree.SubElement(element, "driver")
        if bad == "missing":
            bad = "no-such"  # an absent iommufd attribute is valid on <driver>
        driver.set("iommufd", bad)
        return
    iommufd = root.find("iommufd")
    if iommufd is None:
        iommufd = etree.Element("iommufd")
        _devices(root).addprevious(iommufd)
    if bad == "missing":
        if "enabled" in iommufd.attrib:
            del iommufd.attrib["enabled"]
    else:
        iommufd.set("enabled", bad)


def _m_iommufd_fdgroup(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """``<iommufd enabled='no'>`` with an ``fdgroup`` (libvirt 12.8 refuses it, whatever
    the hostdevs' own ``<driver iommufd>`` say)."""
    iommufd = root.find("iommufd")
    if iommufd is None:
        iommufd = etree.Element("iommufd")
        _devices(root).addprevious(iommufd)
    iommufd.set("enabled", "no")
    iommufd.set("fdgroup", draw(st.sampled_from(("iommu", "", "group-1"))))


def _m_mdev_display_graphics(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """An mdev with ``display='on'`` (an existing one, or a new one without a guest
    address) in a document that has no ``<graphics>``: rendered documents never do."""
    mdevs = [h for h in _hostdev_elements(root) if h.get("type") == "mdev"]
    existing: bool = draw(st.booleans())
    if mdevs and existing:
        element = draw(st.sampled_from(mdevs))
    else:
        used = {str(h.source) for h in domain.hostdevs if h.kind is HostdevKind.MDEV}
        uuid = str(draw(st.uuids().filter(lambda u: f"mdev {u}" not in used)))
        element = etree.Element("hostdev", mode="subsystem", type="mdev", model="vfio-pci")
        etree.SubElement(etree.SubElement(element, "source"), "address", uuid=uuid)
        _devices(root).append(element)
    element.set("display", "on")
    if draw(st.booleans()):
        element.set("ramfb", "on")  # libvirt refuses it the same way with a ramfb


def _pci_kind_hostdevs(root: etree._Element) -> list[etree._Element]:
    """The document's PCI and mdev hostdevs (the ones display and ramfb apply to)."""
    return [h for h in _hostdev_elements(root) if h.get("type") in ("pci", "mdev")]


def _m_ramfb_multiple(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """``ramfb='on'`` on two PCI or mdev hostdevs, existing ones or new ones without a
    guest address (no display, so no ``<graphics>`` is needed)."""
    chosen = draw(st.permutations(_pci_kind_hostdevs(root)))[: draw(st.integers(0, 2))]
    for source in _fresh_sources(domain, 2 - len(chosen)):
        element = _new_pci(source)
        _devices(root).append(element)
        chosen.append(element)
    for element in chosen:
        element.set("ramfb", "on")


def _m_switch_syntax(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """A PCI or mdev hostdev whose ``display`` or ``ramfb`` is not ``on``/``off``."""
    hostdevs = _pci_kind_hostdevs(root)
    existing: bool = draw(st.booleans())
    if hostdevs and existing:
        element = draw(st.sampled_from(hostdevs))
    else:
        element = _new_pci(_fresh_sources(domain, 1)[0])
        _devices(root).append(element)
    name = draw(st.sampled_from(("display", "ramfb")))
    element.set(name, draw(st.sampled_from(("yes", "no", "true", "auto"))))


def _m_hugepages_anonymous(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """``<hugepages>`` (any page, or none: the host's default) with an anonymous source.

    A memory rule, kept here beside the other libvirt rules found by issue 26."""
    backing = root.find("memoryBacking")
    if backing is None:
        backing = etree.SubElement(root, "memoryBacking")
    for old in (*backing.findall("hugepages"), *backing.findall("source")):
        backing.remove(old)
    pages = etree.SubElement(backing, "hugepages")
    size = draw(st.sampled_from((None, "2048", "1048576", "4")))
    if size is not None:
        etree.SubElement(pages, "page", size=size, unit="KiB")
    etree.SubElement(backing, "source", type="anonymous")


def _m_zpci_arch(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """A ``<zpci>`` with a uid, a fid or both in a PCI hostdev's guest address (an existing
    one, or a new hostdev's empty address: libvirt places it)."""
    placed = [
        h
        for h in _hostdev_elements(root)
        if h.get("type") == "pci" and h.find("address[@type='pci']") is not None
    ]
    existing: bool = draw(st.booleans())
    if placed and existing:
        address = draw(st.sampled_from(placed)).find("address[@type='pci']")
        assert address is not None
    else:
        element = _new_pci(_fresh_sources(domain, 1)[0])
        _devices(root).append(element)
        address = etree.SubElement(element, "address", type="pci")
    zpci = etree.SubElement(address, "zpci")
    fields = draw(st.sampled_from((("uid",), ("fid",), ("uid", "fid"))))
    if "uid" in fields:
        zpci.set("uid", hex(draw(st.integers(1, 0xFFFF))))
    if "fid" in fields:
        zpci.set("fid", hex(draw(st.integers(0, 0xFFFFFFFF))))
