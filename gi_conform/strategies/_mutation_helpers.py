"""Building blocks shared by the mutations: finding and adding elements in a rendered tree.

Mutations of the domain-wide settings and of devices both need the ``<numa>`` and
``<devices>`` elements, canonical new ``<hostdev>`` and seed elements, new cells, and
names and PCI sources no existing device uses; they live here so the two mutation
modules depend on one place and not on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from hypothesis import strategies as st
from lxml import etree

from gi_conform.document.parse import smallest_free as _smallest_free
from gi_conform.model import Domain, Hostdev, HostdevKind, PciAddress
from gi_conform.semantics import initiator_pairs
from gi_conform.strategies._renderings import _tree

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
