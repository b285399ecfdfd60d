"""Reading the NUMA features that sit beside the initiators: memory access and
backing, ``<numatune>`` and HMAT (``<interconnects>``, ``<cache>``).

Split from :mod:`gi_conform.document.parse` to keep each module small; the reading style is the
same: a field that cannot be read is reported once (a ``*-SYNTAX`` rule) and left
``None`` so the validator skips it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from lxml import etree

from gi_conform.bitmap import BitmapError, EmptyBitmapError, parse_bitmap
from gi_conform.model import (
    CacheAssociativity,
    CachePolicy,
    CellCache,
    HugePage,
    Interconnect,
    InterconnectType,
    MemNode,
    MemoryBacking,
    Numatune,
    NumatuneMode,
)
from gi_conform.units import UnitError, exact_bytes, to_bytes

__all__ = [
    "ACCESS_MODES",
    "BACKING_SOURCES",
    "NumaReader",
]

ACCESS_MODES = ("shared", "private")
BACKING_SOURCES = ("anonymous", "file", "memfd")
ALLOCATION_MODES = ("immediate", "ondemand")
MAX_HOST_NODE = 1023
"""Host NUMA node numbers above this are refused: libnuma's usual limit (NUMA_NUM_NODES)."""
_MAX_UINT32 = 2**32 - 1

_Word = TypeVar("_Word", CacheAssociativity, CachePolicy, InterconnectType)

Report = Callable[..., None]
"""``report(rule, element, label, **fields)``, the parser's problem sink."""


def _line(element: etree._Element) -> int:
    line = element.sourceline
    return line if isinstance(line, int) else 0


def _number(text: str | None, limit: int = _MAX_UINT32) -> int | None:
    stripped = (text or "").strip()
    if stripped.isascii() and stripped.isdigit() and len(stripped) < 12:
        value = int(stripped)
        return value if value <= limit else None
    return None


