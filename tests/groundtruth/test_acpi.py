"""Unit tests for the ACPI decoder on tables built by hand from the ACPI 6.5 layouts.

The builders below use ``struct`` directly with the offsets from the specification (see
/work/shared/notes/qemu-facts.md), not the decoder, so a shared misreading of a layout
cannot make both sides agree.
"""

from __future__ import annotations

import struct

import pytest

from gi_conform.groundtruth.acpi import (
    AcpiTableError,
    GenericInitiatorAffinity,
    GiccAffinity,
    HandleType,
    HmatCache,
    HmatLocality,
    HmatMemoryDomain,
    HmatOther,
    LapicAffinity,
    MemoryAffinity,
    OtherAffinity,
    X2apicAffinity,
    decode_hmat,
    decode_slit,
    decode_srat,
    enabled_entries,
    find_rsdp,
    parse_header,
    rsdt_pointers,
    verify_table,
    xsdt_pointers,
)
from tests.helpers import DATA

# ------------------------------------------------------------------ builders


def _fix_checksum(data: bytearray, at: int, span: int) -> None:
    data[at] = 0
    data[at] = (-sum(data[:span])) & 0xFF


def table(signature: bytes, body: bytes, *, revision: int = 1) -> bytes:
    """A table with the 36-byte header: signature, length, revision, checksum @9, OEM ids."""
    header = struct.pack(
        "<4sIBB6s8sI4sI",
        signature,
        36 + len(body),
        revision,
        0,
        b"BOCHS ",
        b"BXPC    ",
        1,
        b"BXPC",
        1,
    )
    assert len(header) == 36
    data = bytearray(header + body)
    _fix_checksum(data, 9, len(data))
    return bytes(data)


def rsdp_v0(rsdt: int) -> bytes:
    """20-byte ACPI 1.0 RSDP: signature, checksum @8, OEM id, revision 0, RSDT @16."""
    data = bytearray(struct.pack("<8sB6sBI", b"RSD PTR ", 0, b"BOCHS ", 0, rsdt))
    _fix_checksum(data, 8, 20)
    return bytes(data)


def rsdp_v2(rsdt: int, xsdt: int) -> bytes:
    """36-byte RSDP: v1 part, length @20, XSDT @24, extended checksum @32, 3 reserved."""
    data = bytearray(
        struct.pack("<8sB6sBIIQB3s", b"RSD PTR ", 0, b"BOCHS ", 2, rsdt, 36, xsdt, 0, b"\0" * 3)
    )
    _fix_checksum(data, 8, 20)
    _fix_checksum(data, 32, 36)
    return bytes(data)


def lapic(domain: int, apic_id: int, flags: int = 1) -> bytes:
    """Type 0, 16 bytes: PD[7:0] @2, APIC id @3, flags @4, SAPIC EID @8, PD[31:8] @9."""
    return struct.pack(
        "<BBBBIB3sI",
        0,
        16,
        domain & 0xFF,
        apic_id,
        flags,
        0,
        (domain >> 8).to_bytes(3, "little"),
        0,
    )


def memory(domain: int, base: int, length: int, flags: int = 1) -> bytes:
    """Type 1, 40 bytes: PD @2, base @8, length @16, flags @28."""
    return struct.pack("<BBIHQQIIQ", 1, 40, domain, 0, base, length, 0, flags, 0)


def x2apic(domain: int, x2apic_id: int, flags: int = 1) -> bytes:
    """Type 2, 24 bytes: PD @4, x2APIC id @8, flags @12, clock domain @16."""
    return struct.pack("<BBHIIIII", 2, 24, 0, domain, x2apic_id, flags, 7, 0)


def gi_pci(domain: int, bus: int, devfn: int, *, segment: int = 0, flags: int = 1) -> bytes:
    """Type 5, 32 bytes: handle type @3 (1 = PCI), PD @4, handle @8 (seg u16, bus, devfn)."""
    handle = struct.pack("<HBB12s", segment, bus, devfn, b"\0" * 12)
    return struct.pack("<BBBBI16sII", 5, 32, 0, 1, domain, handle, flags, 0)


