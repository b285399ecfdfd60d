"""The validator: every catalogue rule that spans more than one element.

``validate`` never stops at the first problem: it returns all of them, sorted by line and
catalogue order, so a user fixes a document in one round.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from gi_conform.bitmap import format_bitmap
from gi_conform.document.parse import read_domain
from gi_conform.document.validate_numa import numa_feature_rules
from gi_conform.model import Domain, Hostdev, PciAddress
from gi_conform.rules import Severity, Violation, violation

__all__ = [
    "MAX_CELLS",
    "InvalidDocument",
    "Report",
    "bus_model",
    "check_domain",
    "cpu_nodes",
    "distance_matrix",
    "parse",
    "validate",
    "vcpus_added_to_cell0",
]

MAX_CELLS = 128
"""QEMU's MAX_NODES."""
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,127}\Z")
_RESERVED_ALIAS = re.compile(r"ram-node([0-9]+)\Z")


@dataclass(frozen=True)
class Report:
    """The outcome of validating one document."""

    domain: Domain | None
    violations: tuple[Violation, ...]

    @property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity is Severity.WARNING)

    @property
    def accepted(self) -> bool:
        return self.domain is not None and not self.errors

    def text(self) -> str:
        """The ``validate`` text output: one ``SEVERITY RULE-ID line N: message`` a line."""
        return "".join(f"{v.text()}\n" for v in self.violations)


class InvalidDocument(ValueError):
    """Raised by :func:`parse` when the document breaks an error-severity rule."""

    def __init__(self, report: Report) -> None:
        self.report = report
        first = report.errors[0].text() if report.errors else "invalid document"
        more = len(report.errors) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""))


def validate(source: bytes | str) -> Report:
    """Parse and validate a document given as bytes (UTF-8) or text."""
    parsed = read_domain(source)
    problems = list(parsed.problems)
    if parsed.domain is not None:
        problems.extend(check_domain(parsed.domain))
    return Report(parsed.domain, tuple(sorted(problems)))


def parse(source: bytes | str) -> Domain:
    """The model of a valid document; raises :class:`InvalidDocument` otherwise."""
    report = validate(source)
    if not report.accepted:
        raise InvalidDocument(report)
    assert report.domain is not None
    return report.domain


def check_domain(domain: Domain) -> list[Violation]:
    """The cross-element rules, on a model (its own syntax problems are the parser's)."""
    claims = _claims(domain)
    return [
        *_numa_rules(domain, claims),
        *numa_feature_rules(domain, _gi_nodes(domain, claims), cpu_nodes(domain)),
        *_device_rules(domain),
        *_initiator_rules(domain, claims),
    ]


def _gi_nodes(domain: Domain, claims: list[_Claim]) -> set[int]:
    """Nodes some PCI device's generic initiator lands on."""
    nodes = set()
    for claim in claims:
        hostdev = domain.hostdev(claim.device)
        if hostdev is not None and hostdev.kind.is_pci:
            nodes.add(claim.node)
    return nodes


def vcpus_added_to_cell0(domain: Domain) -> list[int]:
    """The unassigned vCPUs libvirt writes on node 0: only when cell 0 has memory
    (measured on libvirt 12.8; otherwise it leaves them out of every -numa node)."""
    cell0 = next((cell for cell in domain.cells if cell.id == 0), None)
    if cell0 is None or not cell0.memory:
        return []
    return unassigned_vcpus(domain)


def cpu_nodes(domain: Domain) -> set[int]:
    """Cells whose ``-numa node`` names vCPUs: cell 0 too when libvirt gives it the ones no
    cell names. (QEMU's own fallback for them comes too late for HMAT: measured, an
    ``hmat-lb`` from such a node 0 is refused as not an initiator.)"""
    nodes = {cell.id for cell in domain.cells if cell.id is not None and cell.cpus}
    if vcpus_added_to_cell0(domain):
        nodes.add(0)
    return nodes


def _cell_label(cell_id: int | None) -> str:
    return f"<cell id='{cell_id}'>"


