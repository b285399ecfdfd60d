"""Hardened XML reading and the lenient domain parser.

The parser turns a domain document into the model and reports every syntax problem it
meets (malformed XML, bad numbers, bad bitmaps, missing seed fields) instead of stopping
at the first. Cross-element rules (references, duplicates, NUMA consistency) belong to
:mod:`gi_conform.document.validate`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lxml import etree

from gi_conform.bitmap import BitmapError, parse_bitmap
from gi_conform.document.parse_devices import (
    PCI_LIMITS,
    chipset_slots,
    first_children,
    has_video,
    iommus,
    other_pci_devices,
    pci_controllers,
    root_slots_taken,
    source_line,
)
from gi_conform.document.parse_numa import NumaReader
from gi_conform.document.xml import thread_parser
from gi_conform.model import (
    Cell,
    Dialect,
    Domain,
    Hostdev,
    HostdevKind,
    Initiator,
    MdevSource,
    PciAddress,
    ScsiSource,
    Source,
    UsbSource,
    _assembled,
)
from gi_conform.rules import Violation, violation
from gi_conform.units import UnitError, c_uint, to_bytes

__all__ = [
    "MAX_CELLS_PARSED",
    "MAX_DOCUMENT_BYTES",
    "MAX_NODE",
    "MAX_VCPUS",
    "PCI_LIMITS",
    "Parsed",
    "read_domain",
]

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
"""Larger documents are refused (XML-TOO-LARGE); real ones are a few kilobytes."""
MAX_NODE = 127
"""QEMU refuses generic initiator nodes >= 128 ('Invalid NUMA node specified')."""
MAX_VCPUS = 16384
"""libvirt's CPU mask length: cpus lists name vCPUs below it."""
MAX_CELLS_PARSED = 16384
"""Cells beyond this are not even read: the document is rejected as too large."""

_UUID = re.compile(r"[0-9a-f]{8}(-?[0-9a-f]{4}){3}-?[0-9a-f]{12}\Z", re.IGNORECASE)
_ENCODING_DECL = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_LXML_POSITION = re.compile(r", line \d+, column \d+\Z")
_UUID_GROUPS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
"""A UUID's five groups of hex digits."""
_HOSTDEV_KINDS = {kind.value: kind for kind in HostdevKind}


@dataclass(frozen=True)
class Parsed:
    """The model (``None`` when the XML itself could not be read) and syntax problems."""

    domain: Domain | None
    problems: tuple[Violation, ...]


def _xml_problem(rule: str, line: int, detail: str) -> Parsed:
    return Parsed(None, (violation(rule, line, "document", detail=detail),))


def _doctype_line(data: bytes) -> int | None:
    """The line of a ``<!DOCTYPE`` in the prolog, where the XML grammar allows one."""
    position = 0
    if data.startswith(b"\xef\xbb\xbf"):
        position = 3
    while True:
        while position < len(data) and data[position] in b" \t\r\n":
            position += 1
        if data.startswith(b"<?", position):
            terminator = b"?>"
        elif data.startswith(b"<!--", position):
            terminator = b"-->"
        elif data.startswith(b"<!DOCTYPE", position) or data.startswith(b"<!ENTITY", position):
            return data.count(b"\n", 0, position) + 1
        else:
            return None
        end = data.find(terminator, position)
        if end < 0:
            return None
        position = end + len(terminator)


