"""Parser and validator behaviour beyond the corpus: hostile input, collection, ordering."""

from __future__ import annotations

import time

import pytest

from gi_conform import Dialect, HostdevKind, InvalidDocument, PciAddress, parse, validate
from gi_conform.document.parse import MAX_DOCUMENT_BYTES
from gi_conform.semantics import distance_matrix
from tests.helpers import document, gpu, seed


def rules(text: str | bytes) -> list[str]:
    return [v.rule for v in validate(text).violations]


def test_both_dialects_in_one_document() -> None:
    domain = parse(document(gpu("<acpi nodeset='1'/>") + seed("hostdev0", 2, "gi9")))
    (hostdev,) = domain.hostdevs
    assert hostdev.alias == "hostdev0"
    assert hostdev.alias_given is False
    assert hostdev.kind is HostdevKind.PCI
    assert hostdev.source == PciAddress(0, 6, 0x12, 1)
    assert hostdev.guest_address == PciAddress(0, 0, 2, 0)
    assert hostdev.nodeset == (1,)
    (initiator,) = domain.initiators
    assert (initiator.id, initiator.device, initiator.node) == ("gi9", "hostdev0", 2)
    assert initiator.dialect is Dialect.SEED


def test_generated_names_take_the_smallest_free_number() -> None:
    devices = (
        gpu("<alias name='hostdev0'/>").replace("0x12", "0x13").replace("0x02", "0x03")
        + gpu()
        + seed("hostdev1", 1, "gi0")
        + seed("hostdev1", 2)
    )
    domain = parse(document(devices))
    assert [h.alias for h in domain.hostdevs] == ["hostdev0", "hostdev1"]
    assert [i.id for i in domain.initiators] == ["gi0", "gi1"]


def test_unrelated_elements_are_ignored() -> None:
    extra = "<disk type='file'><target dev='vda'/></disk><interface type='network'/>"
    assert validate(document(gpu("<acpi nodeset='1-2'/>") + extra)).accepted


def test_every_violation_is_collected_in_line_order() -> None:
    text = "\n".join(
        [
            "<domain><name>t</name><vcpu>2</vcpu><features><acpi/></features><cpu><numa>",
            "<cell id='0' cpus='0-2' memory='1'/>",
            "<cell id='1' cpus='1' memory='0'/>",
            "</numa></cpu><devices>",
            seed("nope", 5),
            "</devices></domain>",
        ]
    )
    report = validate(text)
    assert [(v.line, v.rule) for v in report.violations] == [
        (2, "NUMA-CPUS-OUT-OF-RANGE"),
        (3, "NUMA-CPUS-OVERLAP"),
        (5, "GI-NODE-UNKNOWN"),  # same line: catalogue order
        (5, "GI-DEVICE-UNKNOWN"),
    ]
    assert not report.accepted


def test_parse_raises_with_the_first_error_and_a_count() -> None:
    with pytest.raises(InvalidDocument, match=r"GI-NODE-UNKNOWN line 1: .*node 7") as caught:
        parse(document(gpu("<acpi nodeset='7-8'/>")))
    assert len(caught.value.report.errors) == 2
    assert isinstance(caught.value, ValueError)


def test_warnings_do_not_reject() -> None:
    report = validate(document(gpu("<acpi nodeset='1'/>")))
    assert report.accepted
    assert [v.rule for v in report.warnings] == ["NUMA-CELL-INVISIBLE"]


@pytest.mark.parametrize(
    "hostile",
    [
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "x">]><domain>&a;</domain>',
        b'<!-- c --><!DOCTYPE domain SYSTEM "http://example.invalid/x.dtd"><domain/>',
        b'<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<domain><name>&x;</name></domain>",
    ],
)
def test_dtd_and_entities_are_forbidden(hostile: bytes) -> None:
    assert rules(hostile) == ["XML-FORBIDDEN"]


def test_undeclared_entity_is_malformed_not_expanded() -> None:
    assert rules("<domain><name>&lol;</name></domain>") == ["XML-MALFORMED"]


def test_oversized_document_is_refused_before_parsing() -> None:
    huge = b"<domain>" + b" " * MAX_DOCUMENT_BYTES + b"</domain>"
    start = time.perf_counter()
    assert rules(huge) == ["XML-TOO-LARGE"]
    assert time.perf_counter() - start < 5  # a guard against parsing, not a benchmark


def test_deep_nesting_is_refused() -> None:
    deep = "<domain>" + "<a>" * 5000 + "</a>" * 5000 + "</domain>"
    assert rules(deep) == ["XML-TOO-LARGE"]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty"),
        (b"   \n ", "empty"),
        (b"<domain><name>caf\xe9</name></domain>", "not UTF-8"),
        (b"\xff\xfe<\x00d\x00", "not UTF-8"),
        (b"<?xml version='1.0' encoding='ISO-8859-1'?><domain/>", "only UTF-8"),
        (b"<domain><name>a\x01b</name></domain>", "invalid Char"),
        (b"<domain>", "end of data"),
    ],
)
def test_malformed_inputs(data: bytes, needle: str) -> None:
    (only,) = validate(data).violations
    assert only.rule == "XML-MALFORMED"
    assert needle.lower() in only.message.lower()


