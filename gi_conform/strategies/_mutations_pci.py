"""Mutations of the guest PCI topology: controllers, expander buses and smmuv3 IOMMUs.

Each adds new elements at an index no bus of the document uses, so that exactly its rule
breaks (see :mod:`gi_conform.document.validate_pci`).
"""

from __future__ import annotations

from hypothesis import strategies as st
from lxml import etree

from gi_conform.model import Domain, PciAddress
from gi_conform.pcitopology import pci_topology
from gi_conform.strategies._mutation_helpers import _devices, _fresh_sources, _new_pci

__all__: list[str] = []

_EXPANDER = {"pcie.0": "pcie-expander-bus", "pci.0": "pci-expander-bus"}
"""The expander bus model each root bus takes."""
_ROOTS = frozenset({"pci-root", "pcie-root"})


def _fresh_index(draw: st.DrawFn, domain: Domain) -> int:
    """A controller index (a bus number, so at most 0xFE) that no bus of the document
    uses, and the one above it neither (a second controller may need it)."""
    used = {h.guest_address.bus for h in domain.hostdevs if h.guest_address is not None}
    used |= {c.index for c in domain.pci_controllers if c.index is not None}
    return draw(st.integers(1, 0xFE).filter(lambda i: i not in used and i + 1 not in used))


def _controller(
    index: int, model: str, *, node: int | None = None, bus_nr: int | None = None
) -> etree._Element:
    element = etree.Element("controller", type="pci", index=str(index), model=model)
    if node is not None or bus_nr is not None:
        target = etree.SubElement(element, "target")
        if bus_nr is not None:
            target.set("busNr", str(bus_nr))
        if node is not None:
            etree.SubElement(target, "node").text = str(node)
    return element


def _m_controller_index_duplicate(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """Two controllers of one fresh index (ports on PCIe machines, bridges on i440fx)."""
    index = _fresh_index(draw, domain)
    model = "pcie-root-port" if domain.pci_root_bus == "pcie.0" else "pci-bridge"
    for _ in range(2):
        _devices(root).append(_controller(index, model))


def _m_controller_model_missing(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """A PCI controller without a model: a new one at a fresh index, or index 0 (the root)
    when the document declares none there."""
    zero_free = all(c.index != 0 for c in domain.pci_controllers)
    index = 0 if zero_free and draw(st.booleans()) else _fresh_index(draw, domain)
    _devices(root).append(etree.Element("controller", type="pci", index=str(index)))


def _m_controller_model_unknown(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """A PCI controller whose model libvirt does not know (a misspelling, another case, a
    trailing space), at a fresh index or at index 0 when the document declares none."""
    zero_free = all(c.index != 0 for c in domain.pci_controllers)
    index = 0 if zero_free and draw(st.booleans()) else _fresh_index(draw, domain)
    model = draw(
        st.sampled_from(("foo", "default", "", "PCIe-Root-Port", "pci-bridge ", "pci_bridge"))
    )
    _devices(root).append(_controller(index, model))


def _m_controller_root_model(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """Index 0 naming another model than the machine's root (the declared one changed, or
    a new one), or a root model at a fresh index."""
    want = "pcie-root" if domain.pci_root_bus == "pcie.0" else "pci-root"
    if draw(st.booleans()):
        index = _fresh_index(draw, domain)
        _devices(root).append(_controller(index, draw(st.sampled_from(sorted(_ROOTS)))))
        return
    wrong = draw(st.sampled_from(sorted((_ROOTS | {"pci-bridge", "pcie-root-port"}) - {want})))
    for element in _devices(root).iterchildren("controller"):
        if element.get("type") == "pci" and element.get("index") in ("0", "0x0", "00"):
            element.set("model", wrong)
            return
    _devices(root).insert(0, _controller(0, wrong))


def _m_expander_machine(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """The other root bus's expander bus: pci-expander-bus on PCIe, and the reverse."""
    wrong = "pci-expander-bus" if domain.pci_root_bus == "pcie.0" else "pcie-expander-bus"
    _devices(root).append(_controller(_fresh_index(draw, domain), wrong))


def _m_expander_node_unknown(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """An expander bus whose node is no cell."""
    cells = {cell.id for cell in domain.cells if cell.id is not None}
    node = draw(st.integers(0, 255).filter(lambda n: n not in cells))
    model = _EXPANDER[domain.pci_root_bus]
    _devices(root).append(_controller(_fresh_index(draw, domain), model, node=node))


def _m_expander_busnr_range(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """An expander bus whose busNr is 0 or above 254."""
    bus_nr = draw(st.sampled_from((0, 255, 256, 1000, 0xFFFF)))
    model = _EXPANDER[domain.pci_root_bus]
    _devices(root).append(_controller(_fresh_index(draw, domain), model, bus_nr=bus_nr))


def _m_bus_plug(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """On the document's machine, its expander bus on a bus that does not take it (a
    pcie-root-port, a pci-bridge); or, on q35, a device straight on a pcie-expander-bus
    or a root port behind a root port.

    Those two are a PCIe machine's: an i440fx document becomes q35 first, its hostdevs'
    guest addresses dropped (an i440fx bridge's slots are not a q35 port's).
    """
    if draw(st.booleans()):
        index = _fresh_index(draw, domain)
        pcie = domain.pci_root_bus == "pcie.0"
        _devices(root).append(_controller(index, "pcie-root-port" if pcie else "pci-bridge"))
        expander = _controller(index + 1, _EXPANDER[domain.pci_root_bus])
        slot = "0x00" if pcie else "0x01"
        etree.SubElement(
            expander,
            "address",
            type="pci",
            domain="0x0000",
            bus=str(index),
            slot=slot,
            function="0x0",
        )
        _devices(root).append(expander)
        return
    if domain.pci_root_bus != "pcie.0":
        os_type = root.find("os/type")
        assert os_type is not None
        os_type.set("arch", "x86_64")
        os_type.set("machine", "q35")
        for hostdev in _devices(root).iterchildren("hostdev"):
            for address in hostdev.findall("address"):
                hostdev.remove(address)
    index = _fresh_index(draw, domain)
    if draw(st.booleans()):
        _devices(root).append(_controller(index, "pcie-expander-bus"))
        guest = PciAddress(0, index, 0, 0)
        _devices(root).append(_new_pci(_fresh_sources(domain, 1)[0], guest=guest))
        return
    _devices(root).append(_controller(index, "pcie-root-port"))
    port = _controller(index + 1, "pcie-root-port")
    etree.SubElement(
        port, "address", type="pci", domain="0x0000", bus=str(index), slot="0x00", function="0x0"
    )
    _devices(root).append(port)


def _m_iommu_pcibus_unknown(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """An smmuv3 whose pciBus names no controller, declared or added by libvirt."""
    known = pci_topology(domain)
    bus = draw(st.integers(1, 0x1FF).filter(lambda i: i not in known))
    iommu = etree.SubElement(_devices(root), "iommu", model="smmuv3")
    etree.SubElement(iommu, "driver", pciBus=str(bus))


def _m_iommu_smmuv3_accel(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """An smmuv3 option set without accel='on'."""
    iommu = etree.SubElement(_devices(root), "iommu", model="smmuv3")
    driver = etree.SubElement(iommu, "driver")
    accel = draw(st.sampled_from((None, "off")))
    if accel is not None:
        driver.set("accel", accel)
    name = draw(st.sampled_from(("ats", "ril", "ssidsize", "oas")))
    driver.set(name, draw(st.sampled_from(("on", "off", "20", "48"))))
