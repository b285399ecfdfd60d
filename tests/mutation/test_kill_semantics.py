"""Kills mutmut's surviving mutants of :mod:`gi_conform.semantics` (README "Mutation
testing"): each test pins one derived fact at the edge no corpus case reaches - legacy
``mem=`` machines, memory backends forced by one setting, a cell-0 holding only memory."""

from __future__ import annotations

import pytest

from gi_conform.model import (
    Cell,
    Dialect,
    DocumentDialect,
    Domain,
    HostdevKind,
    HugePage,
    Initiator,
    MemNode,
    MemoryBacking,
    Numatune,
    PciAddress,
)
from gi_conform.model import Hostdev as HostdevModel
from gi_conform.semantics import (
    cpu_cells_written,
    distance_matrix,
    document_dialect,
    machine_takes_numa_mem,
    needs_memory_backend,
    vcpus_added_to_cell0,
)

GIB = 1 << 30


@pytest.mark.parametrize(
    ("machine", "arch", "takes"),
    [
        (None, "x86_64", False),
        ("q35", "x86_64", False),
        ("pc-i440fx-5.0", "x86_64", True),
        ("pc-q35-4.2", "x86_64", True),
        ("pc-q35-5.1", "x86_64", False),
        ("pc-q35-6.0", "x86_64", False),
        ("pc-2.12", "x86_64", True),
        ("virt-5.0", "aarch64", True),
        ("virt-5.0", "armv7l", True),
        ("virt-5.0", "x86_64", False),
        ("virt-6.0", "aarch64", False),
    ],
)
def test_machine_takes_numa_mem_only_on_versioned_machines_up_to_5_0(
    machine: str | None, arch: str, takes: bool
) -> None:
    assert machine_takes_numa_mem(Domain(name="t", machine=machine, arch=arch)) is takes


def _cells() -> tuple[Cell, ...]:
    return (Cell(id=0, cpus=(0, 1), memory=GIB), Cell(id=1, cpus=(2, 3), memory=GIB))


@pytest.mark.parametrize(
    ("backing", "numatune", "cell", "needs"),
    [
        (None, None, 0, False),
        (MemoryBacking(), None, 0, False),
        (MemoryBacking(source="anonymous"), None, 0, False),
        (MemoryBacking(access="shared"), None, 0, True),
        (MemoryBacking(source="file"), None, 0, True),
        (MemoryBacking(source="memfd"), None, 0, True),
        (MemoryBacking(source="file", access="shared"), None, 0, True),
        (MemoryBacking(hugepages=True), None, 0, True),
        (MemoryBacking(hugepages=True, pages=(HugePage(2048 * 1024, (1,)),)), None, 1, True),
        (MemoryBacking(hugepages=True, pages=(HugePage(2048 * 1024, (1,)),)), None, 0, False),
        (None, Numatune(memnodes=(MemNode(1, None, (0,)),)), 1, True),
        (None, Numatune(memnodes=(MemNode(1, None, (0,)),)), 0, False),
    ],
)
def test_one_setting_forces_a_memory_backend(
    backing: MemoryBacking | None, numatune: Numatune | None, cell: int, needs: bool
) -> None:
    domain = Domain(name="t", cells=_cells(), memory_backing=backing, numatune=numatune)
    assert needs_memory_backend(domain, domain.cells[cell]) is needs


def test_a_cell_memory_access_mode_forces_a_memory_backend() -> None:
    cell = Cell(id=0, cpus=(0,), memory=GIB, mem_access="shared")
    assert needs_memory_backend(Domain(name="t", cells=(cell,)), cell)


def test_unassigned_vcpus_go_to_a_cell0_that_holds_only_memory() -> None:
    domain = Domain(
        name="t",
        vcpus=4,
        cells=(Cell(id=0, cpus=(), memory=GIB), Cell(id=1, cpus=(0, 1), memory=GIB)),
    )
    assert vcpus_added_to_cell0(domain) == [2, 3]
    assert cpu_cells_written(domain) == {0, 1}


def test_no_cell0_means_no_vcpus_added_to_it() -> None:
    domain = Domain(name="t", vcpus=4, cells=(Cell(id=1, cpus=(0, 1), memory=GIB),))
    assert vcpus_added_to_cell0(domain) == []
    assert cpu_cells_written(domain) == {1}


def test_a_cell_named_by_no_distance_keeps_its_local_diagonal() -> None:
    domain = Domain(
        name="t",
        cells=(
            Cell(id=0, cpus=(0,), memory=GIB, distances=((1, 15),)),
            Cell(id=1, cpus=(1,), memory=GIB),
            Cell(id=2, cpus=(2,), memory=GIB),
        ),
    )
    matrix = distance_matrix(domain)
    assert matrix[(2, 2)] == 10
    assert matrix[(2, 0)] == 20
    assert matrix[(0, 1)] == matrix[(1, 0)] == 15


def test_a_cell_without_id_does_not_end_the_distances() -> None:
    domain = Domain(
        name="t",
        cells=(
            Cell(id=None, cpus=(0,), memory=GIB),
            Cell(id=1, cpus=(1,), memory=GIB, distances=((2, 30),)),
            Cell(id=2, cpus=(2,), memory=GIB),
        ),
    )
    assert distance_matrix(domain)[(1, 2)] == 30


_SEED = Initiator(id="acpi-generic-initiator0", device="hostdev0", node=1, dialect=Dialect.SEED)
_NODESET = HostdevModel(
    kind=HostdevKind.PCI,
    alias="hostdev0",
    alias_given=True,
    source=PciAddress(0, 6, 0x12, 1),
    nodeset=(1,),
)


@pytest.mark.parametrize(
    ("initiators", "hostdevs", "dialect"),
    [
        ((), (), DocumentDialect.NONE),
        ((), (_NODESET,), DocumentDialect.LIBVIRT),
        ((_SEED,), (), DocumentDialect.SEED),
        ((_SEED,), (_NODESET,), DocumentDialect.MIXED),
    ],
)
def test_document_dialect_of_each_combination(
    initiators: tuple[Initiator, ...],
    hostdevs: tuple[HostdevModel, ...],
    dialect: DocumentDialect,
) -> None:
    domain = Domain(name="t", initiators=initiators, hostdevs=hostdevs)
    assert document_dialect(domain) is dialect
    assert document_dialect(None) is DocumentDialect.NONE