def load_xml(source: bytes | str) -> tuple[etree._Element | None, Parsed | None]:
    """Parse bytes safely: size limit, UTF-8 only, no DTD, no entities, no network."""
    try:
        data = source.encode("utf-8") if isinstance(source, str) else source
    except UnicodeEncodeError as error:
        return None, _xml_problem(
            "XML-MALFORMED", 1, f"not UTF-8 (unencodable character at offset {error.start})"
        )
    if len(data) > MAX_DOCUMENT_BYTES:
        return None, _xml_problem(
            "XML-TOO-LARGE",
            1,
            f"document is {len(data)} bytes, the limit is {MAX_DOCUMENT_BYTES}",
        )
    if not data or data.isspace():  # strip() would copy the whole document
        return None, _xml_problem("XML-MALFORMED", 1, "document is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return None, _xml_problem(
            "XML-MALFORMED", line, f"not UTF-8 (invalid byte at offset {error.start})"
        )
    declared = _ENCODING_DECL.match(data.lstrip(b"\xef\xbb\xbf"))
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        encoding = declared.group(1).decode("ascii")
        return None, _xml_problem(
            "XML-MALFORMED", 1, f"declares encoding '{encoding}', only UTF-8 is accepted"
        )
    doctype = _doctype_line(data)
    if doctype is not None:
        return None, Parsed(None, (violation("XML-FORBIDDEN", doctype, "<!DOCTYPE>"),))
    try:
        root = etree.fromstring(data, thread_parser())
    except etree.XMLSyntaxError as error:
        detail = _LXML_POSITION.sub("", str(error.msg or error))
        line = error.lineno if isinstance(error.lineno, int) and error.lineno > 0 else 1
        if "Excessive depth" in detail:
            return None, _xml_problem("XML-TOO-LARGE", line, f"nesting too deep ({detail})")
        return None, _xml_problem("XML-MALFORMED", line, detail)
    return root, None


def read_domain(source: bytes | str) -> Parsed:
    """Read a domain document into the model, collecting every syntax problem."""
    root, failure = load_xml(source)
    if failure is not None:
        return failure
    assert root is not None
    if root.tag != "domain":
        tag = root.tag if isinstance(root.tag, str) else "?"
        return Parsed(None, (violation("XML-ROOT", source_line(root) or 1, f"<{tag}>", root=tag),))
    return _DomainReader(root).read()


def _report_into(
    problems: list[Violation], rule: str, element: etree._Element, label: str, **fields: object
) -> None:
    """The parser's problem sink: a violation at the element's line."""
    problems.append(violation(rule, source_line(element), label, **fields))


def smallest_free(prefix: str, used: set[str], start: int = 0) -> str:
    """The naming rule for elements without an alias: ``prefix<N>``, smallest free N.

    ``start`` skips numbers known to be taken: naming elements in turn, each name is
    above the last (the used set only grows), so the whole pass stays linear.
    """
    number = start
    while f"{prefix}{number}" in used:
        number += 1
    return f"{prefix}{number}"


def _above(name: str, value: int, limit: int) -> str:
    """A PCI address field above its limit, in libvirt 12.8's words where it has them
    (virPCIDeviceAddressIsValid, measured: the value re-written in hex)."""
    if name == "function":
        return f"Invalid PCI address function={value:#x}, must be <= {limit}"
    if name in ("bus", "slot"):
        return f"Invalid PCI address {name}='{value:#x}', must be <= {limit:#X}".replace("0X", "0x")
    return f"above {limit:#x}"


def _is_empty_address(address: PciAddress) -> bool:
    """libvirt's "no address" (virPCIDeviceAddressIsEmpty): domain, bus and slot all 0,
    written or by absent fields, whatever the function (measured on 12.8: 0000:00:00.0
    and 0000:00:00.2-7, multifunction or not, are placed by libvirt itself, on q35 behind a
    new root port)."""
    return (address.domain, address.bus, address.slot) == (0, 0, 0)


