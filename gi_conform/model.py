"""The domain model: what a document says about NUMA, host devices and initiators.

The parser is lenient so that the validator can report every problem at once: a field
that could not be read holds ``None`` (its syntax error is already reported) and the
semantic checks skip it. A document the validator accepts never holds such a ``None``.

Source line numbers ride along for messages but take no part in equality, so that
``parse(fmt(d)) == d`` compares meaning, not layout.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = [
    "SMMUV3_DRIVER_OPTIONS",
    "CacheAssociativity",
    "CachePolicy",
    "Cell",
    "CellCache",
    "Dialect",
    "DocumentDialect",
    "Domain",
    "Hostdev",
    "HostdevKind",
    "HugePage",
    "Initiator",
    "Interconnect",
    "InterconnectType",
    "Iommu",
    "MdevSource",
    "MemNode",
    "MemoryBacking",
    "Numatune",
    "NumatuneMode",
    "PciAddress",
    "PciController",
    "ScsiSource",
    "UsbSource",
]


class Dialect(enum.StrEnum):
    """Where an initiator was written: the seed's element or libvirt 11.8's nodeset."""

    SEED = "seed"
    LIBVIRT = "libvirt"


class CacheAssociativity(enum.StrEnum):
    """``<cache associativity>`` in libvirt's words; declaration order is the ACPI HMAT
    code (0 none, 1 direct mapped, 2 complex)."""

    NONE = "none"
    DIRECT = "direct"
    FULL = "full"

    @property
    def qemu(self) -> str:
        """QEMU's ``hmat-cache,associativity=`` word."""
        return "complex" if self is CacheAssociativity.FULL else self.value


class CachePolicy(enum.StrEnum):
    """``<cache policy>`` in libvirt's words; declaration order is the ACPI HMAT code."""

    NONE = "none"
    WRITEBACK = "writeback"
    WRITETHROUGH = "writethrough"

    @property
    def qemu(self) -> str:
        """QEMU's ``hmat-cache,policy=`` word."""
        return {"none": "none", "writeback": "write-back", "writethrough": "write-through"}[
            self.value
        ]


class InterconnectType(enum.StrEnum):
    """``<latency|bandwidth type>``: which accesses a value is for."""

    ACCESS = "access"
    READ = "read"
    WRITE = "write"


class NumatuneMode(enum.StrEnum):
    """``<numatune><memory|memnode mode>``."""

    STRICT = "strict"
    PREFERRED = "preferred"
    INTERLEAVE = "interleave"
    RESTRICTIVE = "restrictive"

    @property
    def qemu_policy(self) -> str | None:
        """The memory backend's ``policy``; ``restrictive`` sets none (libvirt leaves the
        binding to cgroups)."""
        return {"strict": "bind", "preferred": "preferred", "interleave": "interleave"}.get(
            self.value
        )


class DocumentDialect(enum.StrEnum):
    """Where a whole document's initiators are written: the corpus index's ``dialect``
    and the ``--dialect`` filters (:func:`gi_conform.semantics.document_dialect`)."""

    SEED = "seed"
    LIBVIRT = "libvirt"
    MIXED = "mixed"
    NONE = "none"


class HostdevKind(enum.StrEnum):
    PCI = "pci"
    MDEV = "mdev"
    USB = "usb"
    SCSI = "scsi"

    @property
    def is_pci(self) -> bool:
        """Whether QEMU sees the device as a PCI device (mdev is a vfio-pci device too)."""
        return self in (HostdevKind.PCI, HostdevKind.MDEV)


@dataclass(frozen=True, order=True)
class PciAddress:
    domain: int
    bus: int
    slot: int
    function: int

    def host_text(self) -> str:
        """The ``DDDD:BB:SS.F`` form QEMU's vfio-pci ``host`` property takes."""
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function:x}"

    def __str__(self) -> str:
        return self.host_text()


@dataclass(frozen=True)
class MdevSource:
    uuid: str

    def __str__(self) -> str:
        return f"mdev {self.uuid}"


@dataclass(frozen=True)
class UsbSource:
    """A USB source by vendor/product id or by host bus/device number (as written)."""

    vendor: str | None = None
    product: str | None = None
    bus: str | None = None
    device: str | None = None

    def __str__(self) -> str:
        if self.vendor is not None or self.product is not None:
            return f"usb {self.vendor}:{self.product}"
        return f"usb bus {self.bus} device {self.device}"


@dataclass(frozen=True)
class ScsiSource:
    adapter: str
    bus: str
    target: str
    unit: str

    def __str__(self) -> str:
        return f"scsi {self.adapter} {self.bus}:{self.target}:{self.unit}"


