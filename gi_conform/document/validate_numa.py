"""Cross-element rules for the NUMA features beside the initiators: memory access,
``<numatune>`` and HMAT. Called by :func:`gi_conform.document.validate.check_domain`.

What QEMU does decides the HMAT rules (an initiator may be a cell whose only initiator
is a GPU's generic initiator); libvirt's own checks decide the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Set

from gi_conform.bitmap import format_bitmap
from gi_conform.document._facts import DomainFacts
from gi_conform.model import Cell, CellCache, Domain, HugePage, Interconnect, Numatune
from gi_conform.rules import Violation, violation

__all__ = ["initiator_nodes", "numa_feature_rules"]


def _label(cell: Cell) -> str:
    return f"<cell id='{cell.id}'>"


def initiator_nodes(domain: Domain, gi_nodes: Set[int], cpu_nodes: Set[int]) -> set[int]:
    """Cells that are initiator proximity domains: they have CPUs or a generic initiator."""
    return set(gi_nodes) | set(cpu_nodes)


def numa_feature_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    """``facts``: the model's shared facts (the cells by id, the nodes PCI devices'
    initiators land on, the cells with vCPUs)."""
    yield from _memory_rules(domain, facts)
    yield from _numatune_rules(domain, facts)
    if domain.uses_hmat:  # every HMAT rule is about interconnects or caches
        yield from _hmat_rules(domain, facts)


def _memory_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    for cell in domain.cells:
        if cell.memory != 0 or (cell.mem_access is None and cell.discard is None):
            continue
        for attribute, value in (("memAccess", cell.mem_access), ("discard", cell.discard)):
            if value is not None:
                yield violation(
                    "NUMA-CELL-ATTRIBUTE-IGNORED",
                    cell.line,
                    _label(cell),
                    attribute=attribute,
                    cell=cell.id,
                )
    backing = domain.memory_backing
    if backing is not None:
        yield from _page_rules(facts, backing.pages)
    if backing is not None and backing.hugepages and backing.source == "anonymous":
        # libvirt 12.8 (qemu validation), any arch, with or without cells, any page size
        yield violation("MEMORY-HUGEPAGES-ANONYMOUS", backing.line, "<memoryBacking>")
    elif backing is not None and backing.hugepages and not domain.cells:
        yield violation("MEMORY-HUGEPAGES-NOT-MODELLED", backing.line, "<memoryBacking>")


def _page_rules(facts: DomainFacts, pages: tuple[HugePage, ...]) -> Iterator[Violation]:
    """libvirt's checks of ``<hugepages><page>`` (virDomainHugepagesParseXML and the
    domain's post-parse), with its messages; sizes in KiB as libvirt prints them."""
    cells = facts.cell_ids or {0}
    seen: list[HugePage] = []
    for page in pages:
        detail = None
        unknown = sorted(set(page.nodeset or ()) - cells)
        if unknown:
            detail = f"hugepages: node {unknown[0]} not found"
        for other in seen:
            if page.size is None or other.size is None or detail is not None:
                continue
            if page.nodeset is None and other.nodeset is None:
                detail = (
                    f"two master hugepages detected: {page.size // 1024} and {other.size // 1024}"
                )
            elif set(page.nodeset or ()) & set(other.nodeset or ()):
                detail = (
                    f"nodeset attribute of hugepages of sizes {page.size // 1024} and "
                    f"{other.size // 1024} intersect"
                )
        if detail is not None:
            yield violation(
                "MEMORY-HUGEPAGES-NODESET", page.line, "<hugepages><page>", detail=detail
            )
        seen.append(page)


_MEMNODE_NO_CELLS = "Element 'memnode' is invalid without any guest NUMA cells"
_MEMNODE_CELL_UNKNOWN = (
    "Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell"
)
"""libvirt's two refusals of a ``<memnode>`` whose cell does not exist
(virDomainNumatuneNodeParseXML): the first when the domain has no cell at all."""


