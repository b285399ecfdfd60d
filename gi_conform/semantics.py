"""What libvirt and QEMU derive from a domain: the facts every stage reads.

These are accessors of the model, as libvirt's ``virDomainNuma*`` helpers are: the
validator checks them, the argv builder writes them, the argv facts and invariants
compare against them, and ground truth looks for them in the guest. Each was measured on
libvirt 12.8 and QEMU 10.0.2; one owner, so the stages cannot drift apart.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from gi_conform.model import (
    Cell,
    DocumentDialect,
    Domain,
    Hostdev,
    Initiator,
    MdevSource,
    PciAddress,
    Source,
)

__all__ = [
    "BRIDGE_MODELS",
    "DEFAULT_HUGEPAGE_SIZE",
    "LOCAL_DISTANCE",
    "MDEV_SYSFS_PREFIX",
    "REMOTE_DISTANCE",
    "SINGLE_SLOT_MODELS",
    "UNREACHABLE",
    "InitiatorClaim",
    "added_bus_model",
    "bus_model",
    "cpu_cells_seen",
    "cpu_cells_written",
    "distance_matrix",
    "document_dialect",
    "hugepage_size",
    "initiator_claims",
    "initiator_pairs",
    "legacy_numa_mem",
    "machine_takes_numa_mem",
    "needs_memory_backend",
    "source_key",
    "unassigned_vcpus",
    "vcpus_added_to_cell0",
]

LOCAL_DISTANCE = 10
REMOTE_DISTANCE = 20
UNREACHABLE = 255

MDEV_SYSFS_PREFIX = "/sys/bus/mdev/devices/"


# ------------------------------------------------------------------ memory backends

_VERSIONED_MACHINE = re.compile(r"(?:pc-i440fx-|pc-q35-|pc-|virt-)(\d+)\.(\d+)")
LAST_NUMA_MEM_MACHINE = (5, 0)
"""QEMU takes ``-numa node,mem=`` only on machine types up to 5.0 (``numa_mem_supported``,
set by ``pc_i440fx_5_0_machine_options``, ``pc_q35_5_0_machine_options`` and
``virt_machine_5_0_options`` since QEMU 5.1; it refuses it on 5.1 and later)."""


def machine_takes_numa_mem(domain: Domain) -> bool:
    """Whether the machine type still takes the legacy ``mem=``: a versioned x86 ``pc-*``
    (i440fx, q35, or the oldest ``pc-X.Y``) or arm ``virt-X.Y`` machine up to 5.0. An
    unversioned alias (``pc``, ``q35``, ``virt``) is QEMU's newest machine: it does not."""
    if domain.machine is None:
        return False
    match = _VERSIONED_MACHINE.fullmatch(domain.machine)
    if match is None or (domain.machine.startswith("virt-") and not domain.arch.startswith("a")):
        return False
    return (int(match[1]), int(match[2])) <= LAST_NUMA_MEM_MACHINE


DEFAULT_HUGEPAGE_SIZE = 2 * 1024 * 1024
"""The host's default hugepage size (x86_64 and aarch64 with 4 KiB pages): what an empty
``<hugepages/>`` gives every cell. Host configuration; libvirt's tests assume it too."""


def hugepage_size(domain: Domain, cell_id: int | None) -> int | None:
    """The hugepage size (bytes) a cell's memory gets, None for normal pages: the
    ``<page>`` whose nodeset names the cell, else one without a nodeset, else (no
    ``<page>`` at all) the host's default; a cell no page covers gets normal pages."""
    backing = domain.memory_backing
    if backing is None or not backing.hugepages:
        return None
    if not backing.pages:
        return DEFAULT_HUGEPAGE_SIZE
    for page in backing.pages:
        if page.nodeset is not None and cell_id in page.nodeset:
            return page.size
    return next((page.size for page in backing.pages if page.nodeset is None), None)