Source = PciAddress | MdevSource | UsbSource | ScsiSource


@dataclass(frozen=True)
class CellCache:
    """``<cell><cache level associativity policy><size/><line/></cache>``: an HMAT
    memory-side cache. Sizes in bytes; ``None`` marks a field already reported invalid."""

    level: int | None
    associativity: CacheAssociativity | None
    policy: CachePolicy | None
    size: int | None
    line_size: int | None
    line: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Cell:
    """A guest NUMA cell. ``cpus`` empty means CPU-less, ``memory`` 0 means memoryless."""

    id: int | None
    cpus: tuple[int, ...] | None
    memory: int | None
    """Bytes, rounded up to whole KiB as libvirt stores it."""
    distances: tuple[tuple[int, int], ...] = ()
    """``<distances><sibling id value>`` as written: (sibling id, value), document order."""
    mem_access: str | None = None
    """``memAccess``: ``shared``, ``private`` or None (not written: the domain's default)."""
    discard: bool | None = None
    """``discard='yes'|'no'``; None when not written."""
    caches: tuple[CellCache, ...] = ()
    line: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class HugePage:
    """``<memoryBacking><hugepages><page size unit nodeset>``: the page size (bytes) the
    cells of ``nodeset`` get (every cell no other page names when None)."""

    size: int | None
    nodeset: tuple[int, ...] | None = None
    line: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class MemoryBacking:
    """The parts of ``<memoryBacking>`` that decide the cells' memory backends."""

    source: str | None = None
    """``<source type>``: ``anonymous``, ``file``, ``memfd``; None when not written."""
    access: str | None = None
    """``<access mode>``: ``shared`` or ``private``; None when not written."""
    discard: bool = False
    """``<discard/>``: the default of every cell's ``discard``."""
    hugepages: bool = False
    """``<hugepages>`` is present."""
    pages: tuple[HugePage, ...] = ()
    """Its ``<page>`` elements; none: every cell gets the host's default page size."""
    allocation_immediate: bool = False
    """``<allocation mode='immediate'>``: preallocate (QEMU ``prealloc``)."""
    allocation_threads: int | None = None
    """``<allocation threads>``: QEMU ``prealloc-threads``."""
    line: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class MemNode:
    """``<numatune><memnode cellid mode nodeset/>``: host binding of one cell's memory."""

    cell: int | None
    mode: NumatuneMode | None
    nodeset: tuple[int, ...] | None
    nodeset_text: str | None = None
    """The ``nodeset`` as written when it could not be read (``nodeset`` is None then):
    the formatter writes it back, so a re-stated document keeps its error."""
    line: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Numatune:
    """``<numatune>``: the domain-wide ``<memory>`` and the per-cell ``<memnode>``."""

    mode: NumatuneMode | None = None
    """``<memory mode>`` (default ``strict`` when a ``<memory>`` element is present)."""
    nodeset: tuple[int, ...] | None = None
    """``<memory nodeset>``; empty when ``<memory>`` names none (placement auto)."""
    nodeset_text: str | None = None
    """The ``<memory nodeset>`` as written when it could not be read (``nodeset`` is None)."""
    has_memory: bool = False
    placement_auto: bool = False
    """``<memory placement='auto'>`` (or no nodeset under ``<vcpu placement='auto'>``, as
    libvirt defaults it): numad chooses the host nodes when the domain starts."""
    memnodes: tuple[MemNode, ...] = ()
    line: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Interconnect:
    """``<interconnects><latency|bandwidth initiator target [cache] type value [unit]>``.

    ``value`` is nanoseconds for latency and KiB/s for bandwidth (libvirt's units).
    """

    kind: str
    """``latency`` or ``bandwidth``."""
    initiator: int | None
    target: int | None
    cache: int | None
    """The target's cache level, 0 when not written (the memory itself)."""
    type: InterconnectType | None
    value: int | None
    line: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Hostdev:
    kind: HostdevKind
    alias: str
    """The device's QEMU id: the user's ``<alias name>`` or a generated ``hostdev<N>``."""
    alias_given: bool
    source: Source | None
    guest_address: PciAddress | None = None
    nodeset: tuple[int, ...] | None = None
    """libvirt dialect: the ``<acpi nodeset>`` nodes, ascending and de-duplicated."""
    managed: bool | None = None
    multifunction: bool = False
    """``multifunction='on'`` on the guest address: other functions may share the slot."""
    display: bool | None = None
    """``display='on|off'`` of an mdev or PCI hostdev (None: not written). libvirt 12.8
    writes ``"display"`` as given on a PCI hostdev, and always on an mdev (``"off"``
    unless on)."""
    ramfb: bool | None = None
    """``ramfb='on|off'`` of an mdev or PCI hostdev (None: not written). ``on``: libvirt
    12.8 writes the device as ``vfio-pci-nohotplug`` with ``"ramfb":true``."""
    guest_address_type: str | None = None
    """A guest ``<address type>`` other than ``pci`` (``unassigned``, ``drive``, ...);
    None for a PCI guest address or none at all."""
    zpci: tuple[tuple[str, str], ...] | None = None
    """The attributes of a ``<zpci>`` in the guest PCI address, as written (None: no
    ``<zpci>``): an s390 extension libvirt 12.8 refuses elsewhere once it says a uid or
    fid (HOSTDEV-ZPCI-ARCH)."""
    invalid_source: tuple[tuple[str, str], ...] | None = None
    """The attributes of an mdev source's ``<address>`` that made no valid source (no
    ``uuid``, or a malformed one), as written: a re-statement writes them back and is
    refused the same way. None otherwise."""
    iommufd: bool | None = None
    """``<driver iommufd='yes|no'/>``; None without it (the domain's ``<iommufd>`` decides).
    libvirt 12.8 honours it on PCI hostdevs only (ignored on mdev and USB)."""
    line: int = field(default=0, compare=False, repr=False)
    acpi_line: int = field(default=0, compare=False, repr=False)

    @property
    def in_guest(self) -> bool:
        """Whether QEMU gets the device as a PCI device: a PCI or mdev hostdev whose guest
        address is not ``unassigned`` (libvirt keeps such a device on the host, bound to
        vfio, and writes no ``-device`` for it)."""
        return self.kind.is_pci and self.guest_address_type != "unassigned"


