"""The public strategies as a library: argument checking, bounds, dialects, coverage."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from gi_conform import Dialect, Domain, format_xml, parse
from gi_conform.rules import Severity, catalogue
from gi_conform.strategies import (
    MUTATED_RULES,
    domain_documents,
    hostile_documents,
    invalid_documents,
    renderings,
    topologies,
)

_DEFAULT = settings.default
FEW = settings(max_examples=max(10, (_DEFAULT.max_examples if _DEFAULT else 100) // 5))


def _draw_once(strategy: st.SearchStrategy[object]) -> None:
    @settings(max_examples=1, database=None)
    @given(strategy)
    def draw(value: object) -> None:
        pass

    draw()


@pytest.mark.parametrize(
    "make",
    [
        lambda: topologies(min_cells=5, max_cells=2),
        lambda: topologies(max_cells=129),
        lambda: topologies(min_cells=-1),
        lambda: topologies(min_cells=True),
        lambda: topologies(max_hostdevs=65),
        lambda: topologies(min_hostdevs=3, max_hostdevs=1),
        lambda: topologies(max_vcpus=0),
        lambda: topologies(max_vcpus=1.5),  # type: ignore[arg-type]
        lambda: topologies(dialects="seed"),
        lambda: topologies(dialects=["seed", "kubevirt"]),
        lambda: topologies(dialects=None),  # type: ignore[arg-type]
        lambda: domain_documents(max_cells=0, min_cells=1),
        lambda: domain_documents(vary="yes"),  # type: ignore[arg-type]
        lambda: renderings("<domain/>"),  # type: ignore[arg-type]
        lambda: renderings(Domain(name="x"), vary=1),  # type: ignore[arg-type]
        lambda: invalid_documents("NO-SUCH-RULE"),
        lambda: invalid_documents("NUMA-CELL-INVISIBLE"),
        lambda: invalid_documents(42),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_raise_invalid_argument_when_drawn(
    make: Callable[[], st.SearchStrategy[object]],
) -> None:
    strategy = make()  # building the strategy never raises
    with pytest.raises(InvalidArgument):
        _draw_once(strategy)


def test_every_error_rule_has_a_mutation() -> None:
    errors = {rule.id for rule in catalogue().values() if rule.severity is Severity.ERROR}
    assert errors - MUTATED_RULES == set(), "error rules invalid_documents cannot break"
    assert MUTATED_RULES - errors == set(), "mutations for rules that are not errors"


@FEW
@given(topologies(min_cells=3, max_cells=5, min_hostdevs=1, max_hostdevs=2, max_vcpus=4))
def test_bounds_are_kept(domain: Domain) -> None:
    assert 3 <= len(domain.cells) <= 5
    assert 1 <= len(domain.hostdevs) <= 2
    assert domain.vcpus is not None
    assert 1 <= domain.vcpus <= 4
    assert sorted(cell.id for cell in domain.cells if cell.id is not None) == list(
        range(len(domain.cells))
    )
    assert any(cell.memory for cell in domain.cells)


@FEW
@given(topologies(dialects=[Dialect.SEED]))
def test_seed_dialect_only(domain: Domain) -> None:
    assert all(hostdev.nodeset is None for hostdev in domain.hostdevs)


@FEW
@given(topologies(dialects=["libvirt"]))
def test_libvirt_dialect_only(domain: Domain) -> None:
    assert domain.initiators == ()


@FEW
@given(topologies(dialects=()))
def test_no_dialect_means_no_initiator(domain: Domain) -> None:
    assert domain.initiators == ()
    assert all(hostdev.nodeset is None for hostdev in domain.hostdevs)


@FEW
@given(topologies(min_cells=0, max_cells=0))
def test_no_cells_means_no_numa(domain: Domain) -> None:
    assert not domain.numa
    assert domain.cells == ()
    assert domain.initiators == ()


@FEW
@given(st.data())
def test_unvaried_rendering_is_the_canonical_text(data: st.DataObject) -> None:
    domain = data.draw(topologies(max_cells=4))
    assert data.draw(renderings(domain, vary=False)) == format_xml(domain)


@FEW
@given(domain_documents(max_cells=4, max_hostdevs=3))
def test_domain_documents_parse(text: str) -> None:
    parse(text)


@FEW
@given(invalid_documents())
def test_invalid_documents_name_an_error_rule(pair: tuple[str, str]) -> None:
    text, rule = pair
    assert isinstance(text, str)
    assert rule in MUTATED_RULES


@FEW
@given(hostile_documents())
def test_hostile_documents_are_bytes(data: bytes) -> None:
    assert isinstance(data, bytes)


NUMA_FEATURES: dict[str, Callable[[Domain], bool]] = {
    "memAccess on a cell": lambda d: any(c.mem_access for c in d.cells),
    "memoryBacking": lambda d: d.memory_backing is not None,
    "hugepages with a page nodeset": lambda d: (
        d.memory_backing is not None and any(p.nodeset for p in d.memory_backing.pages)
    ),
    "hugepages of the host's default size": lambda d: (
        d.memory_backing is not None and d.memory_backing.hugepages and not d.memory_backing.pages
    ),
    "preallocation with threads": lambda d: (
        d.memory_backing is not None
        and d.memory_backing.allocation_immediate
        and d.memory_backing.allocation_threads is not None
    ),
    "numatune memnode": lambda d: d.numatune is not None and bool(d.numatune.memnodes),
    "HMAT interconnect": lambda d: bool(d.interconnects),
    "HMAT cache": lambda d: any(c.caches for c in d.cells),
    "HMAT latency to a cache level": lambda d: any(i.cache for i in d.interconnects),
    "HMAT initiator with no CPUs (a GI node)": lambda d: any(
        i.initiator is not None
        and not any(c.id == i.initiator and c.cpus for c in d.cells)
        and i.initiator != 0
        for i in d.interconnects
    ),
}


@pytest.mark.parametrize("feature", list(NUMA_FEATURES))
def test_topologies_draw_each_numa_feature(feature: str) -> None:
    """Valid topologies carry memory access, numatune and HMAT too (issue: compatibility
    with existing NUMA configuration); each is found, and what is found is valid."""

    found = find(
        topologies(max_cells=8, max_hostdevs=4),
        NUMA_FEATURES[feature],
        settings=settings(max_examples=2000, phases=[Phase.generate], database=None),
    )
    assert parse(format_xml(found)) == found
