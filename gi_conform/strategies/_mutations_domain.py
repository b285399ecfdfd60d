"""Mutations for the error rules outside ``<devices>``: one mutation per rule.

The XML itself (malformed, forbidden declarations, too large, wrong root), the vCPU
count, NUMA cells, their CPUs, memory and distances, cell attributes, memory backing,
numatune and HMAT. Each function breaks exactly its rule and no other error rule; the
table mapping rule ids to mutations is in ``_mutations``.
"""

from __future__ import annotations

from hypothesis import strategies as st
from lxml import etree

from gi_conform.bitmap import format_bitmap, parse_bitmap
from gi_conform.document.parse import MAX_DOCUMENT_BYTES, MAX_VCPUS
from gi_conform.document.validate import MAX_CELLS
from gi_conform.model import Domain, NumatuneMode
from gi_conform.semantics import (
    LOCAL_DISTANCE,
    UNREACHABLE,
    cpu_cells_written,
    initiator_pairs,
    unassigned_vcpus,
)
from gi_conform.strategies._mutation_helpers import (
    _append_cell,
    _cell_ids,
    _devices,
    _fresh_sources,
    _hostdev_elements,
    _new_pci,
    _numa,
    _Post,
    _targets,
)


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


def _m_numatune_placement_auto_memnode(
    draw: st.DrawFn, domain: Domain, root: etree._Element
) -> None:
    cell = str(draw(st.sampled_from(_cell_ids(domain))))
    for old in root.findall("numatune"):
        root.remove(old)
    tune = etree.SubElement(root, "numatune")
    if draw(st.booleans()):
        etree.SubElement(tune, "memory", placement="auto")
    else:  # libvirt's default placement under <vcpu placement='auto'> without a nodeset
        etree.SubElement(tune, "memory", mode=draw(st.sampled_from(("strict", "preferred"))))
        vcpu = root.find("vcpu")
        if vcpu is None:
            vcpu = etree.SubElement(root, "vcpu")
            vcpu.text = "1"
        vcpu.set("placement", "auto")
    etree.SubElement(tune, "memnode", cellid=cell, mode="strict", nodeset="0")


def _m_hugepages_nodeset(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    backing = root.find("memoryBacking")
    if backing is None:
        backing = etree.SubElement(root, "memoryBacking")
    for old in backing.findall("hugepages"):
        backing.remove(old)
    pages = etree.SubElement(backing, "hugepages")
    cells = _cell_ids(domain) or [0]
    how = draw(st.sampled_from(("unknown", "two-defaults", "intersect")))
    if how == "unknown":
        etree.SubElement(pages, "page", size="2048", unit="KiB", nodeset=str(max(cells) + 1))
    elif how == "two-defaults":
        etree.SubElement(pages, "page", size="1048576", unit="KiB")
        etree.SubElement(pages, "page", size="2048", unit="KiB")
    else:
        cell = str(draw(st.sampled_from(cells)))
        etree.SubElement(pages, "page", size="1048576", unit="KiB", nodeset=cell)
        etree.SubElement(pages, "page", size="2048", unit="KiB", nodeset=cell)


def _ensure_initiator(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """A fresh PCI GPU with a nodeset of existing cells when the domain asks for none."""
    if initiator_pairs(domain):
        return
    cells = _cell_ids(domain)
    nodes = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=3, unique=True))
    _devices(root).append(_new_pci(_fresh_sources(domain, 1)[0], nodeset=tuple(sorted(nodes))))


def _m_gi_acpi_disabled(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """Initiators without ``<features><acpi/>``: no ``<features>`` at all, or one without
    ``<acpi/>`` (libvirt writes ``acpi=off`` for both, on every machine type)."""
    _ensure_initiator(draw, domain, root)
    features = root.find("features")
    if features is not None:
        root.remove(features)
    os = root.find("os")
    if os is not None and draw(st.booleans()):
        kept = etree.Element("features")
        for name in draw(st.lists(st.sampled_from(("apic", "pae")), unique=True)):
            etree.SubElement(kept, name)
        os.addnext(kept)


def _m_domain_acpi_uefi(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """aarch64 with ``<acpi/>`` and no UEFI: no loader, a ``rom`` one, or one without a
    type (libvirt 12.8 passes only ``type='pflash'`` or ``<os firmware='efi'>``)."""
    os = root.find("os")
    assert os is not None, "format_xml always writes <os>"
    if domain.arch != "aarch64":
        os_type = os.find("type")
        assert os_type is not None
        os_type.set("arch", "aarch64")
        os_type.set("machine", draw(st.sampled_from(("virt", "virt-9.2"))))
        if domain.pci_root_bus == "pci.0":
            # i440fx bridges take slots 1-31, virt's root ports slot 0 only: let libvirt place
            for hostdev in _hostdev_elements(root):
                guest = hostdev.find("address")
                if guest is not None and int(guest.get("bus", "0"), 0) != 0:
                    hostdev.remove(guest)
    for loader in os.findall("loader"):
        os.remove(loader)
    if "firmware" in os.attrib:
        del os.attrib["firmware"]
    kind = draw(st.sampled_from(("none", "rom", "untyped")))
    if kind != "none":
        loader = etree.SubElement(os, "loader", readonly="yes")
        if kind == "rom":
            loader.set("type", "rom")
        loader.text = "/usr/share/AAVMF/AAVMF_CODE.fd"
    features = root.find("features")
    if features is None:
        features = etree.Element("features")
        os.addnext(features)
    if features.find("acpi") is None:
        etree.SubElement(features, "acpi")


def _m_domain_memory_missing(draw: st.DrawFn, domain: Domain, root: etree._Element) -> None:
    """No memory at all: ``<memory>`` gone or 0, and no NUMA (so nothing that names a node:
    initiators, a hostdev's ``<acpi nodeset>``, an expander bus's ``<node>``)."""
    cpu = root.find("cpu")
    if cpu is not None:
        root.remove(cpu)
    memory = root.find("memory")
    if memory is not None and draw(st.booleans()):
        memory.text = "0"
    elif memory is not None:
        root.remove(memory)
    for element in root.iter("acpi-generic-initiator", "acpi", "node"):
        parent = element.getparent()
        if parent is not None and parent.tag != "features":
            parent.remove(element)