def _numatune_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    tune = domain.numatune
    if tune is None:
        return
    cells = facts.cells
    first: dict[int, int] = {}
    for memnode in tune.memnodes:
        if memnode.cell is None:
            continue
        label = f"<memnode cellid='{memnode.cell}'>"
        cell = cells.get(memnode.cell)
        if cell is None:
            yield violation(
                "NUMATUNE-CELL-UNKNOWN",
                memnode.line,
                label,
                libvirt=_MEMNODE_NO_CELLS if not cells else _MEMNODE_CELL_UNKNOWN,
                cell=memnode.cell,
                cells=format_bitmap(cells) if cells else "none",
            )
        elif memnode.cell in first:
            yield violation(
                "NUMATUNE-CELL-DUPLICATE",
                memnode.line,
                label,
                cell=memnode.cell,
                first_line=first[memnode.cell],
            )
        elif cell.memory == 0:
            yield violation("NUMATUNE-MEMORYLESS", memnode.line, label, cell=memnode.cell)
        first.setdefault(memnode.cell, memnode.line)
    yield from _restrictive_rules(tune)
    if tune.placement_auto:
        for memnode in tune.memnodes:
            yield violation(
                "NUMATUNE-PLACEMENT-AUTO-MEMNODE",
                memnode.line,
                f"<memnode cellid='{memnode.cell}'>",
            )
        if not tune.memnodes:
            yield violation("NUMATUNE-PLACEMENT-AUTO", tune.line, "<numatune><memory>")


def _restrictive_rules(tune: Numatune) -> Iterator[Violation]:
    """libvirt: 'restrictive' (binding through cgroups, not the backends) is all or none."""
    domain_wide = tune.has_memory and tune.mode == "restrictive"
    for memnode in tune.memnodes:
        if memnode.mode is None or (memnode.mode == "restrictive") == domain_wide:
            continue
        if memnode.mode == "restrictive" or tune.has_memory:
            # libvirt names the element that lacks 'restrictive' (virDomainNumaDefValidate)
            required, given = ("memnode", "memory") if domain_wide else ("memory", "memnode")
            yield violation(
                "NUMATUNE-RESTRICTIVE",
                memnode.line,
                f"<memnode cellid='{memnode.cell}'>",
                required=required,
                given=given,
                memnode=memnode.mode,
                memory=tune.mode if tune.has_memory else "absent",
            )


def _link_label(link: Interconnect) -> str:
    return f"<{link.kind} initiator='{link.initiator}' target='{link.target}'>"


def _described(domain: Domain, cell_id: int, kind: str) -> bool:
    return any(
        link.kind == kind and link.target == cell_id and link.value for link in domain.interconnects
    )


_ENTRY_MAX = 65534
"""HMAT entries are 16-bit, 0xFFFF meaning unreachable: QEMU's limit after compression."""
MIB = 1024
"""Bandwidths are held in KiB/s; QEMU needs whole MiB/s."""


def _decimal_base(value: int) -> int:
    base = 1
    while value % (base * 10) == 0:
        base *= 10
    return base


