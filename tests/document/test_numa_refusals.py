"""The NUMA and ``<numatune>`` rules against what libvirt 12.8 answered (``virsh
domxml-to-native`` in the sid chroot, 2026-12-07; re-measured by
``tests/libvirt/test_numa_refusals.py`` where the chroot exists).

Each row is one document and libvirt's answer to it. Where libvirt refuses it with the
row's rule, the reference must report that rule (and only it) and its message must carry
libvirt's text, as the golden comparison with libvirt's own tests requires
(``tests/argv/test_libvirt_goldens.py``: libvirt's ``.err`` without its ``XML error: ``
or ``unsupported configuration: `` prefix must appear in the reference's diagnostic).
Plausible wrong implementations (the reference before, a direction swapped, a default
misread) must each disagree with libvirt on some row.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gi_conform import Domain, format_xml, parse, validate
from tests.helpers import Measured, assert_refused_as_measured, model

_CELL = "<cell id='{}' cpus='{}' memory='109568' unit='KiB'>{}</cell>"
ONE_CELL = "<cpu><numa><cell id='0' cpus='0' memory='219136' unit='KiB'/></numa></cpu>"
MEMORY = "<memory unit='KiB'>219136</memory>"
STATIC = "<vcpu placement='static'>{}</vcpu>"


def domain_xml(
    numatune: str = "",
    cells: str = ONE_CELL,
    vcpu: str = STATIC,
    memory: str = MEMORY,
    vcpus: int = 1,
) -> str:
    """A small q35 domain as measured: no devices but the emulator."""
    return (
        "<domain type='kvm'><name>t</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>"
        f"{memory}{vcpu.format(vcpus)}{numatune}"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os>"
        f"{cells}<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>"
    )


def two_cells(ids: tuple[int, int] = (0, 1), distances: str = "") -> str:
    first, second = ids
    return (
        "<cpu><numa>"
        + _CELL.format(first, "0", "")
        + _CELL.format(second, "1", distances)
        + "</numa></cpu>"
    )


def tune(body: str) -> str:
    return f"<numatune>{body}</numatune>"


_NONCONTIGUOUS = (
    "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or "
    "ranges not starting from 0 are not allowed"
)
_STATIC = "nodeset for NUMA memory tuning must be set if 'placement' is 'static'"
_NUMAD = "Advice from numad is needed in case of automatic numa placement"
_NO_CELLS = "Element 'memnode' is invalid without any guest NUMA cells"
_CELLID = "Argument 'cellid' in memnode element must correspond to existing guest's NUMA cell"
_IN_MEMNODE = (
    "'restrictive' mode is required in memnode element when mode is 'restrictive' in memory element"
)
_IN_MEMORY = (
    "'restrictive' mode is required in memory element when mode is 'restrictive' in memnode element"
)
_SIBLINGS = "<distances><sibling id='0' value='20'/><sibling id='1' value='10'/>{}</distances>"
_RESTRICTIVE = "NUMATUNE-RESTRICTIVE"
_SYNTAX = "NUMATUNE-SYNTAX"
_UNKNOWN = "NUMATUNE-CELL-UNKNOWN"

CELL_ROWS = [
    Measured(
        "cell ids 0 and 2",
        "NUMA-CELL-ID-NONCONTIGUOUS",
        domain_xml(cells=two_cells((0, 2)), vcpus=2),
        _NONCONTIGUOUS,
    ),
    Measured(
        "cell ids 1 and 2 (libvirt's cpu-numa3)",
        "NUMA-CELL-ID-NONCONTIGUOUS",
        domain_xml(cells=two_cells((1, 2)), vcpus=2),
        _NONCONTIGUOUS,
    ),
    Measured(
        "cell ids 1 and 0",
        "NUMA-CELL-ID-NONCONTIGUOUS",
        domain_xml(cells=two_cells((1, 0)), vcpus=2),
        None,
    ),
    Measured(
        "sibling 2 of two cells",
        "NUMA-DISTANCE-SIBLING-UNKNOWN",
        domain_xml(
            cells=two_cells(distances=_SIBLINGS.format("<sibling id='2' value='30'/>")), vcpus=2
        ),
        "'sibling_id 2' does not refer to a valid cell within NUMA 'cell id 1'",
    ),
    Measured(
        "siblings 0 and 1 of two cells",
        "NUMA-DISTANCE-SIBLING-UNKNOWN",
        domain_xml(cells=two_cells(distances=_SIBLINGS.format("")), vcpus=2),
        None,
    ),
]

RESTRICTIVE_ROWS = [
    Measured(
        "memory restrictive, memnode strict",
        _RESTRICTIVE,
        domain_xml(
            tune(
                "<memory mode='restrictive' nodeset='0'/>"
                "<memnode cellid='0' mode='strict' nodeset='0'/>"
            )
        ),
        _IN_MEMNODE,
    ),
    Measured(
        "memory restrictive, memnode without a mode",
        _RESTRICTIVE,
        domain_xml(
            tune("<memory mode='restrictive' nodeset='0'/><memnode cellid='0' nodeset='0'/>")
        ),
        _IN_MEMNODE,
    ),
    Measured(
        "memory interleave, memnode restrictive",
        _RESTRICTIVE,
        domain_xml(
            tune(
                "<memory mode='interleave' nodeset='0'/>"
                "<memnode cellid='0' mode='restrictive' nodeset='0'/>"
            )
        ),
        _IN_MEMORY,
    ),
    Measured(
        "no memory, memnode restrictive",
        _RESTRICTIVE,
        domain_xml(tune("<memnode cellid='0' mode='restrictive' nodeset='0'/>")),
        _IN_MEMORY,
    ),
    Measured(
        "both restrictive",
        _RESTRICTIVE,
        domain_xml(
            tune(
                "<memory mode='restrictive' nodeset='0'/>"
                "<memnode cellid='0' mode='restrictive' nodeset='0'/>"
            )
        ),
        None,
    ),
]

MEMNODE_ROWS = [
    Measured(
        "memnode 0 without cells",
        _UNKNOWN,
        domain_xml(tune("<memnode cellid='0' nodeset='0'/>"), cells=""),
        _NO_CELLS,
    ),
    Measured(
        "memnode 5 without cells",
        _UNKNOWN,
        domain_xml(tune("<memnode cellid='5' nodeset='0'/>"), cells=""),
        _NO_CELLS,
    ),
    Measured(
        "memnode 3 of one cell",
        _UNKNOWN,
        domain_xml(tune("<memnode cellid='3' nodeset='0'/>")),
        _CELLID,
    ),
    Measured(
        "memnode 0 of one cell",
        _UNKNOWN,
        domain_xml(tune("<memnode cellid='0' nodeset='0'/>")),
        None,
    ),
]

SYNTAX_ROWS = [
    Measured(
        "memory nodeset 0,^0",
        _SYNTAX,
        domain_xml(tune("<memory mode='strict' nodeset='0,^0'/>")),
        "Invalid value of 'nodeset': 0,^0",
    ),
    Measured(
        "memnode nodeset 0,^0",
        _SYNTAX,
        domain_xml(tune("<memnode cellid='0' nodeset='0,^0'/>")),
        "Invalid value of 'nodeset': 0,^0",
    ),
    Measured(
        "memory without nodeset",
        _SYNTAX,
        domain_xml(tune("<memory mode='strict'/>")),
        _STATIC,
    ),
    Measured(
        "memory placement static without nodeset",
        _SYNTAX,
        domain_xml(tune("<memory placement='static'/>")),
        _STATIC,
    ),
    Measured(
        "memory placement static without nodeset, vcpu auto",
        _SYNTAX,
        domain_xml(tune("<memory placement='static'/>"), vcpu="<vcpu placement='auto'>{}</vcpu>"),
        _STATIC,
    ),
    Measured(
        "memory without nodeset, vcpu without placement",
        _SYNTAX,
        domain_xml(tune("<memory mode='strict'/>"), vcpu="<vcpu>{}</vcpu>"),
        _STATIC,
    ),
    Measured(
        "memory without nodeset, no cells",
        _SYNTAX,
        domain_xml(tune("<memory mode='strict'/>"), cells=""),
        _STATIC,
    ),
    Measured(
        "memory without nodeset, vcpu auto",
        _SYNTAX,
        domain_xml(tune("<memory mode='strict'/>"), vcpu="<vcpu placement='auto'>{}</vcpu>"),
        None,
        host=_NUMAD,
    ),
    Measured(
        "memory placement auto",
        _SYNTAX,
        domain_xml(tune("<memory placement='auto'/>")),
        None,
        host=_NUMAD,
    ),
    Measured("memory nodeset 0", _SYNTAX, domain_xml(tune("<memory nodeset='0'/>")), None),
    Measured(
        "memory mode bind",
        _SYNTAX,
        domain_xml(tune("<memory mode='bind' nodeset='0'/>")),
        "Unsupported NUMA memory tuning mode 'bind'",
    ),
    Measured(
        "memory placement x",
        _SYNTAX,
        domain_xml(tune("<memory placement='x' nodeset='0'/>")),
        "Unsupported NUMA memory placement mode 'x'",
    ),
    Measured(
        "memory placement x without nodeset",
        _SYNTAX,
        domain_xml(tune("<memory placement='x'/>")),
        "Unsupported NUMA memory placement mode 'x'",
    ),
    Measured(
        "memnode mode bind",
        _SYNTAX,
        domain_xml(tune("<memnode cellid='0' mode='bind' nodeset='0'/>")),
        "Invalid value for attribute 'mode' in element 'memnode': 'bind'.",
    ),
    Measured(
        "memnode cellid x",
        _SYNTAX,
        domain_xml(tune("<memnode cellid='x' nodeset='0'/>")),
        "Invalid value for attribute 'cellid' in element 'memnode': 'x'. "
        "Expected non-negative integer value",
    ),
    Measured(
        "memnode without cellid",
        _SYNTAX,
        domain_xml(tune("<memnode nodeset='0'/>")),
        "Missing required attribute 'cellid' in element 'memnode'",
    ),
    Measured(
        "memnode without nodeset",
        _SYNTAX,
        domain_xml(tune("<memnode cellid='0'/>")),
        "Missing required nodeset attribute in memnode element",
    ),
]

MEMORY_ROWS = [
    Measured("no <memory>, one cell", "NUMA-NO-MEMORY", domain_xml(memory=""), None),
    Measured(
        "<memory> 0, one cell", "NUMA-NO-MEMORY", domain_xml(memory="<memory>0</memory>"), None
    ),
]

ROWS = CELL_ROWS + RESTRICTIVE_ROWS + MEMNODE_ROWS + SYNTAX_ROWS + MEMORY_ROWS


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_the_reference_refuses_with_libvirts_message(row: Measured) -> None:
    assert_refused_as_measured(row.xml, row)


RESTATEMENT_LOSES = {
    "memory mode bind": "an unknown mode is held as None and written as the default",
    "memory placement x": "an unknown placement is not held",
    "memory placement x without nodeset": "an unknown placement is not held",
    "memnode mode bind": "an unknown mode is held as None and written as the default",
    "memnode cellid x": "an unreadable cellid is written as none (libvirt: 'Missing required')",
}
"""Refusals the formatter does not carry over yet: the model keeps no unreadable mode,
placement or cellid (an unreadable nodeset's text it keeps)."""


@pytest.mark.parametrize("row", [r for r in ROWS if r.refusal], ids=lambda row: row.name)
def test_the_re_stated_document_keeps_libvirts_refusal(row: Measured) -> None:
    """What the golden comparison runs: the document as the formatter writes it back."""
    restated = validate(format_xml(model(row.xml)))
    kept = {v.rule for v in restated.errors} == {row.rule} and all(
        row.refusal and row.refusal in v.text() for v in restated.errors
    )
    assert kept != (row.name in RESTATEMENT_LOSES), restated.text()


# ------------------------------------------------------------ wrong implementations

Says = Callable[[Domain], "str | None"]
"""A wrong implementation: the libvirt text it would refuse a document with, or None."""


def _restrictive(domain: Domain, *, swapped: bool = False, absent_free: bool = False) -> str | None:
    tune = domain.numatune
    if tune is None or (absent_free and not tune.has_memory):
        return None
    memory = tune.mode if tune.has_memory else "strict"  # libvirt's default when absent
    for memnode in tune.memnodes:
        mode = memnode.mode or "strict"
        if (mode == "restrictive") != (memory == "restrictive"):
            return _IN_MEMORY if (mode == "restrictive") != swapped else _IN_MEMNODE
    return None


def _unknown_memnode(domain: Domain) -> str | None:
    cells = {cell.id for cell in domain.cells}
    tune = domain.numatune
    if tune is not None and any(memnode.cell not in cells for memnode in tune.memnodes):
        return _CELLID  # wrong: libvirt has another text when there is no cell at all
    return None


def _static(domain: Domain, *, vcpu_auto_read: bool, default_static: bool) -> str | None:
    """A ``<memory>`` without nodeset, refused when its placement is taken as static."""
    tune = domain.numatune
    if tune is None or not tune.has_memory or tune.nodeset:
        return None
    # the model keeps no placement word: read the document's own as the rows write it
    return _STATIC if (default_static and not (vcpu_auto_read and tune.placement_auto)) else None


WRONG: dict[str, tuple[str, Says]] = {
    "names the element that has 'restrictive' (directions swapped)": (
        _RESTRICTIVE,
        lambda domain: _restrictive(domain, swapped=True),
    ),
    "an absent <memory> constrains no memnode": (
        _RESTRICTIVE,
        lambda domain: _restrictive(domain, absent_free=True),
    ),
    "a memnode without cells is an unknown cellid": (_UNKNOWN, _unknown_memnode),
    "a <memory> without nodeset is fine (the reference before)": (
        _SYNTAX,
        lambda domain: _static(domain, vcpu_auto_read=True, default_static=False),
    ),
    "placement never auto: every <memory> without nodeset refused": (
        _SYNTAX,
        lambda domain: _static(domain, vcpu_auto_read=False, default_static=True),
    ),
}


def test_the_right_implementations_agree_everywhere() -> None:
    """The harness passes the right ones, so the wrong ones fail for their bug."""
    right: list[tuple[str, Says]] = [
        (_RESTRICTIVE, _restrictive),
        (_SYNTAX, lambda domain: _static(domain, vcpu_auto_read=True, default_static=True)),
    ]
    for rule, says in right:
        assert not _disagreements(rule, says), rule


def _disagreements(rule: str, says: Says) -> list[str]:
    rows = [row for row in ROWS if row.rule == rule]
    if rule == _SYNTAX:  # the static-placement check alone: its rows and the accepted ones
        rows = [row for row in rows if row.refusal in (None, _STATIC)]
    out = []
    for row in rows:
        said = says(model(row.xml))
        if said != row.refusal:
            out.append(row.name)
    return out


@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_each_wrong_implementation_disagrees_with_libvirt_somewhere(wrong: str) -> None:
    rule, says = WRONG[wrong]
    assert _disagreements(rule, says), f"{wrong}: agrees with libvirt on every measured document"


# ------------------------------------------------------------ the re-statement


def test_an_absent_memory_element_stays_absent() -> None:
    """libvirt takes the cells' sum (its cpu-numa-no-memory-element test); a re-stated
    ``<memory unit='KiB'>0</memory>`` would say something the document does not."""
    domain = parse(domain_xml(memory=""))
    assert domain.memory is None
    text = format_xml(domain)
    assert "<memory" not in text.replace("<memoryBacking", "")
    assert parse(text) == domain
    assert parse(domain_xml(memory="<memory>0</memory>")).memory == 0


def test_an_unreadable_nodeset_is_written_back_as_given() -> None:
    xml = domain_xml(
        tune("<memory mode='strict' nodeset='0,^0'/><memnode cellid='0' nodeset='1,^1'/>")
    )
    domain = model(xml)
    assert domain.numatune is not None
    assert (domain.numatune.nodeset, domain.numatune.nodeset_text) == (None, "0,^0")
    assert domain.numatune.memnodes[0].nodeset_text == "1,^1"
    text = format_xml(domain)
    assert "<memory mode='strict' nodeset='0,^0'/>" in text
    assert "<memnode cellid='0' mode='strict' nodeset='1,^1'/>" in text
    assert format_xml(model(text)) == text


def test_a_readable_nodeset_is_written_canonically() -> None:
    domain = parse(domain_xml(tune("<memory nodeset='1-3,^2'/>")))
    assert domain.numatune is not None
    assert (domain.numatune.nodeset, domain.numatune.nodeset_text) == ((1, 3), None)
    assert "<memory mode='strict' nodeset='1,3'/>" in format_xml(domain)