def gi_acpi(domain: int, hid: bytes, uid: int, flags: int = 1) -> bytes:
    """Type 5 with an ACPI handle: HID (8 bytes) then UID u32, 4 reserved."""
    handle = struct.pack("<8sI4s", hid, uid, b"\0" * 4)
    return struct.pack("<BBBBI16sII", 5, 32, 0, 0, domain, handle, flags, 0)


def srat(*entries: bytes) -> bytes:
    """SRAT body: u32 reserved (=1), u64 reserved, then the entries."""
    return table(b"SRAT", struct.pack("<IQ", 1, 0) + b"".join(entries), revision=3)


def corrupt(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x5A
    return bytes(out)


# ---------------------------------------------------------------------- RSDP


def test_find_rsdp_at_aligned_offset() -> None:
    dump = bytearray(0x20000)
    dump[0x16B30 : 0x16B30 + 20] = rsdp_v0(0x1FFE2345)
    found = find_rsdp(bytes(dump), 0xE0000)
    assert found.address == 0xE0000 + 0x16B30
    assert found.rsdt_address == 0x1FFE2345
    assert found.revision == 0
    assert found.xsdt_address is None
    assert found.oem_id == "BOCHS"


def test_find_rsdp_skips_unaligned_and_bad_checksum_candidates() -> None:
    dump = bytearray(0x1000)
    dump[0x108 : 0x108 + 20] = rsdp_v0(0x1111)  # not 16-byte aligned
    dump[0x200 : 0x200 + 20] = corrupt(rsdp_v0(0x2222), 16)  # checksum broken
    dump[0x400 : 0x400 + 20] = rsdp_v0(0x3333)
    assert find_rsdp(bytes(dump), 0xE0000).rsdt_address == 0x3333


def test_find_rsdp_alignment_is_physical() -> None:
    dump = bytearray(0x100)
    dump[0x08 : 0x08 + 20] = rsdp_v0(0x4444)  # physical 0xE0008 + 8 = 0xE0010
    assert find_rsdp(bytes(dump), 0xE0008).address == 0xE0010


def test_find_rsdp_none_valid_raises_with_reason() -> None:
    dump = bytearray(0x1000)
    dump[0x200 : 0x200 + 20] = corrupt(rsdp_v0(0x2222), 17)
    with pytest.raises(AcpiTableError, match="bad checksum"):
        find_rsdp(bytes(dump))
    with pytest.raises(AcpiTableError, match="no valid"):
        find_rsdp(bytes(0x1000))


def test_find_rsdp_truncated_at_end_of_dump() -> None:
    dump = bytearray(0x210)
    dump[0x200:0x210] = rsdp_v0(0x2222)[:16]
    with pytest.raises(AcpiTableError, match="truncated"):
        find_rsdp(bytes(dump))


def test_find_rsdp_revision_2_reads_xsdt_and_checks_extended_checksum() -> None:
    dump = bytearray(0x100)
    dump[0x40 : 0x40 + 36] = rsdp_v2(0x1234, 0x1_0000_5678)
    found = find_rsdp(bytes(dump))
    assert (found.revision, found.rsdt_address, found.xsdt_address) == (2, 0x1234, 0x1_0000_5678)
    dump[0x40 + 30] ^= 1  # inside the extended part only: the v1 checksum still holds
    with pytest.raises(AcpiTableError, match="extended"):
        find_rsdp(bytes(dump))


# ------------------------------------------------------------ header, RSDT, XSDT


def test_rsdt_pointers() -> None:
    rsdt = table(b"RSDT", struct.pack("<3I", 0x1000, 0x2000, 0x3000))
    assert rsdt_pointers(rsdt) == (0x1000, 0x2000, 0x3000)


def test_xsdt_pointers() -> None:
    xsdt = table(b"XSDT", struct.pack("<2Q", 0x1_0000_1000, 0x2000))
    assert xsdt_pointers(xsdt) == (0x1_0000_1000, 0x2000)


def test_rsdt_bad_checksum() -> None:
    rsdt = corrupt(table(b"RSDT", struct.pack("<I", 0x1000)), 36)
    with pytest.raises(AcpiTableError, match="checksum"):
        rsdt_pointers(rsdt)


def test_rsdt_truncated() -> None:
    rsdt = table(b"RSDT", struct.pack("<2I", 0x1000, 0x2000))
    with pytest.raises(AcpiTableError, match="truncated"):
        rsdt_pointers(rsdt[:-1])


def test_rsdt_wrong_signature_and_odd_body() -> None:
    with pytest.raises(AcpiTableError, match="expected a RSDT"):
        rsdt_pointers(table(b"XSDT", b""))
    with pytest.raises(AcpiTableError, match="multiple of 4"):
        rsdt_pointers(table(b"RSDT", b"\1\2\3"))


def test_header_fields_and_short_header() -> None:
    data = table(b"SRAT", b"\0" * 12, revision=3)
    header = parse_header(data)
    assert (header.signature, header.length, header.revision) == ("SRAT", 48, 3)
    assert (header.oem_id, header.oem_table_id, header.creator_id) == ("BOCHS", "BXPC", "BXPC")
    with pytest.raises(AcpiTableError, match="header truncated"):
        parse_header(data[:35])


def test_verify_table_ignores_bytes_past_length() -> None:
    data = table(b"WAET", b"\0" * 4)
    assert verify_table(data + b"\xff" * 10, "WAET").length == 40


def test_verify_table_length_shorter_than_header() -> None:
    data = bytearray(table(b"WAET", b""))
    data[4] = 10
    with pytest.raises(AcpiTableError, match="shorter than its header"):
        verify_table(bytes(data))


def test_error_is_a_value_error() -> None:
    assert issubclass(AcpiTableError, ValueError)


# ---------------------------------------------------------------------- SRAT


def test_decode_srat_all_known_types_in_table_order() -> None:
    data = srat(
        lapic(0, 0),
        lapic(0x123456, 7),
        x2apic(3, 0x1_0000),
        memory(0, 0, 0xA0000),
        memory(1, 0x1_0000_0000, 0x4000_0000, flags=0b111),
        memory(0, 0, 0, flags=0),
        gi_pci(1, 0, 0x10),
        gi_pci(8, 3, 0x0B, segment=2),
        gi_acpi(4, b"ACPI0016", 9),
        struct.pack("<BBIIII", 3, 18, 1, 2, 1, 0),  # an Arm GICC entry
        struct.pack("<BBIHI", 4, 12, 2, 0, 5),  # a GIC ITS entry, kept raw
    )
    assert decode_srat(data) == (
        LapicAffinity(proximity_domain=0, apic_id=0, enabled=True),
        LapicAffinity(proximity_domain=0x123456, apic_id=7, enabled=True),
        X2apicAffinity(proximity_domain=3, x2apic_id=0x1_0000, enabled=True, clock_domain=7),
        MemoryAffinity(proximity_domain=0, base=0, length=0xA0000, enabled=True),
        MemoryAffinity(
            proximity_domain=1,
            base=0x1_0000_0000,
            length=0x4000_0000,
            enabled=True,
            hotplug=True,
            nonvolatile=True,
        ),
        MemoryAffinity(proximity_domain=0, base=0, length=0, enabled=False),
        GenericInitiatorAffinity(
            proximity_domain=1,
            handle_type=HandleType.PCI,
            pci_segment=0,
            pci_bus=0,
            pci_devfn=0x10,
            enabled=True,
            handle=bytes([0, 0, 0, 0x10]) + bytes(12),
        ),
        GenericInitiatorAffinity(
            proximity_domain=8,
            handle_type=HandleType.PCI,
            pci_segment=2,
            pci_bus=3,
            pci_devfn=0x0B,
            enabled=True,
            handle=bytes([2, 0, 3, 0x0B]) + bytes(12),
        ),
        GenericInitiatorAffinity(
            proximity_domain=4,
            handle_type=HandleType.ACPI,
            pci_segment=None,
            pci_bus=None,
            pci_devfn=None,
            enabled=True,
            acpi_hid=b"ACPI0016",
            acpi_uid=9,
            handle=b"ACPI0016" + bytes([9, 0, 0, 0]) + bytes(4),
        ),
        GiccAffinity(proximity_domain=1, processor_uid=2, enabled=True),
        OtherAffinity(entry_type=4, data=struct.pack("<BBIHI", 4, 12, 2, 0, 5)),
    )


def test_gi_slot_function_and_flags() -> None:
    (entry,) = decode_srat(srat(gi_pci(2, 5, 0x0B, flags=0b10)))
    assert isinstance(entry, GenericInitiatorAffinity)
    assert (entry.slot, entry.function) == (1, 3)
    assert not entry.enabled
    assert entry.architectural_transactions
    (acpi_entry,) = decode_srat(srat(gi_acpi(2, b"PNP0A08\0", 1)))
    assert isinstance(acpi_entry, GenericInitiatorAffinity)
    assert (acpi_entry.slot, acpi_entry.function) == (None, None)


def test_enabled_entries_drops_padding_only() -> None:
    entries = decode_srat(
        srat(
            memory(0, 0, 0xA0000),
            memory(0, 0, 0, flags=0),
            gi_pci(1, 0, 0x10, flags=0),
            gi_pci(2, 0, 0x10),
        )
    )
    assert len(entries) == 4
    kept = enabled_entries(entries)
    assert [type(e).__name__ for e in kept] == ["MemoryAffinity", "GenericInitiatorAffinity"]
    assert isinstance(kept[1], GenericInitiatorAffinity)
    assert kept[1].proximity_domain == 2


def test_empty_srat() -> None:
    assert decode_srat(srat()) == ()


def test_srat_bad_checksum() -> None:
    with pytest.raises(AcpiTableError, match="SRAT: checksum mismatch"):
        decode_srat(corrupt(srat(gi_pci(1, 0, 0x10)), 60))


def test_srat_truncated_data() -> None:
    data = srat(gi_pci(1, 0, 0x10))
    with pytest.raises(AcpiTableError, match="truncated, 79 of 80 bytes"):
        decode_srat(data[:-1])


def test_srat_fixed_part_missing() -> None:
    with pytest.raises(AcpiTableError, match="fixed part"):
        decode_srat(table(b"SRAT", b"\1\0\0\0"))


def test_srat_entry_runs_past_table_end() -> None:
    # A consistent table (valid checksum) whose last entry claims more bytes than remain.
    with pytest.raises(AcpiTableError, match="runs past"):
        decode_srat(srat(gi_pci(1, 0, 0x10)[:20]))


def test_srat_entry_with_wrong_length_for_its_type() -> None:
    short_gi = bytes([5, 24]) + gi_pci(1, 0, 0x10)[2:24]
    with pytest.raises(AcpiTableError, match=r"type 5 .* length 24"):
        decode_srat(srat(short_gi))


def test_srat_entry_with_zero_length_does_not_loop() -> None:
    with pytest.raises(AcpiTableError, match="has length 0"):
        decode_srat(srat(bytes([5, 0]) + bytes(30)))


def test_srat_dangling_byte() -> None:
    with pytest.raises(AcpiTableError, match="truncated entry"):
        decode_srat(srat(gi_pci(1, 0, 0x10), b"\5"))


# ---------------------------------------------------------------------- SLIT


def test_decode_slit() -> None:
    data = table(b"SLIT", struct.pack("<Q", 2) + bytes([10, 21, 21, 10]))
    assert decode_slit(data) == ((10, 21), (21, 10))


def test_slit_matrix_truncated() -> None:
    data = table(b"SLIT", struct.pack("<Q", 3) + bytes([10, 21, 21, 10]))
    with pytest.raises(AcpiTableError, match="3 localities need 53 bytes"):
        decode_slit(data)


# ------------------------------------------------------------------------- HMAT
#
# tests/data/hmat-*.bin are HMATs read from guest memory of QEMU 10.0.2 (machine q35,
# 4 GiB, 8 vCPUs: node 0 cpus 0-3 + 2 GiB, node 1 cpus 4-7 + 2 GiB, nodes 2 and 3
# memoryless, an edu device at 00:05.0 made a generic initiator of node 2). Each test
# quotes the -numa hmat-* options of the run that produced its file; the expected values
# below are worked out from those options by hand, not copied from the decoder.


def fixture(name: str) -> bytes:
    return (DATA / f"hmat-{name}.bin").read_bytes()


def test_hmat_full_matrix_with_gi_initiator_and_two_cache_levels() -> None:
    """-numa hmat-lb access-latency 0->0 10, 0->1 20, 1->0 21, 1->1 11, 2->0 30, 2->1 31;
    access-bandwidth 0->0 200M, 0->1 100M, 1->0 101M, 1->1 201M, 2->0 50M, 2->1 51M;
    hmat-cache node 0 level 1 10K direct write-back line 8, level 2 1M complex
    write-through line 64; node 2 only has the GI, nodes 2 and 3 have initiator=0."""
    hmat = decode_hmat(fixture("full"))
    assert hmat.header.revision == 2
    assert hmat.header.length == 352
    assert hmat.memory_domains == (
        HmatMemoryDomain(flags=1, initiator_domain=0, memory_domain=0),
        HmatMemoryDomain(flags=1, initiator_domain=1, memory_domain=1),
    )  # memoryless nodes 2 and 3 get none, whatever their initiator=
    latency = hmat.locality(0, 0)
    bandwidth = hmat.locality(0, 3)
    assert latency is not None
    assert bandwidth is not None
    assert [s.data_type_name for s in hmat.localities] == ["access-latency", "access-bandwidth"]
    for s in (latency, bandwidth):
        assert s.initiators == (0, 1, 2)  # CPU nodes and the GI-only node 2, not node 3
        assert s.targets == (0, 1, 2, 3)
        assert s.hierarchy_name == "memory"
    assert latency.is_latency
    assert latency.entry_base_unit == 1000  # 1 ns: 21, 11, 31 have no factor of 10
    ns = {(i, t): latency.latency_ns(i, t) for i in (0, 1, 2) for t in (0, 1)}
    assert ns == {(0, 0): 10, (0, 1): 20, (1, 0): 21, (1, 1): 11, (2, 0): 30, (2, 1): 31}
    assert latency.latency_ns(0, 2) is None  # not given: entry 0
    assert latency.entry(0, 2) == 0
    assert latency.entry(3, 0) is None  # node 3 is no initiator
    assert not bandwidth.is_latency
    assert bandwidth.entry_base_unit == 1  # 101 MiB/s is odd: base 1 MiB/s
    kib = {(i, t): bandwidth.bandwidth_kib(i, t) for i in (0, 1, 2) for t in (0, 1)}
    mib = {(0, 0): 200, (0, 1): 100, (1, 0): 101, (1, 1): 201, (2, 0): 50, (2, 1): 51}
    assert kib == {pair: value * 1024 for pair, value in mib.items()}
    first, second = hmat.caches
    assert (first.memory_domain, first.size, first.level, first.total_levels) == (0, 10240, 1, 2)
    assert (first.associativity, first.write_policy, first.line_size) == (1, 1, 8)
    assert first.attributes == 0x00081112
    assert (second.memory_domain, second.size, second.level, second.total_levels) == (
        0,
        1024 * 1024,
        2,
        2,
    )
    assert (second.associativity, second.write_policy, second.line_size) == (2, 2, 64)


def test_hmat_base_units_are_powers_of_ten_and_two() -> None:
    """GIs on nodes 2 and 3, no initiator= anywhere; latency 0->0 10, 1->1 200;
    bandwidth 0->0 204800K (200 MiB/s), 2->1 3G (3072 MiB/s)."""
    hmat = decode_hmat(fixture("base-units"))
    latency = hmat.locality(0, 0)
    bandwidth = hmat.locality(0, 3)
    assert latency is not None
    assert bandwidth is not None
    assert latency.initiators == (0, 1, 2, 3)
    # 10 and 200 ns share the factor 10: base 10 ns = 10000 ps, entries 1 and 20
    assert latency.entry_base_unit == 10_000
    assert (latency.entry(0, 0), latency.entry(1, 1)) == (1, 20)
    assert (latency.latency_ns(0, 0), latency.latency_ns(1, 1)) == (10, 200)
    assert latency.scaled(1, 1) == 200_000  # picoseconds
    # 200 = 8 x 25 and 3072 = 8 x 384: base 8 MiB/s
    assert bandwidth.entry_base_unit == 8
    assert (bandwidth.entry(0, 0), bandwidth.entry(2, 1)) == (25, 384)
    assert bandwidth.bandwidth_kib(0, 0) == 204800
    assert bandwidth.bandwidth_kib(2, 1) == 3 * 1024 * 1024
    assert hmat.caches == ()


def test_hmat_sparse_types_and_hierarchies() -> None:
    """access-latency 0->0 5, 0->2 6; read-latency 0->0 3; write-bandwidth 0->0 1G;
    first-level access-latency 0->0 2; access-bandwidth 1->0 300M; one cache level."""
    hmat = decode_hmat(fixture("sparse"))
    kinds = [(s.hierarchy_name, s.data_type_name) for s in hmat.localities]
    assert kinds == [
        ("memory", "access-latency"),
        ("memory", "read-latency"),
        ("memory", "access-bandwidth"),
        ("memory", "write-bandwidth"),
        ("first-level", "access-latency"),
    ]
    access = hmat.locality(0, 0)
    read = hmat.locality(0, 1)
    bandwidth = hmat.locality(0, 3)
    write = hmat.locality(0, 5)
    cached = hmat.locality(1, 0)
    assert access is not None
    assert read is not None
    assert bandwidth is not None
    assert write is not None
    assert cached is not None
    assert (access.latency_ns(0, 0), access.latency_ns(0, 2)) == (5, 6)  # memoryless target
    assert read.latency_ns(0, 0) == 3
    assert (bandwidth.entry_base_unit, bandwidth.entry(1, 0)) == (4, 75)  # 300 = 4 x 75
    assert bandwidth.bandwidth_kib(1, 0) == 300 * 1024
    assert (write.entry_base_unit, write.entry(0, 0)) == (1024, 1)  # 1 GiB/s
    assert write.bandwidth_kib(0, 0) == 1024 * 1024
    assert cached.hierarchy == 1
    assert cached.flags == 1
    assert cached.latency_ns(0, 0) == 2
    assert hmat.locality(2, 0) is None
    (cache,) = hmat.caches
    assert (cache.level, cache.total_levels, cache.size, cache.line_size) == (1, 1, 10240, 8)
    with pytest.raises(ValueError, match="not a latency"):
        bandwidth.latency_ns(1, 0)
    with pytest.raises(ValueError, match="not a bandwidth"):
        access.bandwidth_kib(0, 0)


def test_hmat_gi_initiator_row() -> None:
    """access-latency 0->0 5 and 2->0 7, node 2 being an initiator only through its GI."""
    (latency,) = decode_hmat(fixture("gi-lat")).localities
    assert latency.initiators == (0, 1, 2)
    assert latency.entries == ((5, 0, 0, 0), (0, 0, 0, 0), (7, 0, 0, 0))
    assert latency.latency_ns(2, 0) == 7


def test_hmat_without_hmat_lb_has_only_memory_attributes() -> None:
    hmat = decode_hmat(fixture("empty"))
    assert hmat.header.length == 120  # 40 + 2 x 40
    assert [s.memory_domain for s in hmat.memory_domains] == [0, 1]
    assert all(s.initiator_valid for s in hmat.memory_domains)
    assert hmat.localities == ()
    assert hmat.locality(0, 0) is None


def hmat_table(*structures: bytes) -> bytes:
    """HMAT: header then u32 reserved @36, structures from 40."""
    return table(b"HMAT", struct.pack("<I", 0) + b"".join(structures), revision=2)


def hmat_memory(memory: int, initiator: int | None) -> bytes:
    """Type 0, 40 bytes: flags u16 @8 (bit 0 initiator valid), initiator @12, memory @16."""
    flags = 0 if initiator is None else 1
    return struct.pack("<HHIHHIIIQQ", 0, 0, 40, flags, 0, initiator or 0, memory, 0, 0, 0)


def hmat_locality(
    flags: int,
    data_type: int,
    base: int,
    *,
    initiators: list[int],
    targets: list[int],
    entries: list[list[int]],
) -> bytes:
    """Type 1: flags @8, data type @9, counts @12/@16, base @24, lists and u16 entries @32."""
    body = struct.pack(
        f"<{len(initiators)}I{len(targets)}I{len(initiators) * len(targets)}H",
        *initiators,
        *targets,
        *(value for row in entries for value in row),
    )
    fixed = struct.pack(
        "<HHIBBBBIIIQ", 1, 0, 32 + len(body), flags, data_type, 0, 0, len(initiators),
        len(targets), 0, base,
    )  # fmt: skip
    return fixed + body


def hmat_cache(memory: int, size: int, attributes: int, handles: list[int]) -> bytes:
    """Type 2: memory PD @8, size u64 @16, attributes @24, handle count u16 @30, handles."""
    fixed = struct.pack(
        "<HHIIIQIHH", 2, 0, 32 + 2 * len(handles), memory, 0, size, attributes, 0, len(handles)
    )
    return fixed + struct.pack(f"<{len(handles)}H", *handles)


def test_hmat_built_by_hand() -> None:
    other = struct.pack("<HHI4s", 9, 0, 12, b"abcd")
    data = hmat_table(
        hmat_memory(4, None),
        hmat_locality(0x02, 4, 16, initiators=[0, 5], targets=[4], entries=[[3], [0xFFFF]]),
        hmat_cache(4, 1 << 30, 0x0040_2113, [0x10, 0x11]),
        other,
    )
    hmat = decode_hmat(data)
    memory_domain, locality, cache, rest = hmat.structures
    assert memory_domain == HmatMemoryDomain(flags=0, initiator_domain=0, memory_domain=4)
    assert not memory_domain.initiator_valid
    assert isinstance(locality, HmatLocality)
    assert (locality.hierarchy_name, locality.data_type_name) == ("second-level", "read-bandwidth")
    assert locality.bandwidth_kib(0, 4) == 3 * 16 * 1024
    assert locality.entry(5, 4) == 0xFFFF
    assert cache == HmatCache(4, 1 << 30, 0x0040_2113, (0x10, 0x11))
    assert isinstance(cache, HmatCache)
    assert (cache.total_levels, cache.level, cache.associativity) == (3, 1, 1)
    assert (cache.write_policy, cache.line_size) == (2, 64)
    assert rest == HmatOther(structure_type=9, data=other)


def test_hmat_latency_in_fractional_nanoseconds() -> None:
    """The specification allows a base unit of 1 ps; QEMU always uses whole nanoseconds."""
    data = hmat_table(hmat_locality(0, 0, 1, initiators=[0], targets=[0], entries=[[1500]]))
    (locality,) = decode_hmat(data).localities
    assert locality.latency_ns(0, 0) == 1.5


@pytest.mark.parametrize(
    ("structures", "message"),
    [
        ((struct.pack("<HHI", 0, 0, 4),), "has length 4"),
        ((hmat_memory(0, 0), struct.pack("<HH", 0, 0)), "truncated structure at offset 80"),
        ((struct.pack("<HHI", 0, 0, 48),), "runs past the table end"),
        ((hmat_memory(0, 0) + b"\0" * 8,), "at offset 80 has length 0"),  # no endless loop
    ],
)
def test_hmat_malformed_structures(structures: tuple[bytes, ...], message: str) -> None:
    with pytest.raises(AcpiTableError, match=message):
        decode_hmat(hmat_table(*structures))


def test_hmat_wrong_lengths_for_known_types() -> None:
    short_memory = bytearray(hmat_memory(0, 0))
    struct.pack_into("<I", short_memory, 4, 36)
    with pytest.raises(AcpiTableError, match="the specification says 40"):
        decode_hmat(hmat_table(bytes(short_memory[:36])))
    locality = bytearray(
        hmat_locality(0, 0, 1000, initiators=[0, 1], targets=[0, 1], entries=[[1, 2], [3, 4]])
    )
    struct.pack_into("<I", locality, 16, 3)  # claims 3 targets
    with pytest.raises(AcpiTableError, match="2 initiators x 3 targets need"):
        decode_hmat(hmat_table(bytes(locality)))
    cache = bytearray(hmat_cache(0, 1024, 0x11, [1]))
    struct.pack_into("<H", cache, 30, 2)  # claims 2 handles, has room for 1
    with pytest.raises(AcpiTableError, match="2 SMBIOS handles"):
        decode_hmat(hmat_table(bytes(cache)))


def test_hmat_checksum_and_signature() -> None:
    data = fixture("full")
    with pytest.raises(AcpiTableError, match="checksum mismatch"):
        decode_hmat(corrupt(data, 200))
    with pytest.raises(AcpiTableError, match="expected a HMAT table"):
        decode_hmat(table(b"SLIT", b"\0" * 8))
    with pytest.raises(AcpiTableError, match="truncated"):
        decode_hmat(data[:300])
