"""Kills mutmut's surviving mutants of :mod:`gi_conform.document` (README "Mutation
testing", a 60-mutant sample): attributes the corpus never sets (a uuid, a USB device
number, a SCSI target, ``discard`` alone) and what the formatter writes for them."""

from __future__ import annotations

from gi_conform import parse, validate
from gi_conform.document.format import format_xml
from gi_conform.document.parse import _doctype_line
from gi_conform.model import ScsiSource, UsbSource
from tests.helpers import document

UUID = "c7a5fdbd-edaf-9455-926a-d65c16db1809"
USB = (
    "<hostdev mode='subsystem' type='usb'><source><address bus='1' device='2'/></source></hostdev>"
)
SCSI = (
    "<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/>"
    "<address bus='0' unit='0'/></source></hostdev>"
)
PORT = (
    "<controller type='pci' index='1' model='pcie-root-port'>"
    "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></controller>"
)
HMAT = (
    "<cell id='0' cpus='0-3' memory='1048576' discard='yes'/><interconnects>"
    "<bandwidth initiator='0' target='0' type='access' value='204800' unit='KiB'/>"
    "<latency initiator='0' target='0' type='access' value='5'/></interconnects>"
)


def test_uuid_and_usb_and_scsi_sources_are_read() -> None:
    domain = parse(document(head=f"<uuid>{UUID}</uuid>", devices=USB + SCSI))
    assert domain.uuid == UUID
    assert [h.source for h in domain.hostdevs] == [
        UsbSource(bus="1", device="2"),
        ScsiSource(adapter="scsi_host0", bus="0", target="", unit="0"),
    ]


def test_discard_alone_is_read_and_written_with_the_units_and_address_type() -> None:
    domain = parse(document(cells=HMAT, devices=PORT))
    assert domain.cells[0].discard is True
    text = format_xml(domain)
    assert "<cell id='0' cpus='0-3' memory='1048576' unit='KiB' discard='yes'/>" in text
    assert "<bandwidth initiator='0' target='0' type='access' value='204800' unit='KiB'/>" in text
    assert "<latency initiator='0' target='0' type='access' value='5'/>" in text
    assert "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>" in text


def test_a_doctype_after_a_declaration_is_found_on_its_line() -> None:
    assert _doctype_line(b"<?xml version='1.0'?>\n<!DOCTYPE d>\n<?pi x?>\n<d/>") == 2


def _named(text: str, rule: str) -> list[tuple[int, str, str]]:
    return [(v.line, v.element, v.message) for v in validate(text).violations if v.rule == rule]


def test_a_bad_numatune_placement_names_the_element() -> None:
    ((_, element, message),) = _named(
        document(head="<numatune><memory placement='bogus'/></numatune>"), "NUMATUNE-SYNTAX"
    )
    assert element == "<numatune><memory>"
    assert message.startswith("<numatune><memory>: placement 'bogus' is invalid")


def test_a_cache_level_given_twice_is_named_on_its_line() -> None:
    cache = (
        "<cache level='1' associativity='direct' policy='writeback'>"
        "<size value='10' unit='KiB'/><line value='8' unit='B'/></cache>"
    )
    cells = f"<cell id='0' cpus='0-3' memory='1048576'>{cache}\n{cache}</cell>"
    assert _named(document(cells=cells), "HMAT-CACHE-LEVELS") == [
        (
            2,
            "<cache level='1'> of <cell id='0'>",
            "<cache level='1'> of <cell id='0'>: a level given twice",
        )
    ]
