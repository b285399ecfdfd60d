"""Fuzz targets for the untrusted bytes beyond the XML: argv, protocol, ACPI, serial.

Each function takes any bytes, holds one surface to its documented contract and returns
the outcome the engine learns from ``(verdict, accepted)``. The contracts:

* **argv**: the ``.args`` reader (and a JSON-array spelling), :func:`read_argv`, the
  facts and the invariants never raise, whatever an implementation printed;
* **protocol**: a reply line becomes an answer or a :class:`ProtocolError`, never another
  exception, with or without schema validation;
* **acpi**: the decoders raise only :class:`AcpiTableError`, however a table lies about
  its lengths and counts;
* **serial**: a console log becomes a report (never an exception), the report a guest
  view or a :class:`GuestReportError`, and the view checks against a document without
  raising.

Time and memory per input are bounded by the engine (``--timeout``, the address-space
limit), so a loop or a blow-up is a failure too.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Hashable

from gi_conform.argv.build import Profile
from gi_conform.argv.facts import semantic_facts
from gi_conform.argv.invariants import check_invariants
from gi_conform.argv.options import read_args_text
from gi_conform.argv.read import ArgvReading, read_argv
from gi_conform.document.validate import parse
from gi_conform.fuzz.contract import ContractBreach
from gi_conform.groundtruth import acpi
from gi_conform.groundtruth.guest import GuestReportError, read_guest_view
from gi_conform.groundtruth.guest_checks import compare_guest
from gi_conform.groundtruth.serial import read_frames, write_frame
from gi_conform.model import Domain
from gi_conform.oracle.protocol import ProtocolError, decode_run_line, decode_start_reply
from gi_conform.resources import cases_dir

__all__ = ["acpi_outcome", "argv_outcome", "protocol_outcome", "serial_outcome"]

_DOCUMENTS = (("seed-example", Profile.SEED), ("libvirt-11.8-example", Profile.LIBVIRT))


@functools.cache
def _documents() -> tuple[tuple[Domain, Profile], ...]:
    """The documents an arbitrary argv or guest report is held against."""
    return tuple(
        (parse((cases_dir() / f"{name}.xml").read_bytes()), profile) for name, profile in _DOCUMENTS
    )


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _argv_spellings(text: str) -> list[list[str]]:
    """The argv in each spelling an implementation may print, each distinct one once (for
    most inputs the ``.args`` and one-per-line readings are the same tokens)."""
    spellings = [read_args_text(text)]
    lines = text.splitlines()
    if lines != spellings[0]:
        spellings.append(lines)
    if text.lstrip().startswith("["):
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError):
            loaded = None
        if (
            isinstance(loaded, list)
            and all(isinstance(item, str) for item in loaded)
            and loaded not in spellings
        ):
            spellings.append(loaded)
    return spellings


def argv_outcome(data: bytes) -> tuple[Hashable, bool]:
    """Any implementation's output, read as ``.args`` text, one per line, a JSON array."""
    verdict: list[Hashable] = []
    clean = True
    for tokens in _argv_spellings(_text(data)):
        reading = read_argv(tokens)
        if not isinstance(reading, ArgvReading):
            raise ContractBreach("read_argv returned no reading")
        semantic_facts(reading)
        broken: set[str] = set()
        for domain, profile in _documents():
            broken |= {b.id for b in check_invariants(domain, reading, profile)}
        errors = frozenset(error.message.split(":")[0][:40] for error in reading.errors)
        verdict.append((errors, frozenset(broken), len(reading.numa_nodes) > 0))
        clean = clean and not reading.errors
    return tuple(verdict), clean


def protocol_outcome(data: bytes) -> tuple[Hashable, bool]:
    """One reply line, as a ``start`` reply and as a ``run`` reply, schema on and off."""
    verdict: list[Hashable] = []
    accepted = False
    for validate in (False, True):
        try:
            decode_start_reply(data, validate=validate)
            verdict.append("start")
            accepted = True
        except ProtocolError as error:
            verdict.append(str(error)[:30])
        try:
            answer = decode_run_line(data, 1, validate=validate)
            verdict.append(str(answer.verdict))
            accepted = True
        except ProtocolError as error:
            verdict.append(str(error)[:30])
    return tuple(verdict), accepted


def _checksummed(data: bytes) -> bytes:
    """``data`` with its header checksum byte fixed, so a mutant reaches past the
    checksum to the lengths and counts it lies about."""
    if len(data) < 10:
        return data
    table = bytearray(data)
    table[9] = 0
    table[9] = -sum(table[: int.from_bytes(table[4:8], "little")] or table) & 0xFF
    return bytes(table)


def acpi_outcome(data: bytes) -> tuple[Hashable, bool]:
    """Every decoder on the bytes as given and with a repaired checksum; only
    AcpiTableError may come out."""
    first, accepted = _decode_all(data)
    second, repaired = _decode_all(_checksummed(data))
    return (first, second), accepted or repaired


def _decode_all(data: bytes) -> tuple[tuple[Hashable, ...], bool]:
    verdict: list[Hashable] = []
    decoders = (
        acpi.parse_header,
        acpi.verify_table,
        lambda table: acpi.enabled_entries(acpi.decode_srat(table)),
        acpi.decode_slit,
        acpi.decode_hmat,
        acpi.find_rsdp,
    )
    for decode in decoders:
        try:
            decode(data)
            verdict.append("ok")
        except acpi.AcpiTableError as error:
            verdict.append(str(error).split(":")[0][:30])
    return tuple(verdict), "ok" in verdict[2:5]


def serial_outcome(data: bytes) -> tuple[Hashable, bool]:
    """A console log: frames, the guest view, and the checks against two documents; and
    the same bytes as the payload of an intact report frame, so mutants reach the
    report's reader past the frame checksum."""
    first, accepted = _console(_text(data))
    second, inner = _console(write_frame("sysfs", data) + write_frame("dmesg", data[-4096:]))
    return (first, second), accepted or inner


def _console(text: str) -> tuple[Hashable, bool]:
    report = read_frames(text)
    try:
        view = read_guest_view(report)
    except GuestReportError:
        return (report.done, frozenset(report.frames), bool(report.problems), None), False
    failed: set[str] = set()
    for domain, profile in _documents():
        checks = compare_guest(domain, profile, view)
        failed |= {check.entry.split(" (")[0][:30] for check in checks if not check.ok}
    verdict = (report.done, frozenset(report.frames), bool(report.problems), frozenset(failed))
    return verdict, True
