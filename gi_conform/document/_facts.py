"""What several validator rules read, derived once per document.

The rule groups of :mod:`gi_conform.document.validate` and
:mod:`gi_conform.document.validate_numa` each used to re-derive these (the cell ids,
the initiator claims, the hostdev an alias names and whether it is a PCI device, the
vCPUs no cell names); derived here once, they cost one walk of the model, not one per
rule.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from gi_conform.model import Cell, Domain, Hostdev, _assembled
from gi_conform.semantics import (
    InitiatorClaim,
    cpu_cells_written,
    initiator_claims,
    initiator_pairs,
)

__all__ = ["DomainFacts", "domain_facts"]


@dataclass(frozen=True)
class DomainFacts:
    """The shared facts of one model (a model is immutable: they never go stale)."""

    pairs: tuple[tuple[str, int], ...]
    """:func:`gi_conform.semantics.initiator_pairs`: (device, node) by line."""
    claimed_nodes: frozenset[int]
    """Every node some initiator names."""
    cell_ids: frozenset[int]
    """The readable cell ids."""
    cells: dict[int, Cell]
    """Each readable id's cell (the last one of a duplicated id)."""
    hostdevs: dict[str, Hostdev]
    """Each alias's first hostdev, as :meth:`gi_conform.model.Domain.hostdev` finds it."""
    pci_aliases: frozenset[str]
    """Aliases whose hostdev QEMU sees as a PCI device (PCI or mdev)."""
    gi_nodes: frozenset[int]
    """Nodes some PCI device's generic initiator lands on."""
    domain: Domain

    @functools.cached_property
    def claims(self) -> tuple[InitiatorClaim, ...]:
        """:func:`gi_conform.semantics.initiator_claims`, by line: the pairs with their
        elements' lines and labels, built only when a rule names one."""
        return tuple(initiator_claims(self.domain))

    @functools.cached_property
    def cpu_cells(self) -> set[int]:
        """:func:`gi_conform.semantics.cpu_cells_written`, derived only when asked (HMAT)."""
        return cpu_cells_written(self.domain)


def domain_facts(domain: Domain) -> DomainFacts:
    """The facts of ``domain``, from one walk of its cells, hostdevs and claims."""
    pairs = tuple(initiator_pairs(domain))
    cells: dict[int, Cell] = {}
    for cell in domain.cells:
        if cell.id is not None:
            cells[cell.id] = cell
    hostdevs: dict[str, Hostdev] = {}
    for hostdev in domain.hostdevs:
        hostdevs.setdefault(hostdev.alias, hostdev)
    pci_aliases = frozenset(alias for alias, h in hostdevs.items() if h.kind.is_pci)
    return _assembled(
        DomainFacts,
        pairs=pairs,
        claimed_nodes=frozenset(node for _, node in pairs),
        cell_ids=frozenset(cells),
        cells=cells,
        hostdevs=hostdevs,
        pci_aliases=pci_aliases,
        gi_nodes=frozenset(node for device, node in pairs if device in pci_aliases),
        domain=domain,
    )