def _numa_rules(domain: Domain, claims: list[_Claim]) -> Iterator[Violation]:
    cells = domain.cells
    if domain.numa and not cells:
        yield violation("NUMA-NO-CELLS", domain.numa_line, "<numa>")
    if len(cells) > MAX_CELLS:
        yield violation("NUMA-TOO-MANY-CELLS", domain.numa_line, "<numa>", count=len(cells))
    first_line: dict[int, int] = {}
    for cell in cells:
        if cell.id is None:
            continue
        if cell.id in first_line:
            yield violation(
                "NUMA-CELL-ID-DUPLICATE",
                cell.line,
                _cell_label(cell.id),
                cell=cell.id,
                first_line=first_line[cell.id],
            )
        else:
            first_line[cell.id] = cell.line
    ids = set(first_line)
    all_ids_valid = all(cell.id is not None for cell in cells)
    if ids and all_ids_valid and ids != set(range(len(ids))):
        missing = sorted(set(range(len(ids))) - ids)  # bounded by the cell count
        yield violation(
            "NUMA-CELL-ID-NONCONTIGUOUS",
            domain.numa_line,
            "<numa>",
            last=len(ids) - 1,
            missing=format_bitmap(missing),
        )
    owner: dict[int, int | None] = {}
    for cell in cells:
        if cell.cpus is None:
            continue
        shared = sorted(cpu for cpu in cell.cpus if cpu in owner)
        if shared:
            yield violation(
                "NUMA-CPUS-OVERLAP",
                cell.line,
                _cell_label(cell.id),
                cpus=format_bitmap(shared),
                other=owner[shared[0]],
            )
        for cpu in cell.cpus:
            owner.setdefault(cpu, cell.id)
        if domain.vcpus is not None:
            beyond = [cpu for cpu in cell.cpus if cpu >= domain.vcpus]
            if beyond:
                yield violation(
                    "NUMA-CPUS-OUT-OF-RANGE",
                    cell.line,
                    _cell_label(cell.id),
                    cpus=format_bitmap(beyond),
                    vcpus=domain.vcpus,
                    last=domain.vcpus - 1,
                )
    yield from _distance_rules(domain)
    unassigned = unassigned_vcpus(domain)
    if unassigned:
        fate = (
            "libvirt adds them to cell 0"
            if vcpus_added_to_cell0(domain)
            else "cell 0 has no memory, so libvirt leaves them out and QEMU puts them on node 0 "
            "(a fallback QEMU warns is obsolete)"
        )
        yield violation(
            "NUMA-CPUS-UNASSIGNED",
            domain.numa_line,
            "<numa>",
            cpus=format_bitmap(unassigned),
            fate=fate,
        )
    memories = [cell.memory for cell in cells]
    if memories and all(memory == 0 for memory in memories):
        yield violation("NUMA-NO-MEMORY", domain.numa_line, "<numa>")
    targets = {claim.node for claim in claims}
    for cell in cells:
        invisible = cell.cpus == () and cell.memory == 0 and cell.id not in targets
        if invisible and cell.id is not None and not (cell.id == 0 and unassigned):
            yield violation("NUMA-CELL-INVISIBLE", cell.line, _cell_label(cell.id), cell=cell.id)


LOCAL_DISTANCE = 10
REMOTE_DISTANCE = 20
UNREACHABLE = 255


def _distance_rules(domain: Domain) -> Iterator[Violation]:
    ids = {cell.id for cell in domain.cells if cell.id is not None}
    for cell in domain.cells:
        for sibling, value in cell.distances:
            label = f"<sibling id='{sibling}'> of {_cell_label(cell.id)}"
            if sibling not in ids:
                yield violation(
                    "NUMA-DISTANCE-SIBLING-UNKNOWN",
                    cell.line,
                    label,
                    sibling=sibling,
                    cells=format_bitmap(ids),
                )
                continue
            detail = ""
            if not LOCAL_DISTANCE <= value <= UNREACHABLE:
                detail = f"must be in {LOCAL_DISTANCE}..{UNREACHABLE}"
            elif sibling == cell.id and value != LOCAL_DISTANCE:
                detail = f"the local distance must be {LOCAL_DISTANCE}"
            elif sibling != cell.id and value == LOCAL_DISTANCE:
                detail = f"{LOCAL_DISTANCE} is the local distance, a remote one must be larger"
            if detail:
                yield violation(
                    "NUMA-DISTANCE-VALUE",
                    cell.line,
                    label,
                    value=value,
                    sibling=sibling,
                    detail=detail,
                )


