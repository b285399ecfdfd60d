"""Compare one answer with the reference's expectation: a pure function, no I/O.

What counts (issue 4): the verdict; for accepted documents the semantic facts (NUMA
nodes, initiator pairs, ids, the initiator devices' PCI paths and places) and every
invariant of :mod:`gi_conform.argv.invariants`; with ``strict`` the exact GI subset of the
argv; with ``messages`` the rule ids of a rejection.
Foreign implementations spell options differently, so everything but ``strict`` compares
meaning through :mod:`gi_conform.argv.read`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from gi_conform.argv.facts import (
    DevicePlace,
    NodeFacts,
    SemanticFacts,
    document_facts,
    path_positions,
    semantic_facts,
)
from gi_conform.argv.invariants import check_invariants
from gi_conform.argv.options import shell_quote
from gi_conform.argv.read import ArgvReading, device_key, read_argv
from gi_conform.bitmap import format_bitmap
from gi_conform.oracle.model import Answer, CheckCase, Failure, FailureKind, Verdict
from gi_conform.rules import Severity, catalogue

__all__ = [
    "FACT_IDS",
    "argv_lines",
    "compare",
    "gi_subset",
]

FACT_IDS = (
    "FACT-NUMA-NODES",
    "FACT-GI-PAIRS",
    "FACT-DEVICE-IDS",
    "FACT-GI-IDS",
    "FACT-PCI-PATH",
    "FACT-DEVICE-PLACE",
)
"""The semantic facts compared for accepted documents, as failure keys."""
VERDICT_REJECTS_VALID = "VERDICT-REJECTS-VALID"
STRICT_ARGV = "STRICT-ARGV"


def gi_subset(argv: Sequence[str], reading: ArgvReading | None = None) -> list[tuple[str, str]]:
    """The GI-relevant options of an argv, in order: what golden ``.args`` files hold.

    Memory backends, every ``-numa``, host ``-device`` (with ``host`` or ``sysfsdev``, or
    through ``iommufd``), the PCI path of each device an initiator names (its controllers
    and the ``arm-smmuv3`` on them), the ``iommufd`` object, initiators, and any of those
    options the reader could not read (so a broken one still shows in a diff). Everything
    else a full command line has is left out.
    """
    reading = reading or read_argv(argv)
    tokens = list(argv)
    machine_ram = reading.machine_memory_backend
    cells = {node.memdev for node in reading.numa_nodes}
    positions = {
        *path_positions(reading),
        *(node.position for node in reading.numa_nodes),
        # the machine's own RAM (``-machine memory-backend=pc.ram``, libvirt's without
        # NUMA) is no cell's: every other backend is kept
        *(b.position for b in reading.backends if b.id != machine_ram or b.id in cells),
        *(d.position for d in reading.devices if device_key(d) is not None),
        *(o.position for o in reading.objects if o.qom_type == "iommufd"),
        *(gi.position for gi in reading.initiators),
        *(error.position for error in reading.errors),
    }
    positions.update(i for i, token in enumerate(tokens) if token in ("-numa", "--numa"))
    return [
        (tokens[p], tokens[p + 1] if p + 1 < len(tokens) else "")
        for p in sorted(positions)
        if p < len(tokens)
    ]


def argv_lines(options: Sequence[tuple[str, str]]) -> list[str]:
    """One ``flag value`` line per option, quoted as in ``.args`` files."""
    return [f"{flag} {shell_quote(value)}" for flag, value in options]


def _node_text(node: NodeFacts) -> str:
    memory = "unknown" if node.memory is None else str(node.memory)
    return f"cpus {format_bitmap(sorted(node.cpus)) or 'none'}, memory {memory}"


def _nodes(expected: Sequence[NodeFacts], actual: Sequence[NodeFacts]) -> list[str]:
    want = {node.nodeid: node for node in expected}
    got: dict[int, NodeFacts] = {}
    for node in actual:
        got.setdefault(node.nodeid, node)
    problems = []
    for nodeid in sorted(set(want) | set(got)):
        if nodeid not in got:
            problems.append(f"node {nodeid} missing ({_node_text(want[nodeid])})")
        elif nodeid not in want:
            problems.append(f"node {nodeid} is not a cell ({_node_text(got[nodeid])})")
        elif want[nodeid] != got[nodeid]:
            problems.append(
                f"node {nodeid}: {_node_text(got[nodeid])}, expected {_node_text(want[nodeid])}"
            )
    return problems


def _mapping_diff(label: str, expected: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    problems = []
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            problems.append(f"{label} '{key}' missing (expected {expected[key]})")
        elif key not in expected:
            problems.append(f"unexpected {label} '{key}' ({actual[key]})")
        elif expected[key] != actual[key]:
            problems.append(f"{label} '{key}' is {actual[key]}, expected {expected[key]}")
    return problems


def _host_device_ids(reading: ArgvReading) -> dict[str, str]:
    ids: dict[str, str] = {}
    for device in reading.devices:
        key = device_key(device)
        if key is not None and device.id is not None:
            ids.setdefault(device.id, key)
    return ids


def _initiator_ids(reading: ArgvReading) -> dict[str, str]:
    """Initiator id -> ``(host device, node)`` as text, so ids compare with their meaning."""
    ids: dict[str, str] = {}
    for gi in reading.initiators:
        device = reading.device(gi.pci_dev) if gi.pci_dev is not None else None
        key = device_key(device) if device is not None else None
        ids.setdefault(gi.id, f"({key or f'id:{gi.pci_dev}'}, node {gi.node})")
    return ids


def _facts(case: CheckCase, reading: ArgvReading) -> list[Failure]:
    domain = case.expectation.domain
    assert domain is not None
    want = document_facts(domain, case.profile)
    got = semantic_facts(reading)
    expected_reading = read_argv(case.expectation.argv)
    failures = [
        Failure(FailureKind.FACT, "FACT-NUMA-NODES", problem)
        for problem in _nodes(want.nodes, got.nodes)
    ]
    for device, node in sorted(want.initiators - got.initiators):
        failures.append(
            Failure(FailureKind.FACT, "FACT-GI-PAIRS", f"no initiator for ({device}, node {node})")
        )
    for device, node in sorted(got.initiators - want.initiators):
        failures.append(
            Failure(FailureKind.FACT, "FACT-GI-PAIRS", f"extra initiator ({device}, node {node})")
        )
    for problem in _mapping_diff(
        "device id", _host_device_ids(expected_reading), _host_device_ids(reading)
    ):
        failures.append(Failure(FailureKind.FACT, "FACT-DEVICE-IDS", problem))
    for problem in _mapping_diff(
        "initiator id", _initiator_ids(expected_reading), _initiator_ids(reading)
    ):
        failures.append(Failure(FailureKind.FACT, "FACT-GI-IDS", problem))
    actual_paths = dict(got.paths)
    named = {device for device, _ in got.initiators}  # else FACT-GI-PAIRS says it all
    wrong_path: set[str] = set()
    for device, path in sorted(want.paths):
        if device not in named:
            continue
        actual = actual_paths.get(device, "not traceable to a root bus in the argv")
        if actual != path:
            wrong_path.add(device)
            failures.append(
                Failure(
                    FailureKind.FACT,
                    "FACT-PCI-PATH",
                    f"PCI path of {device} is {actual}, expected {path}",
                )
            )
    failures.extend(_places(want, got, named - wrong_path))
    return failures


def _places(want: SemanticFacts, got: SemanticFacts, devices: set[str]) -> list[Failure]:
    """FACT-DEVICE-PLACE: each of ``devices`` whose place the document fixes sits there
    (the controllers' and its own slot and function, an expander's ``bus_nr``), so its
    SRAT entry carries the right PCI handle. A wrong path is FACT-PCI-PATH's already."""
    actual_places = dict(got.places)
    failures = []
    for device, place in sorted(want.places):
        if device not in devices:
            continue
        actual = actual_places.get(device, DevicePlace(None, None, None))
        if not place.matches(actual):
            traced = place.path is not None
            failures.append(
                Failure(
                    FailureKind.FACT,
                    "FACT-DEVICE-PLACE",
                    f"{device} is at {actual.describe(traced)}, expected {place.describe(traced)}",
                )
            )
    return failures