class _DomainReader:
    """One pass over a parsed tree; collects problems as it goes."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.problems: list[Violation] = []
        self.cpus_named = 0
        # the NUMA reader reports into the same list, not through this reader: no cycle
        # between the two, so a read tree is freed at once, not by the cycle collector
        self.numa_reader = NumaReader(functools.partial(_report_into, self.problems))
        self.sizes: dict[tuple[str, str | None], int] = {}
        """Cell sizes in bytes by (memory, unit): most cells repeat a few."""
        self.numbers: dict[str, int] = {}
        """PCI address fields by text (``0x0000``, ``0x00``, ...), read once each."""

    def report(self, rule: str, element: etree._Element, label: str, **fields: object) -> None:
        _report_into(self.problems, rule, element, label, **fields)

    def read(self) -> Parsed:
        root = self.root
        top = first_children(root)
        os_type = _find_path(root, "os", "type")
        features = top.get("features")
        numa = _find_path(root, "cpu", "numa")
        devices = top.get("devices")
        # the devices' children by tag, from one walk: each kind below reads its own
        by_tag = _children_by_tag(devices) if devices is not None else {}
        hostdevs, initiators = self._devices(by_tag)
        iommufd = top.get("iommufd")
        numatune = top.get("numatune")
        iommufd_enabled = (
            self._yes_no(iommufd, "enabled", "<iommufd>", required=True)
            if iommufd is not None
            else None
        )
        arch = os_type.get("arch", "x86_64") if os_type is not None else "x86_64"
        machine = os_type.get("machine") if os_type is not None else None
        domain = _assembled(
            Domain,
            name=_text(top.get("name")).strip(),
            domain_type=root.get("type", "kvm"),
            uuid=_text(top.get("uuid")).strip() or None,
            arch=arch,
            machine=machine,
            vcpus=self._vcpus(top.get("vcpu")),
            memory=self._domain_memory(top.get("memory")),
            acpi=None if features is None else _find_path(features, "acpi") is not None,
            uefi=_uefi(top.get("os")),
            numa=numa is not None,
            cells=self._cells(numa) if numa is not None else (),
            hostdevs=hostdevs,
            initiators=initiators,
            interconnects=self.numa_reader.interconnects(numa) if numa is not None else (),
            pci_controllers=pci_controllers(by_tag.get("controller", ())),
            iommus=iommus(by_tag.get("iommu", ())),
            root_slots_taken=root_slots_taken(by_tag, chipset_slots(arch, machine)),
            other_pci=other_pci_devices(by_tag),
            video=has_video(by_tag),
            graphics="graphics" in by_tag,
            memory_backing=self.numa_reader.memory_backing(top.get("memoryBacking")),
            numatune=self.numa_reader.numatune(numatune, vcpu_auto=_vcpu_auto(root))
            if numatune is not None
            else None,
            iommufd=iommufd_enabled,
            iommufd_fdgroup=iommufd.get("fdgroup") if iommufd is not None else None,
            line=source_line(root),
            numa_line=source_line(numa) if numa is not None else 0,
            features_line=source_line(features) if features is not None else 0,
        )
        return _assembled(Parsed, domain=domain, problems=tuple(self.problems))

    def _yes_no(
        self, element: etree._Element, name: str, label: str, *, required: bool = False
    ) -> bool | None:
        """A ``yes``/``no`` attribute (libvirt's virTristateBool): None when absent."""
        raw = element.get(name)
        if raw is None and not required:
            return None
        if raw in ("yes", "no"):
            return raw == "yes"
        self.report(
            "HOSTDEV-IOMMUFD-SYNTAX",
            element,
            label,
            field=name,
            value="" if raw is None else raw,
            detail="missing" if raw is None else "not 'yes' or 'no'",
        )
        return None

    def _vcpus(self, element: etree._Element | None) -> int | None:
        if element is None:
            return 1
        text = (element.text or "").strip()
        if text.isascii() and text.isdigit() and len(text) < 10 and 0 < int(text) <= MAX_VCPUS:
            return int(text)
        self.report("DOMAIN-VCPU-SYNTAX", element, "<vcpu>", value=text)
        return None

    @staticmethod
    def _domain_memory(element: etree._Element | None) -> int | None:
        if element is None:
            return None
        try:
            return to_bytes(element.text or "", element.get("unit"))
        except UnitError:
            return 0

    def _cells(self, numa: etree._Element) -> tuple[Cell, ...]:
        self.cpus_named = 0
        cells: list[Cell] = []
        for position, element in enumerate(numa.iterchildren("cell")):
            if position >= MAX_CELLS_PARSED:
                self.report(
                    "XML-TOO-LARGE",
                    element,
                    "<numa>",
                    detail=f"more than {MAX_CELLS_PARSED} cells",
                )
                break
            cells.append(self._cell(element, position))
        return tuple(cells)

    def _cell(self, element: etree._Element, position: int) -> Cell:
        raw_id = element.get("id")
        cell_id: int | None = position
        if raw_id is not None:
            text = raw_id.strip()
            if text.isascii() and text.isdigit() and len(text) < 10:
                cell_id = int(text)
            else:
                label = _cell_label(raw_id, position)
                self.report("NUMA-CELL-ID-SYNTAX", element, label, value=raw_id)
                cell_id = None
        raw_cpus = element.get("cpus")
        cpus = () if raw_cpus is None else self._cell_cpus(element, raw_id, position, raw_cpus)
        raw_memory = element.get("memory")
        unit = element.get("unit")
        memory = self.sizes.get((raw_memory, unit)) if raw_memory is not None else None
        if memory is None:
            memory = self._cell_memory(element, raw_id, position, raw_memory, unit)
        mem_access, discard = None, None
        if element.get("memAccess") is not None or element.get("discard") is not None:
            label = _cell_label(raw_id, position)
            mem_access, discard = self.numa_reader.cell_access(element, label)
        has_children = len(element) > 0  # most cells have none: skip the lookups
        label = _cell_label(raw_id, position) if has_children else ""
        return _assembled(
            Cell,
            id=cell_id,
            cpus=cpus,
            memory=memory,
            distances=self._distances(element, label) if has_children else (),
            mem_access=mem_access,
            discard=discard,
            caches=self.numa_reader.caches(element, label) if has_children else (),
            line=element.sourceline or 0,
        )

    def _cell_cpus(
        self, element: etree._Element, raw_id: str | None, position: int, raw_cpus: str
    ) -> tuple[int, ...] | None:
        """A cell's vCPU list; None when unreadable or past the document's vCPU budget."""
        try:
            cpus = parse_bitmap(raw_cpus, limit=MAX_VCPUS)
        except BitmapError as error:
            label = _cell_label(raw_id, position)
            self.report("NUMA-CPUS-SYNTAX", element, label, value=raw_cpus, detail=error)
            return None
        self.cpus_named += len(cpus)
        if self.cpus_named > MAX_VCPUS:
            # Disjoint lists cannot name more: stop before memory grows with
            # cells x list length on hostile input.
            self.report(
                "XML-TOO-LARGE",
                element,
                _cell_label(raw_id, position),
                detail=f"the cells name more than {MAX_VCPUS} vCPUs in total",
            )
            return None
        return cpus

    def _cell_memory(
        self,
        element: etree._Element,
        raw_id: str | None,
        position: int,
        raw_memory: str | None,
        unit: str | None,
    ) -> int | None:
        """A cell's memory in bytes; remembered per (value, unit), which cells repeat."""
        try:
            if raw_memory is None:
                raise UnitError("the memory attribute is missing")
            memory = to_bytes(raw_memory, unit)
        except UnitError as error:
            self.report(
                "NUMA-MEMORY-SYNTAX",
                element,
                _cell_label(raw_id, position),
                value=raw_memory if raw_memory is not None else "",
                unit=unit if unit is not None else "KiB",
                detail=error,
            )
            return None
        self.sizes[(raw_memory, unit)] = memory
        return memory

    def _distances(self, cell: etree._Element, label: str) -> tuple[tuple[int, int], ...]:
        siblings: list[tuple[int, int]] = []
        for sibling in cell.iterfind("distances/sibling"):
            values: list[int] = []
            for name in ("id", "value"):
                raw = sibling.get(name)
                text = (raw or "").strip()
                if text.isascii() and text.isdigit() and len(text) < 10:
                    values.append(int(text))
                else:
                    self.report(
                        "NUMA-DISTANCE-SYNTAX",
                        sibling,
                        f"<sibling> of {label}",
                        field=name,
                        value=raw if raw is not None else "",
                    )
            if len(values) == 2:
                siblings.append((values[0], values[1]))
        return tuple(siblings)

    def _devices(
        self, by_tag: dict[str, list[etree._Element]]
    ) -> tuple[tuple[Hostdev, ...], tuple[Initiator, ...]]:
        """``by_tag``: the ``<devices>`` children by tag (:func:`_children_by_tag`)."""
        hostdev_elements = [
            element
            for element in by_tag.get("hostdev", ())
            if element.get("mode", "subsystem") == "subsystem"
            and element.get("type") in _HOSTDEV_KINDS
        ]
        seed_elements = by_tag.get("acpi-generic-initiator", ())
        # each element's children by tag and its user-given alias, read once
        read = [(element, *_children_and_alias(element)) for element in hostdev_elements]
        seeds = [(element, *_children_and_alias(element)) for element in seed_elements]
        given = {alias for _, _, alias in read + seeds if alias is not None}
        used = set(given)
        hostdevs: list[Hostdev] = []
        next_number = 0
        for element, children, written in read:
            alias = written
            if alias is None:
                alias = smallest_free("hostdev", used, next_number)
                used.add(alias)
                next_number = int(alias.removeprefix("hostdev")) + 1
            hostdevs.append(self._hostdev(element, children, alias, alias_given=alias in given))
        initiators: list[Initiator] = []
        next_number = 0
        for element, children, written in seeds:
            alias = written
            if alias is None:
                alias = smallest_free("gi", used, next_number)
                used.add(alias)
                next_number = int(alias.removeprefix("gi")) + 1
            initiators.append(
                self._seed_initiator(element, children, alias, alias_given=alias in given)
            )
        return tuple(hostdevs), tuple(initiators)

    def _hostdev(
        self,
        element: etree._Element,
        children: dict[str, etree._Element],
        alias: str,
        *,
        alias_given: bool,
    ) -> Hostdev:
        kind = _HOSTDEV_KINDS[element.get("type", "")]
        label = f"hostdev '{alias}'"
        source_element = children.get("source")
        source = self._source(kind, source_element, label) if source_element is not None else None
        if source_element is None:
            self.report(
                "HOSTDEV-ADDRESS-SYNTAX",
                element,
                label,
                field="<source>",
                value="",
                detail="Missing <source> element in hostdev device",
            )
        guest: PciAddress | None = None
        multifunction = False
        zpci = None
        address = children.get("address")
        address_type = address.get("type", "") if address is not None else None
        if address_type == "pci":
            address_type = None
        if address is not None and address_type is None:
            guest = self._pci_address(address, label, "guest")
            multifunction = address.get("multifunction") == "on"
            zpci_element = _find_path(address, "zpci")
            if zpci_element is not None:
                zpci = tuple((str(k), str(v)) for k, v in zpci_element.attrib.items())
            if guest is not None and _is_empty_address(guest):
                guest = None  # libvirt's "no address": it places the device itself
                multifunction = False
        nodeset: tuple[int, ...] | None = None
        acpi = children.get("acpi")
        if acpi is not None and acpi.get("nodeset") is not None:
            raw = acpi.get("nodeset", "")
            try:
                nodeset = parse_bitmap(raw, limit=MAX_NODE + 1)
            except BitmapError as error:
                self.report(
                    "GI-NODE-SYNTAX",
                    acpi,
                    f"<acpi nodeset='{raw}'> of {label}",
                    field="nodeset",
                    value=raw,
                    detail=error,
                )
        display = ramfb = None
        if kind.is_pci:
            display = self._on_off(element, "display", label)
            ramfb = self._on_off(element, "ramfb", label)
        invalid_source = None
        if kind is HostdevKind.MDEV and source is None and source_element is not None:
            address_element = _find_path(source_element, "address")
            if address_element is not None:
                invalid_source = tuple((str(k), str(v)) for k, v in address_element.attrib.items())
        managed = element.get("managed")
        driver = children.get("driver")
        iommufd = (
            self._yes_no(driver, "iommufd", f"<driver> of {label}") if driver is not None else None
        )
        return _assembled(
            Hostdev,
            kind=kind,
            alias=alias,
            alias_given=alias_given,
            source=source,
            guest_address=guest,
            nodeset=nodeset,
            managed=None if managed is None else managed == "yes",
            multifunction=multifunction,
            display=display,
            ramfb=ramfb,
            zpci=zpci,
            invalid_source=invalid_source,
            guest_address_type=address_type,
            iommufd=iommufd,
            line=element.sourceline or 0,
            acpi_line=source_line(acpi) if acpi is not None else 0,
        )

    def _source(self, kind: HostdevKind, source: etree._Element, label: str) -> Source | None:
        address = _find_path(source, "address")
        if kind is HostdevKind.PCI:
            if address is None:
                self.report(
                    "HOSTDEV-ADDRESS-SYNTAX",
                    source,
                    label,
                    field="<source>",
                    value="",
                    detail="no <address> in the source",
                )
                return None
            return self._pci_address(address, label, "source")
        if kind is HostdevKind.MDEV:
            return self._mdev_source(source, address, label)
        if kind is HostdevKind.USB:
            vendor = source.find("vendor")
            product = source.find("product")
            for element in (vendor, product):
                if element is not None and not self._usb_id_ok(element, label):
                    return None
            return UsbSource(
                vendor=vendor.get("id") if vendor is not None else None,
                product=product.get("id") if product is not None else None,
                bus=address.get("bus") if address is not None else None,
                device=address.get("device") if address is not None else None,
            )
        adapter = source.find("adapter")
        return ScsiSource(
            adapter=adapter.get("name", "") if adapter is not None else "",
            bus=address.get("bus", "") if address is not None else "",
            target=address.get("target", "") if address is not None else "",
            unit=address.get("unit", "") if address is not None else "",
        )

    def _mdev_source(
        self, source: etree._Element, address: etree._Element | None, label: str
    ) -> MdevSource | None:
        """An mdev's ``<address uuid>``, refused with libvirt 12.8's words (measured)."""
        uuid = address.get("uuid") if address is not None else None
        if uuid is not None and _UUID.match(uuid):
            digits = uuid.replace("-", "").lower()  # libvirt writes it dashed (measured)
            return MdevSource("-".join(digits[a:b] for a, b in _UUID_GROUPS))
        if address is None:
            field, detail = "<address>", "Missing <address> element"
        elif uuid is None:
            field, detail = "uuid", "Missing required attribute 'uuid' in element 'address'"
        else:
            field = "uuid"
            detail = (
                f"Invalid value for attribute 'uuid' in element 'address': '{uuid}'. Expected UUID"
            )
        self.report(
            "HOSTDEV-ADDRESS-SYNTAX",
            address if address is not None else source,
            label,
            field=field,
            value=uuid or "",
            detail=detail,
        )
        return None

    def _on_off(self, element: etree._Element, name: str, label: str) -> bool | None:
        """An ``on``/``off`` attribute of a hostdev (virTristateSwitch): None when absent."""
        raw = element.get(name)
        if raw is None:
            return None
        if raw in ("on", "off"):
            return raw == "on"
        self.report("HOSTDEV-SWITCH-SYNTAX", element, label, field=name, value=raw)
        return None

    def _usb_id_ok(self, element: etree._Element, label: str) -> bool:
        """libvirt's rule: a USB vendor/product id is a number in 1..0xffff."""
        raw = element.get("id", "")
        try:
            value = c_uint(raw)
            detail = "" if 0 < value <= 0xFFFF else "must be in 0x0001..0xffff"
        except ValueError as error:
            detail = str(error)
        if detail:
            self.report(
                "HOSTDEV-ADDRESS-SYNTAX",
                element,
                label,
                field=f"<{element.tag}> id",
                value=raw,
                detail=detail,
            )
        return not detail

    def _pci_address(self, element: etree._Element, owner: str, which: str) -> PciAddress | None:
        """``owner``'s ``which`` (source or guest) address; fields read once per text."""
        values: dict[str, int] = {}
        valid = True
        for name, limit in PCI_LIMITS.items():
            raw = element.get(name)
            if raw is None and (name == "domain" or which == "guest"):
                values[name] = 0  # libvirt reads an absent field of a guest address as 0
                continue
            value = self.numbers.get(raw) if raw is not None else None
            if value is None:
                try:
                    if raw is None:
                        raise ValueError("missing")
                    value = c_uint(raw)
                except ValueError as error:
                    detail = (
                        str(error)
                        if raw is None
                        else f"Invalid value for attribute '{name}' in element 'address': "
                        f"'{raw}'. Expected non-negative integer value ({error})"
                    )
                    self.report(
                        "HOSTDEV-ADDRESS-SYNTAX",
                        element,
                        f"{owner} {which} <address>",
                        field=name,
                        value=raw if raw is not None else "",
                        detail=detail,
                    )
                    valid = False
                    continue
                self.numbers[raw] = value
            if value > limit:
                self.report(
                    "HOSTDEV-ADDRESS-SYNTAX",
                    element,
                    f"{owner} {which} <address>",
                    field=name,
                    value=raw,
                    detail=_above(name, value, limit),
                )
                valid = False
            values[name] = value
        return _assembled(PciAddress, **values) if valid else None

    def _seed_initiator(
        self,
        element: etree._Element,
        children: dict[str, etree._Element],
        alias: str,
        *,
        alias_given: bool,
    ) -> Initiator:
        device_element = children.get("pci-dev")
        node_element = children.get("numa-node")
        device: str | None = None
        node: int | None = None
        if device_element is None:
            label = f"<acpi-generic-initiator> '{alias}'"
            self.report("GI-MISSING-FIELD", element, label, field="pci-dev")
        else:
            device = (device_element.text or "").strip()
        if node_element is None:
            label = f"<acpi-generic-initiator> '{alias}'"
            self.report("GI-MISSING-FIELD", element, label, field="numa-node")
        else:
            text = (node_element.text or "").strip()
            if text.isascii() and text.isdigit() and len(text) < 10 and int(text) <= MAX_NODE:
                node = int(text)
            else:
                self.report(
                    "GI-NODE-SYNTAX",
                    node_element,
                    f"<acpi-generic-initiator> '{alias}'",
                    field="<numa-node>",
                    value=text,
                    detail=f"not an integer in 0..{MAX_NODE}",
                )
        return _assembled(
            Initiator,
            id=alias,
            device=device,
            node=node,
            dialect=Dialect.SEED,
            alias_given=alias_given,
            line=element.sourceline or 0,
        )


def _uefi(os_element: etree._Element | None) -> bool:
    """Whether libvirt counts the firmware as UEFI (measured on 12.8: ``firmware='efi'``
    or a ``pflash`` loader passes its aarch64 ACPI check; a ``rom`` or untyped loader
    does not)."""
    if os_element is None:
        return False
    if os_element.get("firmware") == "efi":
        return True
    loader = next(os_element.iterchildren("loader"), None)
    return loader is not None and loader.get("type") == "pflash"


def _find_path(element: etree._Element, *tags: str) -> etree._Element | None:
    """``element.find("a/b")`` for a path of plain tags, walking the same children
    (each ``a`` in turn, then its ``b`` children) without ElementPath's per-call setup."""
    if len(tags) == 1:
        return next(element.iterchildren(tags[0]), None)
    for child in element.iterchildren(tags[0]):
        found = _find_path(child, *tags[1:])
        if found is not None:
            return found
    return None


def _vcpu_auto(root: etree._Element) -> bool:
    """Whether some ``<vcpu>`` says ``placement='auto'``."""
    return any(vcpu.get("placement") == "auto" for vcpu in root.iterchildren("vcpu"))


def _cell_label(raw_id: str | None, position: int) -> str:
    """How problems name a cell: by its id as written, else by its position."""
    return f"<cell id='{raw_id}'>" if raw_id is not None else f"<cell> #{position}"


def _children_and_alias(
    element: etree._Element,
) -> tuple[dict[str, etree._Element], str | None]:
    """A device's children by tag (as :func:`_children`) and its ``<alias name>``."""
    children: dict[str, etree._Element] = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and tag not in children:
            children[tag] = child
    alias = children.get("alias")
    return children, alias.get("name") if alias is not None else None


def _children_by_tag(element: etree._Element) -> dict[str, list[etree._Element]]:
    """Every child element by tag, in document order: one walk over ``<devices>`` for
    the hostdevs, initiators, controllers, IOMMUs, video and the other devices' slots,
    each of which used to walk it again."""
    found: dict[str, list[etree._Element]] = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str):
            found.setdefault(tag, []).append(child)
    return found


def _text(element: etree._Element | None) -> str:
    """``findtext``'s reading: the element's text, ``""`` when it has none or is absent."""
    return (element.text or "") if element is not None else ""