class NumaReader:
    """Reads one document's memory, numatune and HMAT elements; problems go to ``report``."""

    def __init__(self, report: Report) -> None:
        self.report = report

    # -- cells ---------------------------------------------------------------------

    def cell_access(self, element: etree._Element, label: str) -> tuple[str | None, bool | None]:
        """``memAccess`` and ``discard`` of one ``<cell>``."""
        access = element.get("memAccess")
        if access is not None and access not in ACCESS_MODES:
            self.report(
                "NUMA-CELL-ATTRIBUTE-SYNTAX",
                element,
                label,
                attribute="memAccess",
                value=access,
                allowed="shared, private",
            )
            access = None
        raw_discard = element.get("discard")
        discard: bool | None = None
        if raw_discard is not None:
            if raw_discard in ("yes", "no"):
                discard = raw_discard == "yes"
            else:
                self.report(
                    "NUMA-CELL-ATTRIBUTE-SYNTAX",
                    element,
                    label,
                    attribute="discard",
                    value=raw_discard,
                    allowed="yes, no",
                )
        return access, discard

    def caches(self, cell: etree._Element, label: str) -> tuple[CellCache, ...]:
        return tuple(self._cache(c, label) for c in cell.iterchildren("cache"))

    def _cache(self, element: etree._Element, cell_label: str) -> CellCache:
        label = f"<cache> of {cell_label}"
        level = self._choice_number(element, label, "level", 1, 3)
        associativity = self._choice(element, label, "associativity", CacheAssociativity)
        policy = self._choice(element, label, "policy", CachePolicy)
        size = self._size(
            element.find("size"), element, label, "size", "KiB", limit=_MAX_UINT32 * 1024
        )
        # QEMU's hmat-cache line is a uint16_t
        line_size = self._size(element.find("line"), element, label, "line", "B", limit=0xFFFF)
        return CellCache(level, associativity, policy, size, line_size, line=_line(element))

    def _size(
        self,
        element: etree._Element | None,
        parent: etree._Element,
        label: str,
        name: str,
        default_unit: str,
        *,
        limit: int,
    ) -> int | None:
        if element is None:
            self.report("HMAT-SYNTAX", parent, label, field=f"<{name}>", value="(missing)")
            return None
        value = element.get("value", "")
        try:
            size = exact_bytes(value, element.get("unit"), default_unit=default_unit)
        except UnitError:
            size = 0
        if size <= 0 or size > limit:
            self.report("HMAT-SYNTAX", element, label, field=f"<{name} value>", value=value)
            return None
        return size

    # -- HMAT ------------------------------------------------------------------------

    def interconnects(self, numa: etree._Element) -> tuple[Interconnect, ...]:
        links: list[Interconnect] = []
        for container in numa.iterchildren("interconnects"):
            for element in container.iterchildren("latency", "bandwidth"):
                links.append(self._interconnect(element))
        return tuple(links)

    def _interconnect(self, element: etree._Element) -> Interconnect:
        kind = str(element.tag)
        label = f"<{kind} initiator='{element.get('initiator')}' target='{element.get('target')}'>"
        initiator = self._required_number(element, label, "initiator")
        target = self._required_number(element, label, "target")
        cache: int | None = 0
        if element.get("cache") is not None:
            cache = self._choice_number(element, label, "cache", 1, 3)  # None: reported
        kind_type = self._choice(element, label, "type", InterconnectType)
        value = self._required_number(element, label, "value")
        if kind == "bandwidth" and value is not None:
            unit = element.get("unit")
            try:
                # in KiB/s, rounded up as libvirt stores it
                value = -(-exact_bytes(str(value), unit, default_unit="KiB") // 1024)
            except UnitError:
                self.report("HMAT-SYNTAX", element, label, field="unit", value=unit or "")
                value = None
        return Interconnect(kind, initiator, target, cache, kind_type, value, line=_line(element))

    def _required_number(self, element: etree._Element, label: str, name: str) -> int | None:
        raw = element.get(name)
        value = _number(raw)
        if value is None:
            self.report("HMAT-SYNTAX", element, label, field=name, value=raw or "(missing)")
        return value

    def _choice_number(
        self, element: etree._Element, label: str, name: str, low: int, high: int
    ) -> int | None:
        raw = element.get(name)
        value = _number(raw)
        if value is None or not low <= value <= high:
            self.report("HMAT-SYNTAX", element, label, field=name, value=raw or "(missing)")
            return None
        return value

    def _choice(
        self, element: etree._Element, label: str, name: str, words: type[_Word]
    ) -> _Word | None:
        raw = element.get(name)
        if raw is None or raw not in words._value2member_map_:
            self.report("HMAT-SYNTAX", element, label, field=name, value=raw or "(missing)")
            return None
        return words(raw)

    # -- memoryBacking ---------------------------------------------------------------

    def memory_backing(self, element: etree._Element | None) -> MemoryBacking | None:
        if element is None:
            return None
        source = self._backing_choice(element, "source", "type", BACKING_SOURCES)
        access = self._backing_choice(element, "access", "mode", ACCESS_MODES)
        allocation = (
            self._backing_choice(element, "allocation", "mode", ALLOCATION_MODES)
            if element.find("allocation[@mode]") is not None
            else None
        )
        raw_threads = element.find("allocation")
        threads = None
        if raw_threads is not None and raw_threads.get("threads") is not None:
            threads = _number(raw_threads.get("threads"))
            if threads is None:
                self.report(
                    "MEMORY-BACKING-SYNTAX",
                    raw_threads,
                    "<memoryBacking><allocation>",
                    attribute="threads",
                    value=raw_threads.get("threads", ""),
                    allowed="a non-negative integer",
                )
        hugepages = element.find("hugepages")
        pages = (
            tuple(self._page(page) for page in hugepages.iterchildren("page"))
            if hugepages is not None
            else ()
        )
        return MemoryBacking(
            source=source,
            access=access,
            discard=element.find("discard") is not None,
            hugepages=hugepages is not None,
            pages=pages,
            allocation_immediate=allocation == "immediate",
            allocation_threads=threads,
            line=_line(element),
        )

    def _page(self, page: etree._Element) -> HugePage:
        size: int | None = None
        try:
            size = to_bytes(page.get("size", ""), page.get("unit"))
        except UnitError:
            self.report(
                "MEMORY-BACKING-SYNTAX",
                page,
                "<hugepages><page>",
                attribute="size",
                value=page.get("size", ""),
                allowed="a size with a unit",
            )
        nodeset: tuple[int, ...] | None = None
        raw = page.get("nodeset")
        if raw is not None:
            try:
                nodeset = parse_bitmap(raw, limit=MAX_HOST_NODE + 1)
            except BitmapError:
                self.report(
                    "MEMORY-BACKING-SYNTAX",
                    page,
                    "<hugepages><page>",
                    attribute="nodeset",
                    value=raw,
                    allowed="a node bitmap",
                )
        return HugePage(size, nodeset, line=_line(page))

    def _backing_choice(
        self, backing: etree._Element, tag: str, attribute: str, allowed: tuple[str, ...]
    ) -> str | None:
        """``<memoryBacking><tag attribute>``: its value, None when absent or unknown."""
        element = backing.find(tag)
        if element is None:
            return None
        value = element.get(attribute)
        if value in allowed:
            return value
        self.report(
            "MEMORY-BACKING-SYNTAX",
            element,
            f"<memoryBacking><{tag}>",
            attribute=attribute,
            value=value or "",
            allowed=", ".join(allowed),
        )
        return None

    # -- numatune --------------------------------------------------------------------

    def numatune(
        self, element: etree._Element | None, *, vcpu_auto: bool = False
    ) -> Numatune | None:
        """``vcpu_auto``: ``<vcpu placement='auto'>``, the default of ``<memory placement>``
        when no nodeset is given (virDomainNumatuneParseXML). Each problem's detail is
        libvirt 12.8's own message for it (measured); for a node list the reference cannot
        read, its own reason (libvirt says ``Failed to parse bitmap``)."""
        if element is None:
            return None
        memory = element.find("memory")
        mode: NumatuneMode | None = None
        nodeset: tuple[int, ...] | None = ()
        nodeset_text: str | None = None
        placement_auto = False
        if memory is not None:
            label = "<numatune><memory>"
            mode = self._tune_mode(memory, label)
            nodeset, nodeset_text = self._host_nodeset(memory, label)
            placement = memory.get("placement")
            if placement not in (None, "static", "auto"):
                detail = f"Unsupported NUMA memory placement mode '{placement}'"
                self._syntax(memory, label, "placement", placement or "", detail)
            placement_auto = placement == "auto" or (
                placement is None and memory.get("nodeset") is None and vcpu_auto
            )
            if (
                memory.get("nodeset") is None
                and placement in (None, "static")
                and not placement_auto
            ):
                # virDomainNumatuneSet: static placement (explicit, or the default beside
                # <vcpu placement='static'>) needs the nodes; an unknown one is reported
                # above, and libvirt stops there
                detail = "nodeset for NUMA memory tuning must be set if 'placement' is 'static'"
                self._syntax(memory, label, "nodeset", "(missing)", detail)
                nodeset = None
        memnodes = tuple(self._memnode(m) for m in element.iterchildren("memnode"))
        return Numatune(
            mode=mode,
            nodeset=nodeset,
            nodeset_text=nodeset_text,
            has_memory=memory is not None,
            placement_auto=placement_auto,
            memnodes=memnodes,
            line=_line(element),
        )

    def _syntax(
        self, element: etree._Element, label: str, field: str, value: str, detail: str
    ) -> None:
        self.report("NUMATUNE-SYNTAX", element, label, field=field, value=value, detail=detail)

    def _memnode(self, element: etree._Element) -> MemNode:
        raw = element.get("cellid")
        label = f"<memnode cellid='{raw}'>"
        cell = _number(raw)
        if cell is None:
            detail = (
                "Missing required attribute 'cellid' in element 'memnode'"
                if raw is None
                else f"Invalid value for attribute 'cellid' in element 'memnode': '{raw}'. "
                "Expected non-negative integer value"
            )
            self._syntax(element, label, "cellid", raw or "", detail)
        mode = self._tune_mode(element, label)
        nodeset, nodeset_text = self._host_nodeset(element, label)
        if element.get("nodeset") is None:
            detail = "Missing required nodeset attribute in memnode element"
            self._syntax(element, label, "nodeset", "(missing)", detail)
            nodeset = None
        return MemNode(cell, mode, nodeset, nodeset_text, line=_line(element))

    def _tune_mode(self, element: etree._Element, label: str) -> NumatuneMode | None:
        mode = element.get("mode", "strict")
        if mode not in NumatuneMode._value2member_map_:
            detail = (
                f"Invalid value for attribute 'mode' in element 'memnode': '{mode}'."
                if element.tag == "memnode"
                else f"Unsupported NUMA memory tuning mode '{mode}'"
            )
            self._syntax(element, label, "mode", mode, detail)
            return None
        return NumatuneMode(mode)

    def _host_nodeset(
        self, element: etree._Element, label: str
    ) -> tuple[tuple[int, ...] | None, str | None]:
        """The nodes, and the text as written when it cannot be read (nodes None then)."""
        raw = element.get("nodeset")
        if raw is None:
            return (), None
        try:
            return parse_bitmap(raw, limit=MAX_HOST_NODE + 1), None
        except EmptyBitmapError:
            detail = f"Invalid value of 'nodeset': {raw}"
        except BitmapError as error:
            detail = f"not a host node list of nodes 0..{MAX_HOST_NODE} ({error})"
        self._syntax(element, label, "nodeset", raw, detail)
        return None, raw