def needs_memory_backend(domain: Domain, cell: Cell) -> bool:
    """Whether a cell with memory needs a memory backend object even where ``mem=`` would
    do (libvirt's qemuBuildMemoryBackendProps answers "not necessary" only without
    hugepages, a ``<memnode>`` for the cell, a memory access mode (the cell's or
    ``<memoryBacking><access>``) and a file or memfd ``<memoryBacking><source>``; a
    domain-wide ``<numatune><memory>`` binds the whole process instead)."""
    backing = domain.memory_backing
    if hugepage_size(domain, cell.id) is not None:
        return True
    if backing is not None and (backing.access is not None or backing.source in ("file", "memfd")):
        return True
    tune = domain.numatune
    if tune is not None and any(m.cell == cell.id for m in tune.memnodes):
        return True
    return cell.mem_access is not None


def legacy_numa_mem(domain: Domain) -> bool:
    """Whether libvirt writes ``-numa node,...,mem=<MiB>`` and no backends (as in its
    ``cpu-numa-memory-oldstyle`` test): the machine type takes ``mem=`` and no cell with
    memory needs a backend (qemuBuildNumaCommandLine uses ``memdev`` for all or none)."""
    return machine_takes_numa_mem(domain) and not any(
        needs_memory_backend(domain, cell) for cell in domain.cells if cell.memory
    )


# ------------------------------------------------------------------ vCPUs and cells


def unassigned_vcpus(domain: Domain) -> list[int]:
    """vCPUs no cell names, which libvirt silently adds to cell 0 (empty without NUMA).
    Derived once per model (:attr:`gi_conform.model.Domain.unassigned_vcpus`)."""
    return list(domain.unassigned_vcpus)


def vcpus_added_to_cell0(domain: Domain) -> list[int]:
    """The unassigned vCPUs libvirt writes on node 0: only when cell 0 has memory
    (measured on libvirt 12.8; otherwise it leaves them out of every -numa node)."""
    if not domain.unassigned_vcpus:  # the usual case: no cell 0 to look for
        return []
    cell0 = next((cell for cell in domain.cells if cell.id == 0), None)
    if cell0 is None or not cell0.memory:
        return []
    return unassigned_vcpus(domain)


def cpu_cells_written(domain: Domain) -> set[int]:
    """Cells whose ``-numa node`` names vCPUs, as libvirt writes them: cell 0 too when
    libvirt gives it the ones no cell names. (QEMU's own fallback for them comes too late
    for HMAT: measured, an ``hmat-lb`` from such a node 0 is refused as not an initiator.)"""
    nodes = {cell.id for cell in domain.cells if cell.id is not None and cell.cpus}
    if vcpus_added_to_cell0(domain):
        nodes.add(0)
    return nodes


def cpu_cells_seen(domain: Domain) -> set[int]:
    """Cells the guest sees with CPUs: those written, and node 0 whenever some vCPU is
    named by no cell (QEMU places it there when libvirt left it out)."""
    nodes = cpu_cells_written(domain)
    if unassigned_vcpus(domain):
        nodes.add(0)
    return nodes


# ------------------------------------------------------------------ distances


def distance_matrix(domain: Domain) -> dict[tuple[int, int], int]:
    """Every (src, dst) distance as libvirt resolves it, or {} when libvirt writes none.

    libvirt's rules: a sibling sets the distance from its cell, and the reverse one too
    unless that was already given; unset pairs are 10 (local) or 20 (remote). Real
    libvirt 12.8 writes the whole matrix unless the document gives every pair of the
    cells it names explicitly with its default value (measured: a complete all-default
    matrix gives no ``-numa dist``, a partial all-default one gives all of them).
    """
    given: dict[tuple[int, int], int] = {}
    for cell in domain.cells:
        if cell.id is None:
            continue
        for sibling, value in cell.distances:
            given[(cell.id, sibling)] = value
            given.setdefault((sibling, cell.id), value)
    if not given:
        return {}
    named = {cell.id for cell in domain.cells if cell.id is not None}
    ids = sorted(named | {s for cell in domain.cells for s, _ in cell.distances})
    for src in {src for src, _ in given}:
        given.setdefault((src, src), LOCAL_DISTANCE)  # libvirt fills a row's own entry

    def default(src: int, dst: int) -> int:
        return LOCAL_DISTANCE if src == dst else REMOTE_DISTANCE

    rows = {src for src, _ in given}
    if all(given.get((src, dst)) == default(src, dst) for src in rows for dst in ids):
        return {}
    return {(src, dst): given.get((src, dst), default(src, dst)) for src in ids for dst in ids}


