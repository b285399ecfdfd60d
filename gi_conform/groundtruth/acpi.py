"""Decoding of the ACPI tables a guest sees: RSDP, RSDT/XSDT, SRAT, SLIT and HMAT.

Pure functions over bytes, no I/O, so that the QEMU runner (which reads guest memory)
and the unit tests (which build tables by hand) share one decoder. The decoder is
faithful: it returns every SRAT entry, disabled padding included, and only
``enabled_entries`` drops what a guest OS would ignore. Layouts follow ACPI 6.5
sections 5.2.5 (RSDP), 5.2.6 (header), 5.2.16 (SRAT), 5.2.17 (SLIT) and 5.2.28 (HMAT);
all fields are little-endian.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "BIOS_AREA_BASE",
    "BIOS_AREA_SIZE",
    "HEADER_LENGTH",
    "HMAT_ASSOCIATIVITIES",
    "HMAT_DATA_TYPES",
    "HMAT_HIERARCHIES",
    "HMAT_WRITE_POLICIES",
    "AcpiTableError",
    "GenericInitiatorAffinity",
    "GiccAffinity",
    "HandleType",
    "Hmat",
    "HmatCache",
    "HmatLocality",
    "HmatMemoryDomain",
    "HmatOther",
    "HmatStructure",
    "LapicAffinity",
    "MemoryAffinity",
    "OtherAffinity",
    "Rsdp",
    "SratEntry",
    "TableHeader",
    "X2apicAffinity",
    "checksum_ok",
    "decode_hmat",
    "decode_slit",
    "decode_srat",
    "enabled_entries",
    "find_rsdp",
    "parse_header",
    "rsdt_pointers",
    "verify_table",
    "xsdt_pointers",
]

BIOS_AREA_BASE = 0xE0000
"""Start of the x86 BIOS read-only area the RSDP must live in (ACPI 5.2.5.1)."""
BIOS_AREA_SIZE = 0x20000
"""Size of that area: it ends at 0xFFFFF inclusive."""
HEADER_LENGTH = 36
"""Length of the standard header every system description table starts with."""

_RSDP_SIGNATURE = b"RSD PTR "
_RSDP_V1_LENGTH = 20
_RSDP_V2_LENGTH = 36
_SRAT_ENTRIES_OFFSET = HEADER_LENGTH + 12  # u32 reserved (=1) and u64 reserved
_SLIT_MATRIX_OFFSET = HEADER_LENGTH + 8  # u64 number of system localities


class AcpiTableError(ValueError):
    """Bytes that are not a well-formed ACPI structure: bad checksum, truncated, bad length.

    A subclass of ``ValueError`` because the fault is in the data handed in; the runner
    catches it to keep polling while firmware is still writing the tables.
    """


class HandleType:
    """Device handle types of the Generic Initiator Affinity structure (ACPI 5.2.16.6)."""

    ACPI = 0
    PCI = 1


def checksum_ok(data: bytes) -> bool:
    """Whether all bytes sum to zero modulo 256, the ACPI rule for every checksum."""
    return sum(data) & 0xFF == 0


def _u8(data: bytes, offset: int) -> int:
    return data[offset]


def _u16(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<H", data, offset)[0])


def _u32(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<I", data, offset)[0])


def _u64(data: bytes, offset: int) -> int:
    return int(struct.unpack_from("<Q", data, offset)[0])


def _text(raw: bytes) -> str:
    """OEM fields are space- or NUL-padded ASCII; decode leniently for messages."""
    return raw.decode("ascii", errors="replace").rstrip("\0 ")


# --------------------------------------------------------------------------- RSDP


@dataclass(frozen=True)
class Rsdp:
    """The Root System Description Pointer, located by ``find_rsdp``.

    ``xsdt_address`` is ``None`` for revision 0 (ACPI 1.0), which x86 QEMU/SeaBIOS
    still produce; use ``rsdt_address`` then.
    """

    address: int
    oem_id: str
    revision: int
    rsdt_address: int
    xsdt_address: int | None


def find_rsdp(dump: bytes, base: int = BIOS_AREA_BASE) -> Rsdp:
    """Find the RSDP in a dump of guest memory that starts at physical address ``base``.

    The signature must sit on a 16-byte physical boundary and the first 20 bytes must
    checksum to zero (revision >= 2 also checks the 36-byte extended checksum).
    Candidates that fail are skipped, since stale or half-written copies may exist.
    """
    first = (-base) % 16
    bad: list[str] = []
    for offset in range(first, len(dump) - len(_RSDP_SIGNATURE) + 1, 16):
        if dump[offset : offset + 8] != _RSDP_SIGNATURE:
            continue
        address = base + offset
        v1 = dump[offset : offset + _RSDP_V1_LENGTH]
        if len(v1) < _RSDP_V1_LENGTH:
            bad.append(f"{address:#x}: truncated")
            continue
        if not checksum_ok(v1):
            bad.append(f"{address:#x}: bad checksum")
            continue
        revision = _u8(v1, 15)
        xsdt: int | None = None
        if revision >= 2:
            v2 = dump[offset : offset + _RSDP_V2_LENGTH]
            if len(v2) < _RSDP_V2_LENGTH:
                bad.append(f"{address:#x}: truncated revision {revision} RSDP")
                continue
            length = _u32(v2, 20)
            full = dump[offset : offset + length]
            if length < _RSDP_V2_LENGTH or len(full) < length or not checksum_ok(full):
                bad.append(f"{address:#x}: bad extended length or checksum")
                continue
            xsdt = _u64(v2, 24)
        return Rsdp(
            address=address,
            oem_id=_text(v1[9:15]),
            revision=revision,
            rsdt_address=_u32(v1, 16),
            xsdt_address=xsdt,
        )
    detail = f" (rejected: {', '.join(bad)})" if bad else ""
    raise AcpiTableError(f"no valid 'RSD PTR ' structure in {len(dump)} bytes at {base:#x}{detail}")


# ------------------------------------------------------------------ table header


@dataclass(frozen=True)
class TableHeader:
    """The 36-byte header shared by all system description tables."""

    signature: str
    length: int
    revision: int
    checksum: int
    oem_id: str
    oem_table_id: str
    oem_revision: int
    creator_id: str
    creator_revision: int


def parse_header(data: bytes) -> TableHeader:
    """Decode a table header without checking the checksum (the caller may hold only 36 bytes).

    Used first on a short read to learn how many bytes the whole table has.
    """
    if len(data) < HEADER_LENGTH:
        raise AcpiTableError(f"table header truncated: {len(data)} bytes, need {HEADER_LENGTH}")
    return TableHeader(
        signature=data[0:4].decode("ascii", errors="replace"),
        length=_u32(data, 4),
        revision=_u8(data, 8),
        checksum=_u8(data, 9),
        oem_id=_text(data[10:16]),
        oem_table_id=_text(data[16:24]),
        oem_revision=_u32(data, 24),
        creator_id=_text(data[28:32]),
        creator_revision=_u32(data, 32),
    )


def verify_table(data: bytes, signature: str | None = None) -> TableHeader:
    """Check a whole table: signature, declared length present, checksum zero.

    Bytes past the declared length are ignored, so a caller may pass a larger read.
    """
    header = parse_header(data)
    if signature is not None and header.signature != signature:
        raise AcpiTableError(f"expected a {signature} table, found {header.signature!r}")
    if header.length < HEADER_LENGTH:
        raise AcpiTableError(
            f"{header.signature}: declared length {header.length} is shorter than its header"
        )
    if len(data) < header.length:
        raise AcpiTableError(f"{header.signature}: truncated, {len(data)} of {header.length} bytes")
    if not checksum_ok(data[: header.length]):
        raise AcpiTableError(
            f"{header.signature}: checksum mismatch (bytes sum to "
            f"{sum(data[: header.length]) & 0xFF:#04x}, not 0)"
        )
    return header


def _pointers(data: bytes, signature: str, width: int) -> tuple[int, ...]:
    header = verify_table(data, signature)
    body = header.length - HEADER_LENGTH
    if body % width:
        raise AcpiTableError(f"{signature}: {body} bytes of entries is not a multiple of {width}")
    fmt = "<I" if width == 4 else "<Q"
    return tuple(
        int(struct.unpack_from(fmt, data, offset)[0])
        for offset in range(HEADER_LENGTH, header.length, width)
    )


def rsdt_pointers(rsdt: bytes) -> tuple[int, ...]:
    """The 32-bit physical addresses of the tables an RSDT lists, after verifying it."""
    return _pointers(rsdt, "RSDT", 4)


def xsdt_pointers(xsdt: bytes) -> tuple[int, ...]:
    """The 64-bit physical addresses of the tables an XSDT lists, after verifying it."""
    return _pointers(xsdt, "XSDT", 8)


# ------------------------------------------------------------------------- SRAT


@dataclass(frozen=True)
class LapicAffinity:
    """SRAT type 0: a local APIC (xAPIC id < 256) belongs to a proximity domain."""

    proximity_domain: int
    apic_id: int
    enabled: bool
    sapic_eid: int = 0
    clock_domain: int = 0


@dataclass(frozen=True)
class MemoryAffinity:
    """SRAT type 1: a physical address range belongs to a proximity domain."""

    proximity_domain: int
    base: int
    length: int
    enabled: bool
    hotplug: bool = False
    nonvolatile: bool = False


@dataclass(frozen=True)
class X2apicAffinity:
    """SRAT type 2: a processor by x2APIC id belongs to a proximity domain."""

    proximity_domain: int
    x2apic_id: int
    enabled: bool
    clock_domain: int = 0


@dataclass(frozen=True)
class GiccAffinity:
    """SRAT type 3: an Arm processor, by its ACPI processor UID, belongs to a domain."""

    proximity_domain: int
    processor_uid: int
    enabled: bool
    clock_domain: int = 0


@dataclass(frozen=True)
class GenericInitiatorAffinity:
    """SRAT type 5: a non-CPU initiator (a PCI or ACPI device) belongs to a domain.

    For a PCI handle the ``pci_*`` fields are set and the ACPI ones are ``None``; for
    an ACPI handle it is the other way round. Any other handle type leaves all of them
    ``None``; ``handle`` always holds the raw 16 bytes.
    """

    proximity_domain: int
    handle_type: int
    pci_segment: int | None
    pci_bus: int | None
    pci_devfn: int | None
    enabled: bool
    architectural_transactions: bool = False
    acpi_hid: bytes | None = None
    acpi_uid: int | None = None
    handle: bytes = bytes(16)

    @property
    def slot(self) -> int | None:
        """PCI device number: the high five bits of devfn."""
        return None if self.pci_devfn is None else self.pci_devfn >> 3

    @property
    def function(self) -> int | None:
        """PCI function number: the low three bits of devfn."""
        return None if self.pci_devfn is None else self.pci_devfn & 7

    @property
    def pci_address(self) -> str | None:
        """``SSSS:BB:DD.F`` of a PCI handle (as Linux names the function), else None."""
        if self.pci_bus is None or self.pci_devfn is None:
            return None
        return f"{self.pci_segment or 0:04x}:{self.pci_bus:02x}:{self.slot:02x}.{self.function}"


@dataclass(frozen=True)
class OtherAffinity:
    """Any other SRAT structure (GIC ITS, Generic Port, ...), kept raw."""

    entry_type: int
    data: bytes


SratEntry = (
    LapicAffinity
    | MemoryAffinity
    | X2apicAffinity
    | GiccAffinity
    | GenericInitiatorAffinity
    | OtherAffinity
)
"""Any decoded SRAT structure."""

_SRAT_LENGTHS = {0: 16, 1: 40, 2: 24, 3: 18, 5: 32}


def _decode_entry(entry: bytes) -> SratEntry:
    kind = entry[0]
    if kind == 0:
        return LapicAffinity(
            proximity_domain=_u8(entry, 2) | (int.from_bytes(entry[9:12], "little") << 8),
            apic_id=_u8(entry, 3),
            enabled=bool(_u32(entry, 4) & 1),
            sapic_eid=_u8(entry, 8),
            clock_domain=_u32(entry, 12),
        )
    if kind == 1:
        flags = _u32(entry, 28)
        return MemoryAffinity(
            proximity_domain=_u32(entry, 2),
            base=_u64(entry, 8),
            length=_u64(entry, 16),
            enabled=bool(flags & 1),
            hotplug=bool(flags & 2),
            nonvolatile=bool(flags & 4),
        )
    if kind == 2:
        return X2apicAffinity(
            proximity_domain=_u32(entry, 4),
            x2apic_id=_u32(entry, 8),
            enabled=bool(_u32(entry, 12) & 1),
            clock_domain=_u32(entry, 16),
        )
    if kind == 3:
        return GiccAffinity(
            proximity_domain=_u32(entry, 2),
            processor_uid=_u32(entry, 6),
            enabled=bool(_u32(entry, 10) & 1),
            clock_domain=_u32(entry, 14),
        )
    if kind == 5:
        handle_type = _u8(entry, 3)
        handle = bytes(entry[8:24])
        flags = _u32(entry, 24)
        is_pci = handle_type == HandleType.PCI
        is_acpi = handle_type == HandleType.ACPI
        return GenericInitiatorAffinity(
            proximity_domain=_u32(entry, 4),
            handle_type=handle_type,
            pci_segment=_u16(handle, 0) if is_pci else None,
            pci_bus=handle[2] if is_pci else None,
            pci_devfn=handle[3] if is_pci else None,
            enabled=bool(flags & 1),
            architectural_transactions=bool(flags & 2),
            acpi_hid=handle[0:8] if is_acpi else None,
            acpi_uid=_u32(handle, 8) if is_acpi else None,
            handle=handle,
        )
    return OtherAffinity(entry_type=kind, data=bytes(entry))


def decode_srat(srat: bytes) -> tuple[SratEntry, ...]:
    """Verify an SRAT and decode every entry in table order, disabled ones included.

    Known structures (types 0, 1, 2, 3, 5) must have their specified length; an entry that
    runs past the table or declares a length below 2 is an error.
    """
    header = verify_table(srat, "SRAT")
    if header.length < _SRAT_ENTRIES_OFFSET:
        raise AcpiTableError(
            f"SRAT: length {header.length} leaves no room for its "
            f"{_SRAT_ENTRIES_OFFSET}-byte fixed part"
        )
    entries: list[SratEntry] = []
    offset = _SRAT_ENTRIES_OFFSET
    while offset < header.length:
        if header.length - offset < 2:
            raise AcpiTableError(f"SRAT: truncated entry at offset {offset}")
        kind, length = srat[offset], srat[offset + 1]
        if length < 2:
            raise AcpiTableError(f"SRAT: entry type {kind} at offset {offset} has length {length}")
        if offset + length > header.length:
            raise AcpiTableError(
                f"SRAT: entry type {kind} at offset {offset} (length {length}) runs past "
                f"the table end {header.length}"
            )
        expected = _SRAT_LENGTHS.get(kind)
        if expected is not None and length != expected:
            raise AcpiTableError(
                f"SRAT: entry type {kind} at offset {offset} has length {length}, "
                f"the specification says {expected}"
            )
        entries.append(_decode_entry(srat[offset : offset + length]))
        offset += length
    return tuple(entries)


def enabled_entries(entries: Iterable[SratEntry]) -> tuple[SratEntry, ...]:
    """Drop entries whose enabled flag is clear, as an OS does.

    QEMU pads x86 memory affinity with disabled all-zero entries; ``OtherAffinity``
    entries are kept since their flags layout is not decoded.
    """
    return tuple(e for e in entries if isinstance(e, OtherAffinity) or e.enabled)


# ------------------------------------------------------------------------- SLIT


def decode_slit(slit: bytes) -> tuple[tuple[int, ...], ...]:
    """Verify a SLIT and return its distance matrix: ``matrix[i][j]`` from i to j."""
    header = verify_table(slit, "SLIT")
    if header.length < _SLIT_MATRIX_OFFSET:
        raise AcpiTableError(f"SLIT: length {header.length} leaves no room for its count")
    count = _u64(slit, HEADER_LENGTH)
    need = _SLIT_MATRIX_OFFSET + count * count
    if header.length < need:
        raise AcpiTableError(
            f"SLIT: {count} localities need {need} bytes, table has {header.length}"
        )
    return tuple(
        tuple(slit[_SLIT_MATRIX_OFFSET + i * count : _SLIT_MATRIX_OFFSET + (i + 1) * count])
        for i in range(count)
    )


# ------------------------------------------------------------------------- HMAT

_HMAT_STRUCTURES_OFFSET = HEADER_LENGTH + 4  # u32 reserved
_HMAT_MEMORY_DOMAIN_LENGTH = 40
_HMAT_LOCALITY_FIXED = 32
_HMAT_CACHE_FIXED = 32

HMAT_HIERARCHIES = ("memory", "first-level", "second-level", "third-level")
"""Memory hierarchy of a locality structure (flags bits 3:0), by value; QEMU's words."""
HMAT_DATA_TYPES = (
    "access-latency",
    "read-latency",
    "write-latency",
    "access-bandwidth",
    "read-bandwidth",
    "write-bandwidth",
)
"""Data type of a locality structure, by value; QEMU's ``data-type=`` words."""
HMAT_ASSOCIATIVITIES = ("none", "direct", "complex")
"""Cache associativity (attributes bits 11:8), by value; QEMU's words."""
HMAT_WRITE_POLICIES = ("none", "write-back", "write-through")
"""Cache write policy (attributes bits 15:12), by value; QEMU's words."""