@dataclass(frozen=True)
class PciController:
    """``<controller type='pci' index model>``: one guest PCI bus and how it is attached.

    ``None`` marks what the document does not write (libvirt chooses it; see
    :mod:`gi_conform.pcitopology`) or what is already reported invalid. A ``model`` libvirt
    12.8 does not choose: a controller without one is refused (PCI-CONTROLLER-MODEL-MISSING).
    """

    index: int | None
    model: str | None
    address: PciAddress | None = None
    """Its own ``<address type='pci'>`` on the parent bus."""
    bus_nr: int | None = None
    """``<target busNr>`` of an expander bus: the first bus number behind it."""
    node: int | None = None
    """``<target><node>`` of an expander bus: the guest NUMA node of every device behind it."""
    chassis: int | None = None
    port: int | None = None
    line: int = field(default=0, compare=False, repr=False)
    multifunction: bool | None = None
    """Its address's ``multifunction``: ``on`` True, ``off`` False, None when not written
    (libvirt then sets it where other functions share the slot)."""


SMMUV3_DRIVER_OPTIONS = ("accel", "ats", "ril", "ssidsize", "oas")
"""``<iommu model='smmuv3'><driver>`` attributes libvirt 12.8 passes to ``arm-smmuv3``, in
its order (it drops unknown spellings such as KubeVirt's ``ssidSize``)."""