def _error_rules(rules: Sequence[str]) -> set[str]:
    known = catalogue()
    return {r for r in rules if r in known and known[r].severity is Severity.ERROR}


def _where(position: int | None) -> str:
    return f"argv[{position}]: " if position is not None else ""


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:200] if stripped else "(no message)"


def compare(
    case: CheckCase, answer: Answer, *, strict: bool = False, messages: bool = False
) -> tuple[list[Failure], str]:
    """Every difference between ``answer`` and the reference, and an argv diff if any.

    ``answer`` must be accepted or rejected: skipped and errored answers are not compared.
    """
    if answer.verdict not in (Verdict.ACCEPTED, Verdict.REJECTED):
        raise ValueError(f"cannot compare a {answer.verdict} answer")
    expected = case.expectation
    if expected.accepted and answer.verdict is Verdict.REJECTED:
        message = f"rejected a document the reference accepts: {_first_line(answer.message)}"
        return [Failure(FailureKind.VERDICT, VERDICT_REJECTS_VALID, message)], ""
    if not expected.accepted:
        if answer.verdict is Verdict.ACCEPTED:
            return [
                Failure(
                    FailureKind.VERDICT,
                    rule,
                    f"accepted a document the reference rejects with {rule}",
                )
                for rule in expected.errors
            ], ""
        if not messages:
            return [], ""
        reported = _error_rules(answer.rules)
        want = set(expected.errors)
        failures = [
            Failure(FailureKind.MESSAGES, rule, f"did not report {rule}")
            for rule in expected.errors
            if rule not in reported
        ]
        failures.extend(
            Failure(FailureKind.MESSAGES, rule, f"reported {rule}, which the reference does not")
            for rule in sorted(reported - want)
        )
        return failures, ""
    reading = read_argv(answer.argv)
    failures = _facts(case, reading)
    failures.extend(
        Failure(FailureKind.INVARIANT, broken.id, _where(broken.position) + broken.message)
        for broken in check_invariants(expected.domain or case.data, reading, case.profile)
    )
    golden = case.golden if case.golden is not None else expected.argv
    want_lines = argv_lines(gi_subset(golden))
    got_lines = argv_lines(gi_subset(answer.argv, reading))
    if strict and want_lines != got_lines:
        source = case.golden_name or "the reference argv"
        changed = sum(1 for line in difflib.ndiff(want_lines, got_lines) if line[:1] in "+-")
        failures.append(
            Failure(
                FailureKind.STRICT,
                STRICT_ARGV,
                f"argv differs from {source} ({changed} line(s) added or removed)",
            )
        )
    diff = ""
    if failures and want_lines != got_lines:
        diff = "".join(
            difflib.unified_diff(
                [line + "\n" for line in want_lines],
                [line + "\n" for line in got_lines],
                fromfile=f"expected ({case.golden_name or 'reference'})",
                tofile="actual",
                n=2,
            )
        )
    return failures, diff
