"""Cross-element rules for the NUMA features beside the initiators: memory access,
``<numatune>`` and HMAT. Called by :func:`gi_conform.validate.check_domain`.

What QEMU does decides the HMAT rules (an initiator may be a cell whose only initiator
is a GPU's generic initiator); libvirt's own checks decide the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Set

from gi_conform.bitmap import format_bitmap
from gi_conform.model import Cell, Domain, Interconnect
from gi_conform.rules import Violation, violation

__all__ = ["initiator_nodes", "numa_feature_rules"]


def _label(cell: Cell) -> str:
    return f"<cell id='{cell.id}'>"


def initiator_nodes(domain: Domain, gi_nodes: Set[int], cpu_nodes: Set[int]) -> set[int]:
    """Cells that are initiator proximity domains: they have CPUs or a generic initiator."""
    return set(gi_nodes) | set(cpu_nodes)


def numa_feature_rules(
    domain: Domain, gi_nodes: Set[int], cpu_nodes: Set[int]
) -> Iterator[Violation]:
    """``gi_nodes``: cells a PCI device's initiator lands on; ``cpu_nodes``: cells with
    vCPUs (cell 0 included when it takes the unassigned ones)."""
    yield from _memory_rules(domain)
    yield from _numatune_rules(domain)
    yield from _hmat_rules(domain, initiator_nodes(domain, gi_nodes, cpu_nodes))


def _memory_rules(domain: Domain) -> Iterator[Violation]:
    for cell in domain.cells:
        if cell.memory != 0:
            continue
        if cell.mem_access is not None:
            yield violation(
                "NUMA-CELL-ATTRIBUTE-IGNORED",
                cell.line,
                _label(cell),
                attribute="memAccess",
                cell=cell.id,
            )
        if cell.discard is not None:
            yield violation(
                "NUMA-CELL-ATTRIBUTE-IGNORED",
                cell.line,
                _label(cell),
                attribute="discard",
                cell=cell.id,
            )
    backing = domain.memory_backing
    if backing is not None and backing.hugepages:
        yield violation("MEMORY-HUGEPAGES-NOT-MODELLED", backing.line, "<memoryBacking>")


def _numatune_rules(domain: Domain) -> Iterator[Violation]:
    tune = domain.numatune
    if tune is None:
        return
    cells = {cell.id: cell for cell in domain.cells if cell.id is not None}
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


def _link_label(link: Interconnect) -> str:
    return f"<{link.kind} initiator='{link.initiator}' target='{link.target}'>"


def _described(domain: Domain, cell_id: int, kind: str) -> bool:
    return any(
        link.kind == kind and link.target == cell_id and link.cache == 0 and link.value
        for link in domain.interconnects
    )


def _hmat_rules(domain: Domain, initiators: Set[int]) -> Iterator[Violation]:
    cells = {cell.id: cell for cell in domain.cells if cell.id is not None}
    for cell_id, cell in cells.items():
        if cell.caches and not (
            _described(domain, cell_id, "latency") and _described(domain, cell_id, "bandwidth")
        ):
            yield violation(
                "HMAT-CACHE-WITHOUT-LB",
                cell.caches[0].line,
                f"<cache> of {_label(cell)}",
                cell=cell.id,
            )
    cell_text = format_bitmap(cells) if cells else "none"
    first: dict[tuple[str, int, int, int, str], int] = {}
    for link in domain.interconnects:
        label = _link_label(link)
        known = True
        for name, node in (("initiator", link.initiator), ("target", link.target)):
            if node is not None and node not in cells:
                known = False
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
        key = (link.kind, link.initiator, link.target, link.cache or 0, link.type)
        if key in first:
            yield violation(
                "HMAT-DUPLICATE", link.line, label, kind=link.kind, first_line=first[key]
            )
        else:
            first[key] = link.line