# ------------------------------------------------------------------ initiators


@dataclass(frozen=True)
class InitiatorClaim:
    """One initiator as written: the element (``label``, ``line``) asking for (device, node)."""

    device: str
    node: int
    line: int
    label: str


def _requests(domain: Domain) -> list[tuple[int, str, int, Hostdev | Initiator]]:
    """Every (line, device, node, element asking) of the document, both dialects, by
    line (nodesets first on a tie): what :func:`initiator_claims` and
    :func:`initiator_pairs` are made of, so the two cannot disagree."""
    found: list[tuple[int, str, int, Hostdev | Initiator]] = []
    for hostdev in domain.hostdevs:
        if hostdev.nodeset:
            found.extend(
                (hostdev.acpi_line, hostdev.alias, node, hostdev) for node in hostdev.nodeset
            )
    for initiator in domain.initiators:
        if initiator.device is not None and initiator.node is not None:
            found.append((initiator.line, initiator.device, initiator.node, initiator))
    found.sort(key=_LINE)  # stable: the line alone orders
    return found


_LINE = operator.itemgetter(0)


def initiator_claims(domain: Domain) -> list[InitiatorClaim]:
    """Every initiator the document asks for, both dialects, by line."""
    claims: list[InitiatorClaim] = []
    label = ""
    asking: Hostdev | Initiator | None = None
    for line, device, node, element in _requests(domain):
        if element is not asking:  # a nodeset's nodes come together: one label each
            asking = element
            label = (
                f"<acpi nodeset> of hostdev '{element.alias}'"
                if isinstance(element, Hostdev)
                else f"<acpi-generic-initiator> '{element.id}'"
            )
        claims.append(InitiatorClaim(device, node, line, label))
    return claims


def initiator_pairs(domain: Domain) -> list[tuple[str, int]]:
    """Every (device alias, node) the document asks for, both dialects, by line."""
    return [(device, node) for _, device, node, _ in _requests(domain)]


# ------------------------------------------------------------------ devices


SINGLE_SLOT_MODELS = ("pcie-root-port", "pcie-switch-downstream-port")
"""PCIe ports: one downstream device, slot 0 (a guest scans no other slot below them)."""
BRIDGE_MODELS = ("pci-bridge", "pcie-to-pci-bridge")
"""PCI bridges: libvirt keeps their slot 0 (SHPC) and places devices at slots 1-31."""


def added_bus_model(domain: Domain) -> str:
    """The controller libvirt adds for a guest bus no controller declares: a
    pcie-root-port on q35/virt, a pci-bridge on i440fx."""
    return "pcie-root-port" if domain.pci_root_bus == "pcie.0" else "pci-bridge"


def bus_model(domain: Domain, bus: int) -> str | None:
    """What guest bus ``bus`` > 0 is: its declared controller's model, else the one libvirt
    adds for it (:func:`added_bus_model`). None when that controller has no model: libvirt
    12.8 gives it none and refuses the document (PCI-CONTROLLER-MODEL-MISSING), so the
    bus is nothing the other rules could judge."""
    for controller in domain.pci_controllers:
        if controller.index == bus:
            return controller.model
    return added_bus_model(domain)


def source_key(source: Source | None) -> str | None:
    """What a host device is compared on: its ``DDDD:BB:SS.F`` host address, or its mdev
    path with a lower-case UUID; None for USB and SCSI, which have no initiator."""
    if isinstance(source, PciAddress):
        return source.host_text()
    if isinstance(source, MdevSource):
        return f"{MDEV_SYSFS_PREFIX}{source.uuid.lower()}"
    return None


def document_dialect(domain: Domain | None) -> DocumentDialect:
    """Where the document's initiators are written (``none`` when it could not be read)."""
    if domain is None:
        return DocumentDialect.NONE
    seed = bool(domain.initiators)
    nodeset = any(hostdev.nodeset for hostdev in domain.hostdevs)
    if seed and nodeset:
        return DocumentDialect.MIXED
    if seed:
        return DocumentDialect.SEED
    return DocumentDialect.LIBVIRT if nodeset else DocumentDialect.NONE