def test_utf8_with_bom_and_declaration_is_fine() -> None:
    text = "\ufeff<?xml version='1.0' encoding='UTF-8'?>" + document(gpu())
    assert validate(text.encode("utf-8")).accepted


def test_wrong_root_names_it() -> None:
    (only,) = validate("<network/>").violations
    assert only.rule == "XML-ROOT"
    assert "<network>" in only.message


def test_namespaced_root_is_not_a_domain() -> None:
    assert rules("<domain xmlns='urn:x'/>") == ["XML-ROOT"]


def test_cell_without_id_takes_its_position() -> None:
    domain = parse(document(cells="<cell cpus='0-3' memory='1024'/><cell memory='0'/>"))
    assert [c.id for c in domain.cells] == [0, 1]


def test_hex_decimal_and_octal_addresses_as_strtoul_reads_them() -> None:
    devices = gpu().replace("bus='0x06'", "bus='010'").replace("slot='0x12'", "slot='18'")
    (hostdev,) = parse(document(devices)).hostdevs
    assert hostdev.source == PciAddress(0, 8, 18, 1)


def test_message_names_element_and_line() -> None:
    text = document(gpu("<acpi nodeset='1-9'/>")).replace("<devices>", "\n\n<devices>")
    first = validate(text).errors[0]
    assert first.line == 3
    assert first.element == "<acpi nodeset> of hostdev 'hostdev0'"
    assert first.text().startswith("error GI-NODE-UNKNOWN line 3: <acpi nodeset> of hostdev")


def test_no_numa_element_versus_empty_numa() -> None:
    assert rules(document(gpu("<acpi nodeset='1'/>"), cells="none")) == ["GI-NO-NUMA"]
    assert rules(document(gpu("<acpi nodeset='1'/>"), cells="")) == ["NUMA-NO-CELLS"]


def test_alias_rules_cover_initiators_and_hostdevs() -> None:
    devices = gpu("<alias name='x'/>") + seed("x", 1, "x") + seed("x", 2, "bad id")
    assert sorted(rules(document(devices))) == ["DEVICE-ALIAS-DUPLICATE", "DEVICE-ALIAS-SYNTAX"]


def test_duplicate_within_the_seed_dialect() -> None:
    devices = gpu() + seed("hostdev0", 1) + seed("hostdev0", 1) + seed("hostdev0", 2)
    assert rules(document(devices)) == ["GI-DUPLICATE"]


def test_vcpus_not_in_any_cell_warn_and_join_cell_zero() -> None:
    cells = "<cell id='0' cpus='0-1' memory='1024'/><cell id='1' memory='0'/>"
    report = validate(document(gpu("<acpi nodeset='1'/>"), cells=cells))
    assert report.accepted
    assert [v.rule for v in report.warnings] == ["NUMA-CPUS-UNASSIGNED"]
    assert "vCPU 2-3" in report.warnings[0].message


@pytest.mark.parametrize("bus", ["-1", "1_0", "+1", "08", "0x", "1 2"])
def test_address_numbers_are_strictly_c_unsigned(bus: str) -> None:
    report = validate(document(gpu().replace("bus='0x06'", f"bus='{bus}'")))
    assert [v.rule for v in report.errors] == ["HOSTDEV-ADDRESS-SYNTAX"]


def test_unencodable_text_is_malformed_not_a_crash() -> None:
    (only,) = validate("<domain><name>\ud800</name></domain>").violations
    assert only.rule == "XML-MALFORMED"


def test_huge_sparse_cell_id_is_cheap() -> None:
    cells = "<cell id='0' cpus='0-3' memory='1024'/><cell id='999999999' memory='0'/>"
    (only,) = validate(document(cells=cells)).errors
    assert only.rule == "NUMA-CELL-ID-NONCONTIGUOUS"
    assert "missing: 1" in only.message


def test_cpu_lists_beyond_any_disjoint_total_are_refused() -> None:
    cells = "".join(f"<cell id='{i}' cpus='0-16383' memory='0'/>" for i in range(50))
    report = validate(document(cells=cells))
    assert "XML-TOO-LARGE" in {v.rule for v in report.errors}


