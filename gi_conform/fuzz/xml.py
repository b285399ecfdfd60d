"""The xml target: the whole pipeline (validate, parse, both argv profiles, the
invariants, the ``.args`` text, the XML round trip) on any bytes.

:func:`fuzz_one_input` raises :class:`ContractBreach` when an outcome is not one the API
documents; any other exception escaping it is a crash, i.e. a bug.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Hashable

from gi_conform.argv.build import Profile, build_argv, flatten, render_args
from gi_conform.argv.invariants import check_invariants
from gi_conform.argv.options import read_args_text
from gi_conform.document.format import format_xml
from gi_conform.document.parse import MAX_NODE, PCI_LIMITS
from gi_conform.document.validate import InvalidDocument, Report, parse, validate
from gi_conform.fuzz.contract import ContractBreach
from gi_conform.model import Domain, PciAddress
from gi_conform.rules import catalogue

__all__ = ["XML_TOKENS", "fuzz_one_input", "xml_outcome"]

XML_TOKENS: tuple[bytes, ...] = (
    b"<cell id='0' memory='0'/>",
    b"<cell cpus='0-3' memory='1' unit='GiB'/>",
    b"<acpi nodeset='1-3'/>",
    b"<acpi-generic-initiator><pci-dev>hostdev0</pci-dev><numa-node>1</numa-node>"
    b"</acpi-generic-initiator>",
    b"<alias name='gi0'/>",
    b"<alias name='ram-node0'/>",
    b"<hostdev mode='subsystem' type='pci'><source><address bus='0x06' slot='0x12'"
    b" function='0x1'/></source></hostdev>",
    b"<hostdev mode='subsystem' type='mdev'><source><address"
    b" uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>",
    b"<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/></source></hostdev>",
    b"<features/>",
    b"<features><acpi/></features>",
    b"<vcpu>0</vcpu>",
    b"<numa/>",
    b"</numa>",
    b"</devices>",
    b"<!DOCTYPE domain>",
    b"<!ENTITY x 'y'>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version='1.0' encoding='UTF-16'?>",
    b"&amp;",
    b"&#0;",
    b"&#x10FFFF;",
    b"&x;",
    b"'",
    b'"',
    b"<",
    b">",
    b"/>",
    b"^",
    b",",
    b"-",
    b"0x",
    b"unit='GiB'",
    b"unit='KB'",
    b"unit='EiB'",
    b"type='usb'",
    b"type='scsi'",
    b"type='mdev'",
    b"mode='capabilities'",
    b"\xff",
    b"\x00",
    b"\xc3\xa9",
    b"\xef\xbb\xbf",
    b"\xed\xa0\x80",
    b"\t",
    b"\n",
    b"\r",
)
"""Fragments the engine inserts into XML inputs: elements, entities, units, encodings."""


def _check_report(report: Report) -> None:
    rules = catalogue()
    for violation in report.violations:
        rule = rules.get(violation.rule)
        if rule is None:
            raise ContractBreach(f"unknown rule id {violation.rule!r}")
        if violation.severity is not rule.severity:
            raise ContractBreach(f"{violation.rule} reported as {violation.severity}")
        json.dumps(violation.as_json())
    if list(report.violations) != sorted(report.violations):
        raise ContractBreach("violations are not in line and catalogue order")
    if report.domain is None and not report.errors:
        raise ContractBreach("no model and no error")
    report.text()


def _difference(old: object, new: object, path: str = "domain") -> tuple[str, object, object]:
    """The first place two models differ, as ``(path, old value, new value)``."""
    if type(old) is type(new) and dataclasses.is_dataclass(old):
        for field in dataclasses.fields(old):
            if field.compare and getattr(old, field.name) != getattr(new, field.name):
                return _difference(
                    getattr(old, field.name), getattr(new, field.name), f"{path}.{field.name}"
                )
    if isinstance(old, tuple) and isinstance(new, tuple) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                return _difference(a, b, f"{path}[{index}]")
    return path, old, new


def _check_model(domain: Domain) -> None:
    """An accepted model holds only values in their documented ranges."""
    cells = {cell.id for cell in domain.cells}
    for cell in domain.cells:
        if cell.id is None or not 0 <= cell.id <= MAX_NODE or cell.memory is None:
            raise ContractBreach(f"accepted cell {cell!r}")
        if cell.cpus is None or any(not 0 <= cpu < (domain.vcpus or 0) for cpu in cell.cpus):
            raise ContractBreach(f"accepted cell {cell.id} with vCPUs {cell.cpus!r}")
    for hostdev in domain.hostdevs:
        for address in (hostdev.source, hostdev.guest_address):
            if isinstance(address, PciAddress) and not all(
                0 <= getattr(address, name) <= limit for name, limit in PCI_LIMITS.items()
            ):
                raise ContractBreach(f"accepted PCI address out of range: {address!r}")
        if any(node not in cells for node in hostdev.nodeset or ()):
            raise ContractBreach(f"accepted nodeset {hostdev.nodeset!r}")
    for initiator in domain.initiators:
        target = domain.hostdev(initiator.device or "")
        if initiator.node not in cells or target is None or not target.kind.is_pci:
            raise ContractBreach(f"accepted initiator {initiator!r}")


def _check_accepted(domain: Domain) -> None:
    _check_model(domain)
    for profile in Profile:
        options = build_argv(domain, profile)
        argv = flatten(options)
        broken = check_invariants(domain, argv, profile)
        if broken:
            raise ContractBreach(f"{profile} argv breaks {broken[0].text()}")
        if read_args_text(render_args(options)) != argv:
            raise ContractBreach(f"{profile} .args text does not read back as the argv")
    canonical = format_xml(domain)
    again = validate(canonical)
    if not again.accepted:
        first = again.errors[0].text() if again.errors else "no model"
        raise ContractBreach(f"format_xml output is rejected: {first}")
    if again.domain != domain:
        where, before, after = _difference(domain, again.domain)
        raise ContractBreach(f"parse(format_xml(d)) != d at {where}: {before!r} -> {after!r}")
    if format_xml(again.domain) != canonical:
        raise ContractBreach("format_xml is not idempotent")


def fuzz_one_input(data: bytes) -> None:
    """Check every documented outcome for one input; raise on anything else.

    The contract: ``validate`` returns a :class:`Report` for any bytes, with catalogue
    rules in order; ``parse`` returns that report's model or raises
    :class:`InvalidDocument`, nothing else; an accepted model yields both argv profiles,
    which satisfy every invariant and survive the ``.args`` text, and its XML round trips;
    an accepted model holds values in range only.
    """
    _fuzz(data)


def _fuzz(data: bytes) -> Report:
    report = validate(data)
    _check_report(report)
    try:
        domain = parse(data)
    except InvalidDocument as error:
        if report.accepted:
            raise ContractBreach("parse raised on a document validate accepts") from error
        if error.report != report:
            raise ContractBreach("parse and validate disagree on the violations") from error
        return report
    if not report.accepted or domain != report.domain:
        raise ContractBreach("parse returned a model for a document validate rejects")
    _check_accepted(domain)
    return report


def xml_outcome(data: bytes) -> tuple[Hashable, bool]:
    """Fuzz one input; its verdict (accepted, rules) for the engine, and whether accepted."""
    report = _fuzz(data)
    return (report.accepted, frozenset(v.rule for v in report.violations)), report.accepted