@dataclass(frozen=True)
class HmatMemoryDomain:
    """HMAT type 0, Memory Proximity Domain Attributes (40 bytes)."""

    flags: int
    initiator_domain: int
    memory_domain: int

    @property
    def initiator_valid(self) -> bool:
        """Flags bit 0: ``initiator_domain`` holds a meaningful value."""
        return bool(self.flags & 1)


@dataclass(frozen=True)
class HmatLocality:
    """HMAT type 1, System Locality Latency and Bandwidth Information.

    ``entries[i][j]`` is the raw u16 from ``initiators[i]`` to ``targets[j]``; 0 means
    "not provided". Multiplied by ``entry_base_unit`` an entry is picoseconds for a
    latency data type and MB/s for a bandwidth one (QEMU's MB being MiB).
    """

    flags: int
    data_type: int
    min_transfer_size: int
    initiators: tuple[int, ...]
    targets: tuple[int, ...]
    entry_base_unit: int
    entries: tuple[tuple[int, ...], ...]

    @property
    def hierarchy(self) -> int:
        """Flags bits 3:0: 0 the memory itself, 1..3 that level of memory-side cache."""
        return self.flags & 0xF

    @property
    def hierarchy_name(self) -> str:
        h = self.hierarchy
        return HMAT_HIERARCHIES[h] if h < len(HMAT_HIERARCHIES) else f"hierarchy {h}"

    @property
    def data_type_name(self) -> str:
        d = self.data_type
        return HMAT_DATA_TYPES[d] if d < len(HMAT_DATA_TYPES) else f"data type {d}"

    @property
    def is_latency(self) -> bool:
        """Data types 0-2 are latencies, 3-5 bandwidths."""
        return self.data_type <= 2

    def entry(self, initiator: int, target: int) -> int | None:
        """The raw entry for a pair of proximity domains, ``None`` when either is not listed."""
        if initiator not in self.initiators or target not in self.targets:
            return None
        return self.entries[self.initiators.index(initiator)][self.targets.index(target)]

    def scaled(self, initiator: int, target: int) -> int | None:
        """Entry times base unit: picoseconds or MiB/s; ``None`` when not listed or 0."""
        raw = self.entry(initiator, target)
        return None if not raw else raw * self.entry_base_unit

    def latency_ns(self, initiator: int, target: int) -> float | None:
        """A latency in nanoseconds (libvirt's unit); ``None`` when not provided."""
        if not self.is_latency:
            raise ValueError(f"{self.data_type_name} is not a latency")
        ps = self.scaled(initiator, target)
        return None if ps is None else (ps // 1000 if ps % 1000 == 0 else ps / 1000)

    def bandwidth_kib(self, initiator: int, target: int) -> int | None:
        """A bandwidth in KiB/s (libvirt's unit); ``None`` when not provided."""
        if self.is_latency:
            raise ValueError(f"{self.data_type_name} is not a bandwidth")
        mib = self.scaled(initiator, target)
        return None if mib is None else mib * 1024


@dataclass(frozen=True)
class HmatCache:
    """HMAT type 2, Memory Side Cache Information: one cache level of a memory domain."""

    memory_domain: int
    size: int
    attributes: int
    smbios_handles: tuple[int, ...] = ()

    @property
    def total_levels(self) -> int:
        return self.attributes & 0xF

    @property
    def level(self) -> int:
        return self.attributes >> 4 & 0xF

    @property
    def associativity(self) -> int:
        """0 none, 1 direct mapped, 2 complex cache indexing."""
        return self.attributes >> 8 & 0xF

    @property
    def write_policy(self) -> int:
        """0 none, 1 write-back, 2 write-through."""
        return self.attributes >> 12 & 0xF

    @property
    def line_size(self) -> int:
        """Bytes."""
        return self.attributes >> 16


@dataclass(frozen=True)
class HmatOther:
    """Any other HMAT structure type, kept raw."""

    structure_type: int
    data: bytes


HmatStructure = HmatMemoryDomain | HmatLocality | HmatCache | HmatOther
"""Any decoded HMAT structure."""


@dataclass(frozen=True)
class Hmat:
    """A decoded Heterogeneous Memory Attribute Table: its structures in table order."""

    header: TableHeader
    structures: tuple[HmatStructure, ...]

    @property
    def memory_domains(self) -> tuple[HmatMemoryDomain, ...]:
        return tuple(s for s in self.structures if isinstance(s, HmatMemoryDomain))

    @property
    def localities(self) -> tuple[HmatLocality, ...]:
        return tuple(s for s in self.structures if isinstance(s, HmatLocality))

    @property
    def caches(self) -> tuple[HmatCache, ...]:
        return tuple(s for s in self.structures if isinstance(s, HmatCache))

    def locality(self, hierarchy: int, data_type: int) -> HmatLocality | None:
        """The first type-1 structure for a (hierarchy, data type), if any."""
        return next(
            (s for s in self.localities if s.hierarchy == hierarchy and s.data_type == data_type),
            None,
        )


def _hmat_locality(body: bytes, where: str) -> HmatLocality:
    count_i, count_t = _u32(body, 12), _u32(body, 16)
    need = _HMAT_LOCALITY_FIXED + 4 * count_i + 4 * count_t + 2 * count_i * count_t
    if len(body) < need:
        raise AcpiTableError(
            f"HMAT: {where}: {count_i} initiators x {count_t} targets need {need} bytes, "
            f"structure has {len(body)}"
        )
    at = _HMAT_LOCALITY_FIXED
    initiators = tuple(_u32(body, at + 4 * i) for i in range(count_i))
    at += 4 * count_i
    targets = tuple(_u32(body, at + 4 * j) for j in range(count_t))
    at += 4 * count_t
    entries = tuple(
        tuple(_u16(body, at + 2 * (i * count_t + j)) for j in range(count_t))
        for i in range(count_i)
    )
    return HmatLocality(
        flags=_u8(body, 8),
        data_type=_u8(body, 9),
        min_transfer_size=_u8(body, 10),
        initiators=initiators,
        targets=targets,
        entry_base_unit=_u64(body, 24),
        entries=entries,
    )


def _hmat_structure(kind: int, body: bytes, where: str) -> HmatStructure:
    if kind == 0:
        if len(body) != _HMAT_MEMORY_DOMAIN_LENGTH:
            raise AcpiTableError(
                f"HMAT: {where}: length {len(body)}, the specification says "
                f"{_HMAT_MEMORY_DOMAIN_LENGTH}"
            )
        return HmatMemoryDomain(
            flags=_u16(body, 8), initiator_domain=_u32(body, 12), memory_domain=_u32(body, 16)
        )
    if kind == 1:
        if len(body) < _HMAT_LOCALITY_FIXED:
            raise AcpiTableError(f"HMAT: {where}: length {len(body)} below its fixed part")
        return _hmat_locality(body, where)
    if kind == 2:
        if len(body) < _HMAT_CACHE_FIXED:
            raise AcpiTableError(f"HMAT: {where}: length {len(body)} below its fixed part")
        handles = _u16(body, 30)
        if len(body) < _HMAT_CACHE_FIXED + 2 * handles:
            raise AcpiTableError(
                f"HMAT: {where}: {handles} SMBIOS handles do not fit in {len(body)} bytes"
            )
        return HmatCache(
            memory_domain=_u32(body, 8),
            size=_u64(body, 16),
            attributes=_u32(body, 24),
            smbios_handles=tuple(_u16(body, _HMAT_CACHE_FIXED + 2 * k) for k in range(handles)),
        )
    return HmatOther(structure_type=kind, data=bytes(body))


def decode_hmat(hmat: bytes) -> Hmat:
    """Verify an HMAT and decode every structure (types 0, 1, 2; others kept raw).

    Each structure starts with u16 type, u16 reserved, u32 length; a structure shorter
    than that 8-byte prefix, running past the table, or too short for what it declares
    is an error.
    """
    header = verify_table(hmat, "HMAT")
    if header.length < _HMAT_STRUCTURES_OFFSET:
        raise AcpiTableError(f"HMAT: length {header.length} leaves no room for its reserved field")
    structures: list[HmatStructure] = []
    offset = _HMAT_STRUCTURES_OFFSET
    while offset < header.length:
        if header.length - offset < 8:
            raise AcpiTableError(f"HMAT: truncated structure at offset {offset}")
        kind, length = _u16(hmat, offset), _u32(hmat, offset + 4)
        where = f"structure type {kind} at offset {offset}"
        if length < 8:
            raise AcpiTableError(f"HMAT: {where} has length {length}")
        if offset + length > header.length:
            raise AcpiTableError(
                f"HMAT: {where} (length {length}) runs past the table end {header.length}"
            )
        structures.append(_hmat_structure(kind, hmat[offset : offset + length], where))
        offset += length
    return Hmat(header=header, structures=tuple(structures))
