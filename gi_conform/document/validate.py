"""The validator: every catalogue rule that spans more than one element.

``validate`` never stops at the first problem: it returns all of them, sorted by line and
catalogue order, so a user fixes a document in one round.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from dataclasses import dataclass

from gi_conform.bitmap import format_bitmap
from gi_conform.document._facts import DomainFacts, domain_facts
from gi_conform.document.parse import read_domain
from gi_conform.document.validate_numa import numa_feature_rules
from gi_conform.document.validate_pci import pci_rules
from gi_conform.model import Domain, Hostdev, HostdevKind, PciAddress, _assembled
from gi_conform.rules import Severity, Violation, violation
from gi_conform.semantics import (
    BRIDGE_MODELS,
    LOCAL_DISTANCE,
    SINGLE_SLOT_MODELS,
    UNREACHABLE,
    bus_model,
    unassigned_vcpus,
    vcpus_added_to_cell0,
)

__all__ = ["MAX_CELLS", "InvalidDocument", "Report", "check_domain", "parse", "validate"]

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
    return _assembled(Report, domain=parsed.domain, violations=tuple(sorted(problems)))


def parse(source: bytes | str) -> Domain:
    """The model of a valid document; raises :class:`InvalidDocument` otherwise."""
    report = validate(source)
    if not report.accepted:
        raise InvalidDocument(report)
    assert report.domain is not None
    return report.domain


def check_domain(domain: Domain) -> list[Violation]:
    """The cross-element rules, on a model (its own syntax problems are the parser's)."""
    facts = domain_facts(domain)
    return [
        *_numa_rules(domain, facts),
        *numa_feature_rules(domain, facts),
        *_device_rules(domain),
        *pci_rules(domain),
        *_initiator_rules(domain, facts),
        *_acpi_rules(domain, facts),
        *_memory_size_rules(domain),
    ]


def _memory_size_rules(domain: Domain) -> Iterator[Violation]:
    """libvirt 12.8 refuses a guest without memory: no cells and no (or a zero)
    ``<memory>`` (with cells, their sum is the size; NUMA-NO-MEMORY covers all-zero cells)."""
    if not domain.cells and not domain.memory:
        yield violation("DOMAIN-MEMORY-MISSING", domain.line, "<domain>")


def _cell_label(cell_id: int | None) -> str:
    return f"<cell id='{cell_id}'>"


def _numa_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    yield from _cell_id_rules(domain, facts)
    yield from _cpu_rules(domain)
    yield from _distance_rules(domain, facts)
    yield from _cell_content_rules(domain, facts)


def _cell_id_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    cells = domain.cells
    if domain.numa and not cells:
        yield violation("NUMA-NO-CELLS", domain.numa_line, "<numa>")
    if len(cells) > MAX_CELLS:
        yield violation("NUMA-TOO-MANY-CELLS", domain.numa_line, "<numa>", count=len(cells))
    ids = facts.cell_ids
    readable = sum(1 for cell in cells if cell.id is not None)
    if readable != len(ids):  # some id is given twice: name each repetition
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
    # n distinct ids are 0..n-1 exactly when the smallest is 0 and the largest n-1
    if ids and readable == len(cells) and (min(ids) != 0 or max(ids) != len(ids) - 1):
        missing = sorted(set(range(len(ids))) - ids)  # bounded by the cell count
        yield violation(
            "NUMA-CELL-ID-NONCONTIGUOUS",
            domain.numa_line,
            "<numa>",
            last=len(ids) - 1,
            missing=format_bitmap(missing),
        )


def _cpu_rules(domain: Domain) -> Iterator[Violation]:
    owner: dict[int, int | None] = {}
    for cell in domain.cells:
        if not cell.cpus:  # unreadable or none: nothing to own
            continue
        shared = sorted(owner.keys() & cell.cpus)
        if shared:
            yield violation(
                "NUMA-CPUS-OVERLAP",
                cell.line,
                _cell_label(cell.id),
                cpus=format_bitmap(shared),
                other=owner[shared[0]],
            )
        if shared:
            for cpu in cell.cpus:
                owner.setdefault(cpu, cell.id)
        else:  # the usual case: no vCPU owned yet, each is this cell's
            owner.update(dict.fromkeys(cell.cpus, cell.id))
        if domain.vcpus is not None and max(cell.cpus) >= domain.vcpus:
            beyond = [cpu for cpu in cell.cpus if cpu >= domain.vcpus]
            yield violation(
                "NUMA-CPUS-OUT-OF-RANGE",
                cell.line,
                _cell_label(cell.id),
                cpus=format_bitmap(beyond),
                vcpus=domain.vcpus,
                last=domain.vcpus - 1,
            )


def _cell_content_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    """vCPUs no cell names, memory nowhere, cells a guest could not see."""
    cells = domain.cells
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
    if cells and all(cell.memory == 0 for cell in cells):
        yield violation("NUMA-NO-MEMORY", domain.numa_line, "<numa>")
    targets = facts.claimed_nodes
    for cell in cells:
        invisible = cell.cpus == () and cell.memory == 0 and cell.id not in targets
        if invisible and cell.id is not None and not (cell.id == 0 and unassigned):
            yield violation("NUMA-CELL-INVISIBLE", cell.line, _cell_label(cell.id), cell=cell.id)


def _distance_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    ids = facts.cell_ids
    for cell in domain.cells:
        for sibling, value in cell.distances:
            if sibling not in ids:
                yield violation(
                    "NUMA-DISTANCE-SIBLING-UNKNOWN",
                    cell.line,
                    _sibling_label(sibling, cell.id),
                    sibling=sibling,
                    cell=cell.id,
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
                    _sibling_label(sibling, cell.id),
                    value=value,
                    sibling=sibling,
                    detail=detail,
                )


def _sibling_label(sibling: int, cell_id: int | None) -> str:
    return f"<sibling id='{sibling}'> of {_cell_label(cell_id)}"


_HOSTDEV_NAME = "hostdev '{}'"
_SEED_NAME = "<acpi-generic-initiator> '{}'"
_BY_LINE = operator.itemgetter(1)


def _names(domain: Domain) -> list[tuple[str, int, str]]:
    """Every user-given id with its line and what carries it (a format taking the id),
    in document order; the label is made only for a violation."""
    named = [(h.alias, h.line, _HOSTDEV_NAME) for h in domain.hostdevs if h.alias_given]
    named.extend((i.id, i.line, _SEED_NAME) for i in domain.initiators if i.alias_given)
    named.sort(key=_BY_LINE)
    return named


def _device_rules(domain: Domain) -> Iterator[Violation]:
    yield from _alias_rules(domain)
    guests: dict[PciAddress, Hostdev] = {}
    for hostdev in domain.hostdevs:
        if hostdev.guest_address is not None:
            guests.setdefault(hostdev.guest_address, hostdev)
    yield from _hostdev_duplicate_rules(domain, guests)
    yield from _guest_slot_rules(domain, guests)
    yield from _address_type_rules(domain)
    if not domain.graphics:
        yield from _display_rules(domain)
    yield from _ramfb_rules(domain)
    if domain.arch != "s390x":
        yield from _zpci_rules(domain)
    if domain.iommufd is False and domain.iommufd_fdgroup is not None:
        # libvirt 12.8 refuses it even when a hostdev turns iommufd on itself
        yield violation("HOSTDEV-IOMMUFD-FDGROUP", domain.line, "<iommufd>")


def _display_rules(domain: Domain) -> Iterator[Violation]:
    """libvirt 12.8 (qemuValidateDomainMdevDefVFIOPCI, and the same for a PCI hostdev,
    measured): a ``display='on'`` needs a ``<graphics>`` of any type in a domain that has
    none; a ``<video>`` does not count."""
    for hostdev in domain.hostdevs:
        if hostdev.display and hostdev.kind.is_pci:
            yield violation(
                "HOSTDEV-MDEV-DISPLAY-GRAPHICS", hostdev.line, f"hostdev '{hostdev.alias}'"
            )


def _zpci_rules(domain: Domain) -> Iterator[Violation]:
    """libvirt 12.8 (qemuValidateDomainDeviceDefZPCIAddress, measured on q35, i440fx and
    virt): a ``<zpci>`` with a uid or fid needs QEMU's s390 zPCI; an empty one is ignored."""
    for hostdev in domain.hostdevs:
        if hostdev.zpci:
            yield violation("HOSTDEV-ZPCI-ARCH", hostdev.line, f"hostdev '{hostdev.alias}'")


def _ramfb_rules(domain: Domain) -> Iterator[Violation]:
    """libvirt 12.8 (virDomainDefHostdevValidate; measured: PCI hostdevs and unassigned
    ones count too): one hostdev with ``ramfb='on'`` at most, QEMU has one ramfb."""
    first: Hostdev | None = None
    for hostdev in domain.hostdevs:
        if not hostdev.ramfb or not hostdev.kind.is_pci:
            continue
        if first is None:
            first = hostdev
        else:
            yield violation(
                "HOSTDEV-RAMFB-MULTIPLE",
                hostdev.line,
                f"hostdev '{hostdev.alias}'",
                other=first.alias,
            )


def _address_type_rules(domain: Domain) -> Iterator[Violation]:
    """libvirt 12.8: an mdev (model vfio-pci) takes a PCI guest address or none; a PCI
    hostdev a PCI one, ``unassigned`` (kept off the guest) or none."""
    for hostdev in domain.hostdevs:
        kind, address_type = hostdev.kind, hostdev.guest_address_type
        if address_type is None or not kind.is_pci:
            continue
        if kind is HostdevKind.MDEV:
            detail = (
                f"Unsupported address type '{address_type}' with mediated device model 'vfio-pci'"
            )
        elif address_type != "unassigned":
            detail = "PCI host devices must use 'pci' or 'unassigned' address type"
        else:
            continue
        yield violation(
            "HOSTDEV-GUEST-ADDRESS-TYPE",
            hostdev.line,
            f"hostdev '{hostdev.alias}'",
            type=address_type,
            detail=detail,
        )


def _alias_rules(domain: Domain) -> Iterator[Violation]:
    seen: dict[str, tuple[str, int]] = {}
    for alias, line, name in _names(domain):
        if not _ALIAS.match(alias):
            yield violation("DEVICE-ALIAS-SYNTAX", line, name.format(alias), alias=alias)
        # the pattern's literal prefix first: most aliases are not a cell's backend id
        reserved = _RESERVED_ALIAS.match(alias) if alias.startswith("ram-node") else None
        if reserved:
            label = name.format(alias)
            yield violation("DEVICE-ALIAS-RESERVED", line, label, alias=alias, cell=reserved[1])
        if alias in seen:
            other, first_line = seen[alias]
            yield violation(
                "DEVICE-ALIAS-DUPLICATE",
                line,
                name.format(alias),
                alias=alias,
                other=other.format(alias),
                first_line=first_line,
            )
        else:
            seen[alias] = (name, line)


def _hostdev_duplicate_rules(
    domain: Domain, guests: dict[PciAddress, Hostdev]
) -> Iterator[Violation]:
    """Two hostdevs with one host source, or one guest address (``guests``: the first
    hostdev at each guest address)."""
    sources: dict[object, Hostdev] = {}
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
        address = hostdev.guest_address
        if address is not None and guests[address] is not hostdev:
            yield violation(
                "HOSTDEV-GUEST-ADDRESS-DUPLICATE",
                hostdev.line,
                label,
                address=address.host_text(),
                other=guests[address].alias,
            )


def _guest_slot_rules(domain: Domain, guests: dict[PciAddress, Hostdev]) -> Iterator[Violation]:
    """Reserved slots, slots a bus does not have, functions beside a single-function 0;
    ``guests``: the first hostdev at each guest address."""
    machine_slots = _reserved_slots(domain)
    for address, hostdev in guests.items():
        problem = _bus_slot_problem(domain, address)
        if address.bus == 0 and address.slot in machine_slots and _taken(domain, address):
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


_Q35_LPC_FUNCTIONS = frozenset({0, 2, 3})
"""Functions of q35's slot 0x1f QEMU fills (LPC, AHCI, SMBus); 1 and 4-7 are free
(measured in QEMU 10.0 with -nodefaults; libvirt 12.8 places a device at 00:1f.1)."""


def _taken(domain: Domain, address: PciAddress) -> bool:
    """Whether the machine's own device holds ``address`` of a reserved bus-0 slot."""
    if domain.pci_root_bus == "pcie.0" and address.slot == 0x1F:
        return address.function in _Q35_LPC_FUNCTIONS
    return True


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


def _initiator_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    hostdevs, pci = facts.hostdevs, facts.pci_aliases
    for initiator in domain.initiators:
        if initiator.device is None or initiator.device in pci:
            continue
        target = hostdevs.get(initiator.device)
        label = f"<acpi-generic-initiator> '{initiator.id}'"
        if target is None:
            yield violation("GI-DEVICE-UNKNOWN", initiator.line, label, device=initiator.device)
        else:
            yield _not_pci(initiator.line, label, target)
    for hostdev in domain.hostdevs:
        if hostdev.nodeset is not None and not hostdev.kind.is_pci:
            label = f"<acpi nodeset> of hostdev '{hostdev.alias}'"
            yield _not_pci(hostdev.acpi_line, label, hostdev)
    yield from _claim_rules(domain, facts)
    kept_off = {alias for alias in pci if not hostdevs[alias].in_guest}
    if kept_off and any(device in kept_off for device, _ in facts.pairs):
        for claim in facts.claims:
            if claim.device in kept_off:
                yield violation(
                    "GI-DEVICE-UNASSIGNED",
                    claim.line,
                    claim.label,
                    device=claim.device,
                    node=claim.node,
                )


def _acpi_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    """ACPI as libvirt 12.8 runs it: ``acpi=on`` only for ``<features><acpi/>`` (no
    ``<features>`` at all, or one without ``<acpi/>``, gives ``acpi=off`` on q35, pc and
    virt alike, and every initiator object is still written), and on aarch64 only with
    UEFI firmware (else it refuses the document)."""
    if domain.acpi and domain.arch == "aarch64" and not domain.uefi:
        yield violation("DOMAIN-ACPI-UEFI", domain.features_line, "<features><acpi/>")
    elif not domain.acpi and facts.pairs:
        where = "<features>" if domain.acpi is False else "<domain>"
        missing = "no <acpi/>" if domain.acpi is False else "no <features><acpi/>"
        yield violation(
            "GI-ACPI-DISABLED",
            domain.features_line if domain.acpi is False else domain.line,
            where,
            missing=missing,
            count=len(set(facts.pairs)),
        )


def _claim_rules(domain: Domain, facts: DomainFacts) -> Iterator[Violation]:
    """Each initiator's node exists, NUMA exists at all, and no pair is asked twice."""
    cell_ids, pairs = facts.cell_ids, facts.pairs
    unknown_node = bool(cell_ids) and not facts.claimed_nodes <= cell_ids
    if not pairs or (domain.numa and not unknown_node and len(set(pairs)) == len(pairs)):
        return  # NUMA exists, every node is a cell, no pair twice: nothing to name
    first: dict[tuple[str, int], int] = {}
    reported_no_numa: set[int] = set()
    for claim in facts.claims:
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


def _not_pci(line: int, label: str, hostdev: Hostdev) -> Violation:
    return violation(
        "GI-DEVICE-NOT-PCI", line, label, device=hostdev.alias, kind=hostdev.kind.value.upper()
    )