def distance_matrix(domain: Domain) -> dict[tuple[int, int], int]:
    """Every (src, dst) distance as libvirt resolves it, or {} when libvirt writes none.

    libvirt's rules: a sibling sets the distance from its cell, and the reverse one too
    unless that was already given; unset pairs are 10 (local) or 20 (remote). Real
    libvirt 12.8 writes the whole matrix unless the document gives every pair of the
    cells it names explicitly with its default value (measured: a complete all-default
    matrix gives no ``-numa dist``, a partial all-default one gives all of them).
    """
    named = {cell.id for cell in domain.cells if cell.id is not None}
    ids = sorted(named | {s for cell in domain.cells for s, _ in cell.distances})
    given: dict[tuple[int, int], int] = {}
    for cell in domain.cells:
        if cell.id is None:
            continue
        for sibling, value in cell.distances:
            given[(cell.id, sibling)] = value
            given.setdefault((sibling, cell.id), value)
    if not given:
        return {}
    for src in {src for src, _ in given}:
        given.setdefault((src, src), LOCAL_DISTANCE)  # libvirt fills a row's own entry

    def default(src: int, dst: int) -> int:
        return LOCAL_DISTANCE if src == dst else REMOTE_DISTANCE

    rows = {src for src, _ in given}
    if all(given.get((src, dst)) == default(src, dst) for src in rows for dst in ids):
        return {}
    return {(src, dst): given.get((src, dst), default(src, dst)) for src in ids for dst in ids}


def unassigned_vcpus(domain: Domain) -> list[int]:
    """vCPUs no cell names, which libvirt silently adds to cell 0 (empty without NUMA)."""
    if not domain.cells or domain.vcpus is None:
        return []
    if any(cell.cpus is None for cell in domain.cells):
        return []
    named = {cpu for cell in domain.cells for cpu in (cell.cpus or ())}
    return [cpu for cpu in range(domain.vcpus) if cpu not in named]


def _names(domain: Domain) -> Iterator[tuple[str, str, int]]:
    """Every user-given id with what carries it and its line, in document order."""
    named = [
        *((h.alias, f"hostdev '{h.alias}'", h.line) for h in domain.hostdevs if h.alias_given),
        *(
            (i.id, f"<acpi-generic-initiator> '{i.id}'", i.line)
            for i in domain.initiators
            if i.alias_given
        ),
    ]
    yield from sorted(named, key=lambda item: item[2])


def _device_rules(domain: Domain) -> Iterator[Violation]:
    seen: dict[str, tuple[str, int]] = {}
    for alias, label, line in _names(domain):
        if not _ALIAS.match(alias):
            yield violation("DEVICE-ALIAS-SYNTAX", line, label, alias=alias)
        reserved = _RESERVED_ALIAS.match(alias)
        if reserved:
            yield violation("DEVICE-ALIAS-RESERVED", line, label, alias=alias, cell=reserved[1])
        if alias in seen:
            other, first_line = seen[alias]
            yield violation(
                "DEVICE-ALIAS-DUPLICATE",
                line,
                label,
                alias=alias,
                other=other,
                first_line=first_line,
            )
        else:
            seen[alias] = (label, line)
    sources: dict[object, Hostdev] = {}
    guests: dict[PciAddress, Hostdev] = {}
    for hostdev in domain.hostdevs:
        label = f"hostdev '{hostdev.alias}'"
        if hostdev.source is not None:
            if hostdev.source in sources:
                yield violation(
                    "HOSTDEV-SOURCE-DUPLICATE",
                    hostdev.line,
                    label,
                    source=hostdev.source,
                    other=sources[hostdev.source].alias,
                )
            else:
                sources[hostdev.source] = hostdev
        if hostdev.guest_address is not None:
            if hostdev.guest_address in guests:
                yield violation(
                    "HOSTDEV-GUEST-ADDRESS-DUPLICATE",
                    hostdev.line,
                    label,
                    address=hostdev.guest_address.host_text(),
                    other=guests[hostdev.guest_address].alias,
                )
            else:
                guests[hostdev.guest_address] = hostdev
    machine_slots = _reserved_slots(domain)
    for address, hostdev in guests.items():
        problem = _bus_slot_problem(domain, address)
        if address.bus == 0 and address.slot in machine_slots:
            yield violation(
                "HOSTDEV-ADDRESS-RESERVED",
                hostdev.line,
                f"hostdev '{hostdev.alias}'",
                address=address.host_text(),
                device=machine_slots[address.slot],
            )
        elif problem is not None:
            yield violation(
                "HOSTDEV-BUS-SLOT",
                hostdev.line,
                f"hostdev '{hostdev.alias}'",
                address=address.host_text(),
                bus=address.bus,
                model=problem[0],
                allowed=problem[1],
            )
    for address, hostdev in guests.items():
        if address.function == 0:
            continue
        first = guests.get(PciAddress(address.domain, address.bus, address.slot, 0))
        if first is not None and not first.multifunction:
            yield violation(
                "HOSTDEV-MULTIFUNCTION",
                hostdev.line,
                f"hostdev '{hostdev.alias}'",
                address=address.host_text(),
                other=first.alias,
            )