def test_review_findings_on_hmat_limits_and_distances() -> None:
    """Each was accepted or refused wrongly before: QEMU's and libvirt's behaviour."""

    def links(*items: str) -> str:
        cells = (
            "<cell id='0' cpus='0-3' memory='1048576'/><cell id='1' memory='0'/>"
            "<cell id='2' memory='0'/><interconnects>" + "".join(items) + "</interconnects>"
        )
        return document(cells=cells)

    def errors(text: str) -> list[str]:
        return [v.rule for v in validate(text).errors]

    lat = "<latency initiator='0' target='0' type='access' value='5'/>"
    # QEMU: an entry equal to 0xFFFF units is refused too ("should not differ ... 65534")
    wide = "<bandwidth initiator='0' target='0' type='access' value='65535' unit='MiB'/>"
    assert errors(links(lat, wide)) == ["HMAT-VALUE"]
    ok = "<bandwidth initiator='0' target='0' type='access' value='65534' unit='MiB'/>"
    assert errors(links(lat, ok)) == []
    # libvirt rounds a bandwidth in bytes up to KiB: 1048575 b is 1 MiB/s
    rounded = "<bandwidth initiator='0' target='0' type='access' value='1048575' unit='b'/>"
    assert errors(links(lat, rounded)) == []
    # a bad cache level is one error, not also a duplicate of the memory-level entry
    assert errors(links(lat, lat.replace("type=", "cache='9' type="))) == ["HMAT-SYNTAX"]
    # libvirt fills a row's own distance: remote 20s only mean the default matrix
    cells = (
        "<cell id='0' cpus='0-3' memory='1048576'><distances><sibling id='1' value='20'/>"
        "</distances></cell><cell id='1' memory='0'><distances><sibling id='0' value='20'/>"
        "</distances></cell>"
    )
    assert distance_matrix(parse(document(cells=cells))) == {}


_GPU_ON_NODE_1 = (
    "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='6' slot='0x12'"
    " function='1'/></source><acpi nodeset='1'/></hostdev>"
)


def _acpi_document(arch: str, os_extra: str = "", features: str | None = None) -> str:
    machine = "virt" if arch == "aarch64" else "q35"
    return (
        f"<domain><name>t</name><vcpu>2</vcpu><os><type arch='{arch}' machine='{machine}'>hvm"
        f"</type>{os_extra}</os>{features or ''}<cpu><numa><cell id='0' cpus='0-1' memory='1'/>"
        f"<cell id='1' memory='0'/></numa></cpu><devices>{_GPU_ON_NODE_1}</devices></domain>"
    )


@pytest.mark.parametrize(
    ("arch", "os_extra", "features", "expected"),
    [
        # libvirt 12.8 writes acpi=off unless <features><acpi/>: q35, pc and virt alike
        ("x86_64", "", None, ["GI-ACPI-DISABLED"]),
        ("x86_64", "", "<features/>", ["GI-ACPI-DISABLED"]),
        ("x86_64", "", "<features><apic/></features>", ["GI-ACPI-DISABLED"]),
        ("x86_64", "", "<features><acpi/></features>", []),
        ("aarch64", "<loader type='pflash'>c.fd</loader>", None, ["GI-ACPI-DISABLED"]),
        ("aarch64", "<loader type='pflash'>c.fd</loader>", "<features><acpi/></features>", []),
        # aarch64: ACPI only with UEFI, which libvirt sees as pflash or firmware='efi'
        ("aarch64", "", "<features><acpi/></features>", ["DOMAIN-ACPI-UEFI"]),
        (
            "aarch64",
            "<loader type='rom'>c.fd</loader>",
            "<features><acpi/></features>",
            ["DOMAIN-ACPI-UEFI"],
        ),
        ("aarch64", "<loader>c.fd</loader>", "<features><acpi/></features>", ["DOMAIN-ACPI-UEFI"]),
    ],
)
def test_acpi_as_libvirt_runs_it(
    arch: str, os_extra: str, features: str | None, expected: list[str]
) -> None:
    report = validate(_acpi_document(arch, os_extra, features))
    assert [v.rule for v in report.violations] == expected, report.text()


def test_firmware_efi_is_uefi_and_acpi_off_needs_initiators_to_matter() -> None:
    text = _acpi_document("aarch64", features="<features><acpi/></features>")
    assert validate(text.replace("<os>", "<os firmware='efi'>")).accepted
    no_gi = _acpi_document("x86_64").replace("<acpi nodeset='1'/>", "")
    assert validate(no_gi).errors == ()
    message = validate(_acpi_document("x86_64")).errors[0].text()
    assert "acpi=off" in message
    assert "its 1 generic initiator" in message


def test_uefi_round_trips_through_the_formatter() -> None:
    from gi_conform.document.format import format_xml  # noqa: PLC0415

    domain = validate(
        _acpi_document(
            "aarch64", "<loader type='pflash'>c.fd</loader>", "<features><acpi/></features>"
        )
    ).domain
    assert domain is not None
    assert domain.uefi
    again = validate(format_xml(domain))
    assert again.domain is not None
    assert again.accepted
    assert again.domain.uefi
