"""Invalid documents: which mutation breaks which error rule, and the strategy drawing them.

Owns the table from rule id to mutation (:data:`MUTATED_RULES` is its keys) and
:func:`invalid_documents`, which draws a plain topology, applies one mutation to its tree
and renders it with the same variations valid documents get. The mutations themselves
live in ``_mutations_domain`` and ``_mutations_devices``.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from gi_conform.model import Dialect
from gi_conform.rules import Severity, catalogue
from gi_conform.strategies._mutation_helpers import _Mutation
from gi_conform.strategies._mutations_devices import (
    _m_address_reserved,
    _m_address_syntax,
    _m_alias_duplicate,
    _m_alias_reserved,
    _m_alias_syntax,
    _m_bus_slot,
    _m_gi_device_unknown,
    _m_gi_duplicate,
    _m_gi_missing_field,
    _m_gi_no_numa,
    _m_gi_node_syntax,
    _m_gi_node_unknown,
    _m_gi_not_pci,
    _m_guest_address_type,
    _m_guest_duplicate,
    _m_hugepages_anonymous,
    _m_iommufd_fdgroup,
    _m_iommufd_syntax,
    _m_mdev_display_graphics,
    _m_multifunction,
    _m_ramfb_multiple,
    _m_source_duplicate,
    _m_switch_syntax,
    _m_zpci_arch,
)
from gi_conform.strategies._mutations_domain import (
    _m_backing_syntax,
    _m_cell_attribute_syntax,
    _m_cell_id_duplicate,
    _m_cell_id_noncontiguous,
    _m_cell_id_syntax,
    _m_cpus_out_of_range,
    _m_cpus_overlap,
    _m_cpus_syntax,
    _m_distance_sibling_unknown,
    _m_distance_syntax,
    _m_distance_value,
    _m_domain_acpi_uefi,
    _m_domain_memory_missing,
    _m_gi_acpi_disabled,
    _m_hmat_cache_levels,
    _m_hmat_cache_unknown,
    _m_hmat_cache_without_lb,
    _m_hmat_duplicate,
    _m_hmat_initiator_invalid,
    _m_hmat_node_unknown,
    _m_hmat_syntax,
    _m_hmat_value,
    _m_hugepages_nodeset,
    _m_memory_syntax,
    _m_numa_no_cells,
    _m_numa_no_memory,
    _m_numatune_cell_duplicate,
    _m_numatune_cell_unknown,
    _m_numatune_placement_auto_memnode,
    _m_numatune_restrictive,
    _m_numatune_syntax,
    _m_too_many_cells,
    _m_vcpu_syntax,
    _m_xml_forbidden,
    _m_xml_malformed,
    _m_xml_root,
    _m_xml_too_large,
)
from gi_conform.strategies._mutations_pci import (
    _m_bus_plug,
    _m_controller_index_duplicate,
    _m_controller_model_missing,
    _m_controller_model_unknown,
    _m_controller_root_model,
    _m_expander_busnr_range,
    _m_expander_machine,
    _m_expander_node_unknown,
    _m_iommu_pcibus_unknown,
    _m_iommu_smmuv3_accel,
)
from gi_conform.strategies._renderings import _render, _tree, _variations
from gi_conform.strategies._topologies import _topologies, with_libvirt_acpi

_MUTATIONS: dict[str, _Mutation] = {
    "XML-MALFORMED": _m_xml_malformed,
    "XML-FORBIDDEN": _m_xml_forbidden,
    "XML-TOO-LARGE": _m_xml_too_large,
    "XML-ROOT": _m_xml_root,
    "DOMAIN-VCPU-SYNTAX": _m_vcpu_syntax,
    "NUMA-NO-CELLS": _m_numa_no_cells,
    "NUMA-CELL-ID-SYNTAX": _m_cell_id_syntax,
    "NUMA-CELL-ID-DUPLICATE": _m_cell_id_duplicate,
    "NUMA-CELL-ID-NONCONTIGUOUS": _m_cell_id_noncontiguous,
    "NUMA-TOO-MANY-CELLS": _m_too_many_cells,
    "NUMA-CPUS-SYNTAX": _m_cpus_syntax,
    "NUMA-CPUS-OVERLAP": _m_cpus_overlap,
    "NUMA-CPUS-OUT-OF-RANGE": _m_cpus_out_of_range,
    "NUMA-MEMORY-SYNTAX": _m_memory_syntax,
    "NUMA-NO-MEMORY": _m_numa_no_memory,
    "NUMA-DISTANCE-SYNTAX": _m_distance_syntax,
    "NUMA-DISTANCE-SIBLING-UNKNOWN": _m_distance_sibling_unknown,
    "NUMA-DISTANCE-VALUE": _m_distance_value,
    "HOSTDEV-ADDRESS-SYNTAX": _m_address_syntax,
    "HOSTDEV-SOURCE-DUPLICATE": _m_source_duplicate,
    "HOSTDEV-GUEST-ADDRESS-DUPLICATE": _m_guest_duplicate,
    "HOSTDEV-MULTIFUNCTION": _m_multifunction,
    "HOSTDEV-BUS-SLOT": _m_bus_slot,
    "HOSTDEV-ADDRESS-RESERVED": _m_address_reserved,
    "HOSTDEV-GUEST-ADDRESS-TYPE": _m_guest_address_type,
    "HOSTDEV-IOMMUFD-SYNTAX": _m_iommufd_syntax,
    "HOSTDEV-IOMMUFD-FDGROUP": _m_iommufd_fdgroup,
    "HOSTDEV-MDEV-DISPLAY-GRAPHICS": _m_mdev_display_graphics,
    "HOSTDEV-SWITCH-SYNTAX": _m_switch_syntax,
    "HOSTDEV-RAMFB-MULTIPLE": _m_ramfb_multiple,
    "HOSTDEV-ZPCI-ARCH": _m_zpci_arch,
    "PCI-CONTROLLER-INDEX-DUPLICATE": _m_controller_index_duplicate,
    "PCI-CONTROLLER-MODEL-MISSING": _m_controller_model_missing,
    "PCI-CONTROLLER-MODEL-UNKNOWN": _m_controller_model_unknown,
    "PCI-CONTROLLER-ROOT-MODEL": _m_controller_root_model,
    "PCI-EXPANDER-MACHINE": _m_expander_machine,
    "PCI-EXPANDER-NODE-UNKNOWN": _m_expander_node_unknown,
    "PCI-EXPANDER-BUSNR-RANGE": _m_expander_busnr_range,
    "PCI-BUS-PLUG": _m_bus_plug,
    "IOMMU-PCIBUS-UNKNOWN": _m_iommu_pcibus_unknown,
    "IOMMU-SMMUV3-ACCEL": _m_iommu_smmuv3_accel,
    "DEVICE-ALIAS-DUPLICATE": _m_alias_duplicate,
    "DEVICE-ALIAS-SYNTAX": _m_alias_syntax,
    "DEVICE-ALIAS-RESERVED": _m_alias_reserved,
    "GI-MISSING-FIELD": _m_gi_missing_field,
    "GI-NODE-SYNTAX": _m_gi_node_syntax,
    "GI-NO-NUMA": _m_gi_no_numa,
    "GI-NODE-UNKNOWN": _m_gi_node_unknown,
    "GI-DEVICE-UNKNOWN": _m_gi_device_unknown,
    "GI-DEVICE-NOT-PCI": _m_gi_not_pci,
    "GI-DUPLICATE": _m_gi_duplicate,
    "NUMA-CELL-ATTRIBUTE-SYNTAX": _m_cell_attribute_syntax,
    "MEMORY-BACKING-SYNTAX": _m_backing_syntax,
    "MEMORY-HUGEPAGES-NODESET": _m_hugepages_nodeset,
    "MEMORY-HUGEPAGES-ANONYMOUS": _m_hugepages_anonymous,
    "NUMATUNE-SYNTAX": _m_numatune_syntax,
    "NUMATUNE-CELL-UNKNOWN": _m_numatune_cell_unknown,
    "NUMATUNE-CELL-DUPLICATE": _m_numatune_cell_duplicate,
    "NUMATUNE-RESTRICTIVE": _m_numatune_restrictive,
    "NUMATUNE-PLACEMENT-AUTO-MEMNODE": _m_numatune_placement_auto_memnode,
    "HMAT-SYNTAX": _m_hmat_syntax,
    "HMAT-NODE-UNKNOWN": _m_hmat_node_unknown,
    "HMAT-INITIATOR-INVALID": _m_hmat_initiator_invalid,
    "HMAT-DUPLICATE": _m_hmat_duplicate,
    "HMAT-CACHE-UNKNOWN": _m_hmat_cache_unknown,
    "HMAT-CACHE-WITHOUT-LB": _m_hmat_cache_without_lb,
    "HMAT-VALUE": _m_hmat_value,
    "HMAT-CACHE-LEVELS": _m_hmat_cache_levels,
    "GI-ACPI-DISABLED": _m_gi_acpi_disabled,
    "DOMAIN-ACPI-UEFI": _m_domain_acpi_uefi,
    "DOMAIN-MEMORY-MISSING": _m_domain_memory_missing,
}
_ACPI_RULES = frozenset({"GI-ACPI-DISABLED", "DOMAIN-ACPI-UEFI"})
"""The mutations that take ACPI (or its UEFI) away themselves."""

MUTATED_RULES: frozenset[str] = frozenset(_MUTATIONS)
"""Every rule :func:`invalid_documents` can break (the test suite holds it equal to the
catalogue's error rules)."""


@st.composite
def _invalid_documents(draw: st.DrawFn, rule: object) -> tuple[str, str]:
    if rule is not None:
        if not isinstance(rule, str) or rule not in catalogue():
            raise InvalidArgument(f"rule={rule!r} is not a rule id of reference/rules.toml")
        if catalogue()[rule].severity is not Severity.ERROR:
            raise InvalidArgument(f"rule={rule!r} is a warning: only error rules reject")
        if rule not in _MUTATIONS:
            raise InvalidArgument(f"rule={rule!r} has no mutation yet (a gi-conform bug)")
    errors = [r for r in catalogue() if r in _MUTATIONS]
    chosen = rule if isinstance(rule, str) else draw(st.sampled_from(errors))
    domain = draw(
        _topologies(
            min_cells=1,
            max_cells=8,
            min_hostdevs=0,
            max_hostdevs=4,
            max_vcpus=16,
            dialects=(Dialect.SEED, Dialect.LIBVIRT),
            # no drawn memory/numatune/HMAT: each mutation adds what it breaks itself
            extras=False,
        )
    )
    if chosen not in _ACPI_RULES:
        # a mutation that adds an initiator must not also switch ACPI off
        domain = with_libvirt_acpi(domain)
    root = _tree(domain)
    post = _MUTATIONS[chosen](draw, domain, root)
    text = _render(root, draw(_variations(values_allowed=False)))
    return (post(text) if post is not None else text), chosen


def invalid_documents(rule: str | None = None) -> st.SearchStrategy[tuple[str, str]]:
    """``(xml_text, rule_id)``: a valid document with one mutation breaking one error rule.

    The validator reports ``rule_id`` and no other error for the text. ``rule`` picks one
    error rule of ``reference/rules.toml``; ``None`` draws among all of them.
    """
    return _invalid_documents(rule)
