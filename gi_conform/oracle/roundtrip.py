"""Round-trip comparison: what a document means for GI, before and after a tool rewrote it.

A round-trip implementation (``check --mode roundtrip``) receives a document and returns
a document (or a rejection, or only a verdict). :func:`roundtrip_facts` reads the
GI-relevant meaning of a :class:`~gi_conform.model.Domain` (cells with CPUs and memory,
the distance matrix, host devices with kind, source, guest address, alias and nodeset,
the seed's elements, numatune, HMAT) into comparable values, and
:func:`compare_roundtrip` reports each loss or change under a key of its own
(:data:`RT_KEYS`). This module is the one owner of that comparison: a pure function, no
I/O, reading documents only through the reference's parser and validator.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from gi_conform.bitmap import format_bitmap
from gi_conform.document.validate import validate
from gi_conform.model import Domain, Hostdev, NumatuneMode
from gi_conform.oracle.model import Answer, CheckCase, Failure, FailureKind, Verdict
from gi_conform.semantics import distance_matrix

__all__ = [
    "RT_KEYS",
    "HostdevFacts",
    "RoundtripFacts",
    "compare_roundtrip",
    "fact_failures",
    "roundtrip_facts",
]

RT_KEYS = {
    "RT-VERDICT-CHANGED": "the output validates with another verdict than the input "
    "(or a verdict-only implementation accepts what the reference rejects)",
    "RT-CELL-CHANGED": "a NUMA cell is lost, added, or its CPUs or memory changed",
    "RT-DISTANCE-CHANGED": "the resolved distance matrix changed",
    "RT-HOSTDEV-DROPPED": "a host device (by its source) is gone",
    "RT-HOSTDEV-CHANGED": "a host device's kind or guest address changed, or a device was added",
    "RT-ALIAS-CHANGED": "a host device's user-given <alias name> is gone or changed (seed "
    "elements and QEMU ids refer to it)",
    "RT-NODESET-DROPPED": "a hostdev's <acpi nodeset> is gone",
    "RT-NODESET-CHANGED": "a hostdev's <acpi nodeset> names other nodes",
    "RT-SEED-DROPPED": "a seed <acpi-generic-initiator> element is gone",
    "RT-SEED-CHANGED": "a seed element names another device or node, or one was added",
    "RT-NUMATUNE-CHANGED": "<numatune> (memory or memnode mode and nodeset) changed",
    "RT-HMAT-CHANGED": "HMAT (interconnect latencies/bandwidths, cell caches) changed",
}
"""Every round-trip failure key and what it means (``docs/howto/roundtrip.md``)."""

_REJECTS_VALID = "VERDICT-REJECTS-VALID"


@dataclass(frozen=True)
class HostdevFacts:
    """One host device as a round trip must keep it (``alias`` only when the user gave one)."""

    kind: str
    guest_address: str | None
    alias: str | None
    nodeset: tuple[int, ...] | None
    iommufd: bool = False
    """Whether it reaches QEMU through iommufd (its own ``<driver iommufd>`` or the
    domain's ``<iommufd>``): the argv then has no host address for it."""


@dataclass(frozen=True)
class RoundtripFacts:
    """The GI-relevant meaning of a domain, in comparable form."""

    cells: Mapping[int, tuple[str, int]]
    """Cell id -> (CPU set text, memory bytes)."""
    distances: Mapping[tuple[int, int], int]
    hostdevs: Mapping[str, HostdevFacts]
    """Source text (PCI address, mdev UUID, USB or SCSI source) -> the device."""
    seed: frozenset[tuple[str, str, int]]
    """Seed elements as (id, device source text, node)."""
    numatune: tuple[object, ...] | None
    hmat: tuple[tuple[object, ...], ...]


def _source_text(hostdev: Hostdev | None) -> str:
    if hostdev is None or hostdev.source is None:
        return "(unknown device)"
    return f"{hostdev.kind} {hostdev.source}"


def _numatune(domain: Domain) -> tuple[object, ...] | None:
    tune = domain.numatune
    if tune is None:
        return None

    def mode(value: NumatuneMode | None) -> str:
        return str(value or NumatuneMode.STRICT)

    memory = (mode(tune.mode), tune.nodeset or ()) if tune.has_memory else None
    memnodes = tuple(
        sorted((node.cell or 0, mode(node.mode), node.nodeset or ()) for node in tune.memnodes)
    )
    if memory is None and not memnodes:
        return None
    return (memory, memnodes)


def _hmat(domain: Domain) -> tuple[tuple[object, ...], ...]:
    links = {
        (
            "link",
            link.kind,
            link.initiator,
            link.target,
            link.cache or 0,
            str(link.type),
            link.value,
        )
        for link in domain.interconnects
    }
    caches = {
        (
            "cache",
            cell.id,
            cache.level,
            str(cache.associativity),
            str(cache.policy),
            cache.size,
            cache.line_size,
        )
        for cell in domain.cells
        for cache in cell.caches
    }
    return tuple(sorted(links | caches, key=repr))


def roundtrip_facts(domain: Domain) -> RoundtripFacts:
    """What a round trip must keep of ``domain`` (an accepted document's model)."""
    cells = {
        cell.id: (format_bitmap(sorted(cell.cpus or ())) or "none", cell.memory or 0)
        for cell in domain.cells
        if cell.id is not None
    }
    hostdevs: dict[str, HostdevFacts] = {}
    for hostdev in domain.hostdevs:
        address = hostdev.guest_address
        hostdevs.setdefault(
            _source_text(hostdev),
            HostdevFacts(
                str(hostdev.kind),
                str(address) if address is not None else None,
                hostdev.alias if hostdev.alias_given else None,
                hostdev.nodeset,
                domain.uses_iommufd(hostdev),
            ),
        )
    seed = frozenset(
        (
            initiator.id,
            _source_text(domain.hostdev(initiator.device) if initiator.device else None),
            initiator.node if initiator.node is not None else -1,
        )
        for initiator in domain.initiators
    )
    return RoundtripFacts(
        cells, distance_matrix(domain), hostdevs, seed, _numatune(domain), _hmat(domain)
    )


def _fail(key: str, message: str) -> Failure:
    return Failure(FailureKind.ROUNDTRIP, key, message)


def _cells(want: RoundtripFacts, got: RoundtripFacts) -> list[Failure]:
    found = []
    for cell in sorted(set(want.cells) | set(got.cells)):
        before, after = want.cells.get(cell), got.cells.get(cell)
        if before == after:
            continue
        if after is None:
            text = f"cell {cell} lost (cpus {before[0] if before else '?'})"
        elif before is None:
            text = f"cell {cell} added (cpus {after[0]}, memory {after[1]})"
        else:
            text = (
                f"cell {cell}: cpus {after[0]}, memory {after[1]}; "
                f"was cpus {before[0]}, memory {before[1]}"
            )
        found.append(_fail("RT-CELL-CHANGED", text))
    return found


def _distances(want: RoundtripFacts, got: RoundtripFacts) -> list[Failure]:
    if want.distances == got.distances:
        return []
    changed = sorted(
        pair
        for pair in set(want.distances) | set(got.distances)
        if want.distances.get(pair) != got.distances.get(pair)
    )
    shown = ", ".join(
        f"{a}->{b}: {got.distances.get((a, b), 'none')} (was {want.distances.get((a, b), 'none')})"
        for a, b in changed[:6]
    )
    more = f" and {len(changed) - 6} more" if len(changed) > 6 else ""
    return [_fail("RT-DISTANCE-CHANGED", f"{len(changed)} distance(s) changed: {shown}{more}")]


def _nodes(nodeset: tuple[int, ...] | None) -> str:
    return format_bitmap(list(nodeset)) if nodeset else "none"


def _hostdevs(want: RoundtripFacts, got: RoundtripFacts) -> list[Failure]:
    found = []
    for source, before in want.hostdevs.items():
        after = got.hostdevs.get(source)
        if after is None:
            lost = f" with <acpi nodeset='{_nodes(before.nodeset)}'>" if before.nodeset else ""
            found.append(_fail("RT-HOSTDEV-DROPPED", f"hostdev {source}{lost} is gone"))
            continue
        if before.kind != after.kind:
            found.append(
                _fail("RT-HOSTDEV-CHANGED", f"hostdev {source}: {after.kind}, was {before.kind}")
            )
        if before.guest_address is not None and before.guest_address != after.guest_address:
            found.append(
                _fail(
                    "RT-HOSTDEV-CHANGED",
                    f"hostdev {source}: guest address {after.guest_address or 'none'}, "
                    f"was {before.guest_address}",
                )
            )
        if before.iommufd != after.iommufd:
            found.append(
                _fail(
                    "RT-HOSTDEV-CHANGED",
                    f"hostdev {source}: iommufd {'on' if after.iommufd else 'off'}, "
                    f"was {'on' if before.iommufd else 'off'}",
                )
            )
        if before.alias is not None and before.alias != after.alias:
            found.append(
                _fail(
                    "RT-ALIAS-CHANGED",
                    f"hostdev {source}: alias {after.alias or 'none'}, was {before.alias}",
                )
            )
        if before.nodeset and not after.nodeset:
            found.append(
                _fail(
                    "RT-NODESET-DROPPED",
                    f"hostdev {source}: <acpi nodeset='{_nodes(before.nodeset)}'> dropped",
                )
            )
        elif (before.nodeset or ()) != (after.nodeset or ()):
            found.append(
                _fail(
                    "RT-NODESET-CHANGED",
                    f"hostdev {source}: nodeset {_nodes(after.nodeset)}, "
                    f"was {_nodes(before.nodeset)}",
                )
            )
    found.extend(
        _fail("RT-HOSTDEV-CHANGED", f"hostdev {source} added")
        for source in got.hostdevs
        if source not in want.hostdevs
    )
    return found


def _seed(want: RoundtripFacts, got: RoundtripFacts) -> list[Failure]:
    found = [
        _fail("RT-SEED-DROPPED", f"<acpi-generic-initiator> '{id_}' ({device}, node {node}) gone")
        for id_, device, node in sorted(want.seed - got.seed)
    ]
    found.extend(
        _fail("RT-SEED-CHANGED", f"<acpi-generic-initiator> '{id_}' ({device}, node {node}) added")
        for id_, device, node in sorted(got.seed - want.seed)
    )
    return found


def _simple(want: RoundtripFacts, got: RoundtripFacts) -> list[Failure]:
    found = []
    if want.numatune != got.numatune:
        found.append(
            _fail("RT-NUMATUNE-CHANGED", f"numatune {got.numatune!r}, was {want.numatune!r}")
        )
    if want.hmat != got.hmat:
        lost, added = set(want.hmat) - set(got.hmat), set(got.hmat) - set(want.hmat)
        found.append(
            _fail(
                "RT-HMAT-CHANGED",
                f"{len(lost)} HMAT entr(ies) lost, {len(added)} added"
                + (f"; lost {sorted(lost, key=repr)[0]!r}" if lost else "")
                + (f"; added {sorted(added, key=repr)[0]!r}" if added else ""),
            )
        )
    return found


def fact_failures(before: Domain, after: Domain) -> list[Failure]:
    """Every GI-relevant loss or change from ``before`` to ``after``, in key order."""
    want, got = roundtrip_facts(before), roundtrip_facts(after)
    return [
        *_cells(want, got),
        *_distances(want, got),
        *_hostdevs(want, got),
        *_seed(want, got),
        *_simple(want, got),
    ]


_MAX_DIFF_LINES = 80
"""A round-trip diff is cut here: what a tool adds (defaults, a uuid) can be long."""
_MAX_DIFF_LINE_CHARS = 240
"""And each line here: a generated document can hold a line of megabytes."""


def _xml_diff(case: CheckCase, output: str) -> str:
    before = case.data.decode("utf-8", "replace").splitlines(keepends=True)
    after = output.splitlines(keepends=True)
    lines = list(
        difflib.unified_diff(before, after, fromfile="input", tofile="output (written back)", n=1)
    )
    if len(lines) > _MAX_DIFF_LINES:
        cut = len(lines) - _MAX_DIFF_LINES
        lines = [*lines[:_MAX_DIFF_LINES], f"... ({cut} more diff lines)\n"]
    return "".join(_cut_line(line) for line in lines)


def _cut_line(line: str) -> str:
    text = line.rstrip("\n")
    if len(text) > _MAX_DIFF_LINE_CHARS:
        text = (
            f"{text[:_MAX_DIFF_LINE_CHARS]}... ({len(text) - _MAX_DIFF_LINE_CHARS} more characters)"
        )
    return text + "\n"


def _rules(errors: tuple[str, ...] | list[str]) -> str:
    return ", ".join(dict.fromkeys(errors)) or "no rule"


def compare_roundtrip(case: CheckCase, answer: Answer) -> tuple[list[Failure], str]:
    """Every difference between the document and what the implementation gave back.

    ``answer`` must be accepted or rejected. An accepted answer without ``xml`` is a
    verdict-only answer: only its verdict is compared. Otherwise the output must get the
    input's verdict from the reference and, when the input is valid, keep its meaning.
    Returns the failures and a unified diff of input and output when any failed.
    """
    if answer.verdict not in (Verdict.ACCEPTED, Verdict.REJECTED):
        raise ValueError(f"cannot compare a {answer.verdict} answer")
    expected = case.expectation
    if answer.verdict is Verdict.REJECTED:
        if not expected.accepted:
            return [], ""
        first = (answer.message.strip().splitlines() or ["(no message)"])[0][:200]
        message = f"rejected a document the reference accepts: {first}"
        return [Failure(FailureKind.VERDICT, _REJECTS_VALID, message)], ""
    if answer.xml is None:
        if expected.accepted:
            return [], ""
        text = f"accepted a document the reference rejects with {_rules(expected.errors)}"
        return [_fail("RT-VERDICT-CHANGED", text)], ""
    report = validate(answer.xml)
    if report.accepted != expected.accepted:
        if expected.accepted:
            rules = _rules([v.rule for v in report.errors])
            text = f"the output is rejected by the reference: {rules}"
        else:
            text = f"the input is rejected with {_rules(expected.errors)}, the output is accepted"
        failures = [_fail("RT-VERDICT-CHANGED", text)]
    elif not expected.accepted or expected.domain is None or report.domain is None:
        failures = []
    else:
        failures = fact_failures(expected.domain, report.domain)
    return failures, _xml_diff(case, answer.xml) if failures else ""