@dataclass(frozen=True)
class Iommu:
    """``<iommu model>``: an smmuv3 with ``<driver pciBus>`` is a device on that bus."""

    model: str | None
    pci_bus: int | None = None
    options: tuple[tuple[str, str], ...] = ()
    """The ``<driver>`` attributes of :data:`SMMUV3_DRIVER_OPTIONS` as written, in that order."""
    line: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Initiator:
    """One generic initiator: the pair (device, node) and the id its QEMU object gets."""

    id: str
    device: str | None
    node: int | None
    dialect: Dialect
    alias_given: bool = True
    line: int = field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Domain:
    name: str
    domain_type: str = "kvm"
    uuid: str | None = None
    arch: str = "x86_64"
    machine: str | None = None
    vcpus: int | None = 1
    memory: int | None = 0
    """Bytes, from ``<memory>``; None without the element (libvirt then takes the cells'
    sum, and refuses a domain without cells). libvirt replaces it with the cells' sum when
    NUMA is used."""
    acpi: bool | None = None
    """True: ``<features><acpi/>``; False: ``<features>`` without it; None: no ``<features>``."""
    uefi: bool = False
    """UEFI firmware: ``<os firmware='efi'>`` or ``<os><loader type='pflash'>`` (libvirt's
    test before it allows ACPI on aarch64; a loader of another type is not UEFI to it)."""
    numa: bool = False
    """Whether a ``<numa>`` element is present at all (it may still hold no cell)."""
    cells: tuple[Cell, ...] = ()
    hostdevs: tuple[Hostdev, ...] = ()
    initiators: tuple[Initiator, ...] = ()
    """The seed dialect's standalone elements, in document order."""
    interconnects: tuple[Interconnect, ...] = ()
    """``<numa><interconnects>`` children in document order (HMAT)."""
    pci_controllers: tuple[PciController, ...] = ()
    """``<controller type='pci'>`` in document order: what kind of bus a guest address's
    ``bus`` is (libvirt adds a pcie-root-port otherwise) and how it reaches the root."""
    iommus: tuple[Iommu, ...] = ()
    root_slots_taken: tuple[int, ...] = ()
    """Slots of bus 0 that other devices (disks, NICs, ...) take by explicit address."""
    other_pci: tuple[str, ...] | None = ()
    """The other devices libvirt places on PCI itself, as placement tokens
    (:func:`gi_conform.document.parse_devices.other_pci_devices`); None when one of them
    is not modelled, so libvirt's placement of addressless devices is not either."""
    video: bool = False
    """A primary video device (``<video>`` not ``none``, or ``<graphics>`` that libvirt
    gives one): on x86 it takes a slot of bus 0 before libvirt places controllers."""
    graphics: bool = False
    """A ``<graphics>`` element of any type: libvirt 12.8 refuses an mdev's ``display='on'``
    without one (HOSTDEV-MDEV-DISPLAY-GRAPHICS); a video device alone is not enough."""
    memory_backing: MemoryBacking | None = None
    numatune: Numatune | None = None
    iommufd: bool | None = None
    """Domain-level ``<iommufd enabled='yes|no'>``; None without the element."""
    iommufd_fdgroup: str | None = None
    """Its ``fdgroup`` (the fd a real start passes; domxml-to-native writes no fd)."""
    line: int = field(default=0, compare=False, repr=False)
    numa_line: int = field(default=0, compare=False, repr=False)
    features_line: int = field(default=0, compare=False, repr=False)

    @property
    def pci_root_bus(self) -> str:
        """QEMU's name for guest bus 0: ``pcie.0`` on q35 and arm virt, else ``pci.0``."""
        machine = self.machine or ("virt" if self.arch in ("aarch64", "armv7l") else "pc")
        if "q35" in machine or machine.startswith("virt"):
            return "pcie.0"
        return "pci.0"

    @functools.cached_property
    def uses_hmat(self) -> bool:
        """Whether the document describes HMAT: any interconnect or any cell cache."""
        return bool(self.interconnects) or any(cell.caches for cell in self.cells)

    @functools.cached_property
    def _hostdevs_by_alias(self) -> dict[str, Hostdev]:
        """The first hostdev of each alias (a model is immutable: built once, on demand)."""
        found: dict[str, Hostdev] = {}
        for hostdev in self.hostdevs:
            found.setdefault(hostdev.alias, hostdev)
        return found

    @functools.cached_property
    def unassigned_vcpus(self) -> tuple[int, ...]:
        """vCPUs no cell names (:func:`gi_conform.semantics.unassigned_vcpus`): derived
        once, as both the validator's rules and the argv's ``-numa`` lines read it."""
        if not self.cells or self.vcpus is None:
            return ()
        named: set[int] = set()
        for cell in self.cells:
            if cell.cpus is None:
                return ()
            named.update(cell.cpus)
        return tuple(cpu for cpu in range(self.vcpus) if cpu not in named)

    def hostdev(self, alias: str) -> Hostdev | None:
        return self._hostdevs_by_alias.get(alias)

    def uses_iommufd(self, hostdev: Hostdev) -> bool:
        """Whether the hostdev goes to QEMU through iommufd, as libvirt 12.8 decides: a PCI
        hostdev's own ``<driver iommufd>`` wins, else the domain's ``<iommufd enabled>``;
        mdev and USB hostdevs never do (libvirt ignores the attribute there)."""
        if hostdev.kind is not HostdevKind.PCI:
            return False
        if hostdev.iommufd is not None:
            return hostdev.iommufd
        return bool(self.iommufd)


_Model = TypeVar("_Model")


def _assembled(cls: type[_Model], /, **fields: object) -> _Model:
    """``cls(**fields)`` for a frozen dataclass without ``__post_init__`` given every one
    of its fields by name (the parser's and the validator's objects; ``tests/document``
    holds them to the constructor's).

    The generated ``__init__`` of a frozen dataclass sets each field through
    ``object.__setattr__``: for the objects built once per cell, initiator and hostdev
    of every document read, that was a tenth of the parser's own time.
    """
    instance = cls.__new__(cls)
    instance.__dict__.update(fields)
    return instance