def _reserved_slots(domain: Domain) -> dict[int, str]:
    """Slots of bus 0 an x86 machine fills with its own devices (measured in QEMU 10.0)."""
    if domain.arch not in ("x86_64", "i686"):
        return {}
    if domain.pci_root_bus == "pcie.0":
        return {0: "host bridge (mch)", 0x1F: "ICH9 LPC/SATA/SMBus"}
    return {0: "host bridge (i440FX)", 1: "PIIX3 ISA/IDE/USB"}


SINGLE_SLOT_MODELS = ("pcie-root-port", "pcie-switch-downstream-port")
"""PCIe ports: one downstream device, slot 0 (a guest scans no other slot below them)."""
BRIDGE_MODELS = ("pci-bridge", "pcie-to-pci-bridge")
"""PCI bridges: libvirt keeps their slot 0 (SHPC) and places devices at slots 1-31."""


def bus_model(domain: Domain, bus: int) -> str:
    """What guest bus ``bus`` > 0 is: its declared controller model, else the one libvirt
    adds for it (a pcie-root-port on q35/virt, a pci-bridge on i440fx)."""
    declared = dict(domain.pci_controllers)
    if bus in declared:
        return declared[bus]
    return "pcie-root-port" if domain.pci_root_bus == "pcie.0" else "pci-bridge"


def _bus_slot_problem(domain: Domain, address: PciAddress) -> tuple[str, str] | None:
    """(bus model, the slots it has) when ``address`` is not one of them."""
    if address.bus == 0:
        return None
    model = bus_model(domain, address.bus)
    if model in SINGLE_SLOT_MODELS and address.slot != 0:
        return model, "slot 0 only"
    if model in BRIDGE_MODELS and address.slot == 0:
        return model, "slots 1-31 (slot 0 is the bridge's own)"
    return None


@dataclass(frozen=True)
class _Claim:
    """One initiator as written: the element that asks for (device, node)."""

    device: str
    node: int
    line: int
    label: str


def _claims(domain: Domain) -> list[_Claim]:
    claims: list[_Claim] = []
    for hostdev in domain.hostdevs:
        for node in hostdev.nodeset or ():
            label = f"<acpi nodeset> of hostdev '{hostdev.alias}'"
            claims.append(_Claim(hostdev.alias, node, hostdev.acpi_line, label))
    for initiator in domain.initiators:
        if initiator.device is not None and initiator.node is not None:
            label = f"<acpi-generic-initiator> '{initiator.id}'"
            claims.append(_Claim(initiator.device, initiator.node, initiator.line, label))
    return sorted(claims, key=lambda claim: claim.line)


def initiator_pairs(domain: Domain) -> list[tuple[str, int]]:
    """Every (device alias, node) the document asks for, both dialects, by line."""
    return [(claim.device, claim.node) for claim in _claims(domain)]


def _initiator_rules(domain: Domain, claims: list[_Claim]) -> Iterator[Violation]:
    cell_ids = {cell.id for cell in domain.cells if cell.id is not None}
    for initiator in domain.initiators:
        if initiator.device is None:
            continue
        target = domain.hostdev(initiator.device)
        label = f"<acpi-generic-initiator> '{initiator.id}'"
        if target is None:
            yield violation("GI-DEVICE-UNKNOWN", initiator.line, label, device=initiator.device)
        elif not target.kind.is_pci:
            yield _not_pci(initiator.line, label, target)
    for hostdev in domain.hostdevs:
        if hostdev.nodeset is not None and not hostdev.kind.is_pci:
            label = f"<acpi nodeset> of hostdev '{hostdev.alias}'"
            yield _not_pci(hostdev.acpi_line, label, hostdev)
    first: dict[tuple[str, int], int] = {}
    reported_no_numa: set[int] = set()
    for claim in claims:
        if not domain.numa:
            if claim.line not in reported_no_numa:
                reported_no_numa.add(claim.line)
                yield violation("GI-NO-NUMA", claim.line, claim.label, node=claim.node)
        elif cell_ids and claim.node not in cell_ids:
            yield violation(
                "GI-NODE-UNKNOWN",
                claim.line,
                claim.label,
                node=claim.node,
                cells=format_bitmap(cell_ids),
            )
        key = (claim.device, claim.node)
        if key in first:
            yield violation(
                "GI-DUPLICATE",
                claim.line,
                claim.label,
                device=claim.device,
                node=claim.node,
                first_line=first[key],
            )
        else:
            first[key] = claim.line
    if domain.acpi is False and claims:
        yield violation("GI-ACPI-DISABLED", domain.features_line, "<features>")


def _not_pci(line: int, label: str, hostdev: Hostdev) -> Violation:
    return violation(
        "GI-DEVICE-NOT-PCI", line, label, device=hostdev.alias, kind=hostdev.kind.value.upper()
    )