def _value_rules(links: list[Interconnect]) -> Iterator[Violation]:
    """QEMU's encoding limits, per (hierarchy, data type) as it keeps them: latencies share
    a power-of-ten base, bandwidths a power-of-two one, entries at most 65534 of them."""
    groups: dict[tuple[str, int, str], list[Interconnect]] = {}
    for link in links:
        if link.value is None or link.type is None or link.cache is None:
            continue
        groups.setdefault((link.kind, link.cache, link.type), []).append(link)
    for (kind, _, _), group in groups.items():
        if kind == "bandwidth":
            unaligned = [link for link in group if link.value and link.value % MIB]
            for link in unaligned:
                yield violation(
                    "HMAT-VALUE",
                    link.line,
                    _link_label(link),
                    detail=f"bandwidth {link.value} KiB/s is not a whole number of MiB/s",
                )
            if unaligned:
                continue
            values = [(link.value or 0) // MIB for link in group]
            bits = 0
            for value in values:
                bits |= value
            base = bits & -bits  # the largest power of two dividing every value
            # QEMU: the values' set bits within 16 of each other, every entry below 0xFFFF
            too_wide = bits.bit_length() - base.bit_length() > 16 if bits else False
            if too_wide or (base and max(values) // base > _ENTRY_MAX):
                widest = max(group, key=lambda link: link.value or 0)
                yield violation(
                    "HMAT-VALUE",
                    widest.line,
                    _link_label(widest),
                    detail=f"the {kind}s of this type span more than {_ENTRY_MAX}x "
                    "their common power-of-two unit",
                )
            continue
        values = [link.value for link in group if link.value]
        if not values:
            continue
        base = min(_decimal_base(value) for value in values)
        widest = max(group, key=lambda link: link.value or 0)
        if (widest.value or 0) // base > _ENTRY_MAX:
            yield violation(
                "HMAT-VALUE",
                widest.line,
                _link_label(widest),
                detail=f"latency {widest.value} ns is more than {_ENTRY_MAX}x the common "
                f"power-of-ten unit ({base} ns) of the latencies of this type",
            )


def _cache_rules(cell: Cell) -> Iterator[Violation]:
    """QEMU's side-cache order: levels 1..n each once, each larger than the one above."""
    previous: CellCache | None = None
    seen: set[int] = set()
    for cache in sorted(cell.caches, key=lambda c: (c.level or 0, c.line)):
        if cache.level is None or cache.size is None:
            continue
        label = f"<cache level='{cache.level}'> of {_label(cell)}"
        if cache.level in seen:
            yield violation("HMAT-CACHE-LEVELS", cache.line, label, detail="a level given twice")
            continue
        seen.add(cache.level)
        if cache.level > 1 and cache.level - 1 not in seen:
            detail = f"level {cache.level - 1} is missing"
            yield violation("HMAT-CACHE-LEVELS", cache.line, label, detail=detail)
        elif previous is not None and previous.size is not None and cache.size <= previous.size:
            detail = (
                f"{cache.size} bytes is not larger than level {previous.level}'s {previous.size}"
            )
            yield violation("HMAT-CACHE-LEVELS", cache.line, label, detail=detail)
        previous = cache


def _hmat_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    cells = facts.cells
    yield from _value_rules(list(domain.interconnects))
    for cell_id, cell in cells.items():
        if not cell.caches:
            continue
        yield from _cache_rules(cell)
        if not (
            _described(domain, cell_id, "latency") and _described(domain, cell_id, "bandwidth")
        ):
            yield violation(
                "HMAT-CACHE-WITHOUT-LB",
                cell.caches[0].line,
                f"<cache> of {_label(cell)}",
                cell=cell.id,
            )
    if domain.interconnects:
        initiators = initiator_nodes(domain, facts.gi_nodes, facts.cpu_cells)
        yield from _link_rules(domain, cells, initiators)


def _link_rules(
    domain: Domain, cells: dict[int, Cell], initiators: Set[int]
) -> Iterator[Violation]:
    """Each interconnect's nodes exist, its initiator can initiate, its cache exists, and
    no (kind, initiator, target, cache, type) is given twice."""
    first: dict[tuple[str, int, int, int, str], int] = {}
    for link in domain.interconnects:
        label = _link_label(link)
        known = True
        for name, node in (("initiator", link.initiator), ("target", link.target)):
            if node is not None and node not in cells:
                known = False
                cell_text = format_bitmap(cells) if cells else "none"
                yield violation(
                    "HMAT-NODE-UNKNOWN", link.line, label, field=name, node=node, cells=cell_text
                )
        if not known or link.initiator is None or link.target is None:
            continue
        if link.initiator not in initiators:
            yield violation("HMAT-INITIATOR-INVALID", link.line, label, node=link.initiator)
        target = cells[link.target]
        if link.cache and link.cache not in {c.level for c in target.caches}:
            yield violation(
                "HMAT-CACHE-UNKNOWN", link.line, label, target=link.target, cache=link.cache
            )
        if link.type is None:
            continue
        if link.cache is None:
            continue
        key = (link.kind, link.initiator, link.target, link.cache, link.type)
        if key in first:
            yield violation(
                "HMAT-DUPLICATE", link.line, label, kind=link.kind, first_line=first[key]
            )
        else:
            first[key] = link.line
