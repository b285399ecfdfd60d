"""The guest PCI topology libvirt builds: every controller, where it sits, what QEMU gets.

A generic initiator names a PCI device; the guest's SRAT entry carries the device's PCI
handle (segment and bus), and an expander bus (``pxb-pcie``) gives every device behind it
a NUMA node. Both follow from the path from the root complex to the device, so the
reference models that path as libvirt 12.8 lays it out (measured with ``virsh
domxml-to-native`` in the sid chroot; docs/reference/argv.md, "PCI path"):

* a bus a guest address names without a declared controller gets one from libvirt, for
  every missing index up to the highest named: ``pcie-root-port`` on q35/virt,
  ``pci-bridge`` on i440fx;
* placement follows libvirt 12.8's ``qemuDomainAssignPCIAddresses``
  (``src/qemu/qemu_domain_address.c``; bus rules from ``virDomainPCIAddressBusSetModel``,
  search from ``virDomainPCIAddressGetNextAddr`` in ``src/conf/domain_addr.c``): the
  chipset's slots and every explicit address are taken first; a first pass places every
  device, adding the bus one that finds no slot needs (a root port per PCIe device, a
  pcie-to-pci-bridge behind a root port of its own for a PCI-only one, a pci-bridge on
  i440fx) and one spare root port when the document declares no PCI controller; the
  second pass places the controllers without address in index order (root ports as
  functions of a shared slot, eight to a slot), then the devices in libvirt's order, each
  on the first hotpluggable bus (by index) that takes it, first free slot;
* ``multifunction``: as the address says (``off`` is written as ``false``); not said, on
  function 0 of a slot whose other functions a controller or a hostdev uses, placed or
  explicit (libvirt's ``virDomainPCIAddressSetAllMulti``; measured: explicit ports at
  2.0 and 2.1 or 2.3, or one at 2.0 with ``multifunction='on'`` alone);
* a root port's ``port`` is ``slot * 8 + function``, ``chassis`` its index; a switch's
  downstream port's ``port`` is its slot; an expander bus without ``busNr`` takes 2
  below the lowest one already given (254 first).

* the other devices (qemuDomainDeviceCalculatePCIConnectFlags): a virtio one is PCIe
  where the machine is, a transitional one, a sound card, ivshmem, crypto, a pci-serial,
  an AHCI and a USB controller other than an xHCI PCI only; a pvpanic and a virtio IOMMU
  are integrated (a free slot of bus 0, never a new bus); q35's chipset takes the first
  ICH9 sound card at 00:1b.0 and ICH9 USB2 sets at 00:1d, 00:1a (a set shares a slot);
  a NIC that is a hostdev is the first hostdev; libvirt adds a virtio-serial controller
  for a virtio channel, an AHCI for a SATA disk and SCSI controllers for SCSI disks,
  after q35's default USB controller.

Every rule was measured with real libvirt 12.8 (docs/reference/argv.md, "Placement").
The devices other than hostdevs come from the document's placement tokens
(:attr:`Domain.other_pci`); when one is not modelled (a second video, an ICH7 sound
card, ...), the controllers libvirt adds and the place of every device without a guest
address are left out (not guessed).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gi_conform.model import Domain, PciAddress, PciController
from gi_conform.pcidevices import (
    INTEGRATED,
    Endpoint,
    chipset_devices,
    chipset_reservations,
    endpoint_kind,
    other_endpoints,
)
from gi_conform.semantics import added_bus_model

__all__ = [
    "DEVICE_DRIVERS",
    "EXPANDER_DRIVERS",
    "EXPANDER_MODELS",
    "PlacedController",
    "accepted_connections",
    "addr_text",
    "bus_id",
    "controller_props",
    "device_addresses",
    "other_device_addresses",
    "pci_path",
    "pci_topology",
    "smmuv3_props",
]

DEVICE_DRIVERS = {
    "pcie-root-port": "pcie-root-port",
    "pcie-expander-bus": "pxb-pcie",
    "pci-expander-bus": "pxb",
    "pci-bridge": "pci-bridge",
    "pcie-switch-upstream-port": "x3130-upstream",
    "pcie-switch-downstream-port": "xio3130-downstream",
    "dmi-to-pci-bridge": "i82801b11-bridge",
    "pcie-to-pci-bridge": "pcie-pci-bridge",
}
"""libvirt's controller model -> QEMU's device (the roots have none: they are the machine)."""
EXPANDER_MODELS = frozenset({"pcie-expander-bus", "pci-expander-bus"})
"""Expander buses: a root bus of their own, with a busNr and a NUMA node."""
EXPANDER_DRIVERS = frozenset(DEVICE_DRIVERS[model] for model in EXPANDER_MODELS)
"""Their QEMU devices (``pxb-pcie``, ``pxb``)."""
_FUNCTIONS_PER_SLOT = 8
_FIRST_BUS_NR = 256


@dataclass(frozen=True)
class PlacedController:
    """A controller as QEMU gets it, declared or added by libvirt.

    ``bus``/``slot`` are None where the reference does not know libvirt's choice.
    """

    index: int
    model: str
    bus: int | None
    slot: int | None
    function: int = 0
    multifunction: bool | None = None
    """``"multifunction"`` as libvirt writes it (None: not written)."""
    bus_nr: int | None = None
    node: int | None = None
    chassis: int | None = None
    port: int | None = None

    @property
    def driver(self) -> str | None:
        return DEVICE_DRIVERS.get(self.model)

    @property
    def is_expander(self) -> bool:
        return self.model in EXPANDER_MODELS


def bus_id(domain: Domain, bus: int) -> str:
    """QEMU's id for guest bus ``bus``: the root's name, else ``pci.<index>``."""
    return domain.pci_root_bus if bus == 0 else f"pci.{bus}"


def _declared(domain: Domain) -> dict[int, PciController]:
    """The first declared controller of each index with a model libvirt knows (it refuses
    the rest: PCI-CONTROLLER-INDEX-DUPLICATE, PCI-CONTROLLER-MODEL-MISSING for one without
    a model, which libvirt 12.8 does not default, PCI-CONTROLLER-MODEL-UNKNOWN)."""
    found: dict[int, PciController] = {}
    for controller in domain.pci_controllers:
        if controller.index is not None and controller.model in _BUSES:
            found.setdefault(controller.index, controller)
    return found


def _named_buses(domain: Domain, declared: dict[int, PciController]) -> set[int]:
    buses = {h.guest_address.bus for h in domain.hostdevs if h.guest_address is not None}
    buses |= {c.address.bus for c in declared.values() if c.address is not None}
    return buses


# What each bus accepts (libvirt's virDomainPCIAddressBusSetModel): connect kinds,
# whether it is hotpluggable (an endpoint libvirt places needs that), first and last slot.
_ENDPOINTS = frozenset({"pcie", "pci"})
_PCI_BUS = frozenset({"pci", "pci-bridge"})
_PORT_BUS = frozenset({"pcie", "pcie-switch-upstream-port", "pcie-to-pci-bridge"})
_BUSES: dict[str, tuple[frozenset[str], bool, int, int]] = {
    "pci-root": (frozenset({*_PCI_BUS, "pci-expander-bus"}), True, 1, 31),
    "pci-bridge": (_PCI_BUS, True, 1, 31),
    "pci-expander-bus": (_PCI_BUS, True, 0, 31),
    "pcie-root": (
        frozenset({"pcie", "pcie-root-port", "dmi-to-pci-bridge", "pcie-expander-bus"}),
        False,
        1,
        31,
    ),
    "dmi-to-pci-bridge": (_PCI_BUS, False, 0, 31),
    "pcie-to-pci-bridge": (_PCI_BUS, True, 1, 31),
    "pcie-root-port": (_PORT_BUS, True, 0, 0),
    "pcie-switch-downstream-port": (_PORT_BUS, True, 0, 0),
    "pcie-switch-upstream-port": (frozenset({"pcie-switch-downstream-port"}), False, 0, 31),
    "pcie-expander-bus": (frozenset({"pcie-root-port", "dmi-to-pci-bridge"}), False, 0, 31),
}


def accepted_connections(model: str) -> frozenset[str] | None:
    """What a bus of controller ``model`` accepts (``pcie``/``pci`` endpoints and the
    controller models that plug into it, libvirt's connect flags); None for a model
    libvirt does not know."""
    found = _BUSES.get(model)
    return None if found is None else found[0]


@dataclass
class _Bus:
    model: str
    accepts: frozenset[str]
    hotplug: bool
    first: int
    last: int
    used: dict[int, int] = field(default_factory=dict)
    """slot -> bitmap of the functions taken."""
    aggregate: set[int] = field(default_factory=set)
    """Slots whose functions root ports may share (the first one placed there was one)."""

    @classmethod
    def of(cls, model: str) -> _Bus:
        accepts, hotplug, first, last = _BUSES[model]
        return cls(model, accepts, hotplug, first, last)


@dataclass
class _AddressSet:
    """libvirt's PCI address set for one pass: the buses by index, and whether a device
    that finds no slot may add one (the first, "dry run" pass)."""

    buses: list[_Bus]
    grow: bool

    def reserve(self, bus: int, slot: int, function: int, aggregate: bool = False) -> None:
        if bus >= len(self.buses):
            return
        place = self.buses[bus]
        if not place.used.get(slot) and aggregate:
            place.aggregate.add(slot)
        place.used[slot] = place.used.get(slot, 0) | 1 << function

    def full(self) -> bool:
        """Every slot of every bus has a function taken (virDomainPCIAddressBusIsFullyReserved)."""
        return all(
            all(bus.used.get(slot) for slot in range(bus.first, bus.last + 1)) for bus in self.buses
        )

    def _find(self, kind: str, aggregate: bool) -> tuple[int, int, int] | None:
        """virDomainPCIAddressGetNextAddr: the first bus (by index) that takes ``kind``,
        its first free slot, or a free function of a slot root ports share; an integrated
        device only bus 0."""
        if kind == INTEGRATED:
            root = self.buses[0]
            free = (s for s in range(root.first, root.last + 1) if not root.used.get(s))
            return next(((0, slot, 0) for slot in free), None)
        for index, bus in enumerate(self.buses):
            if kind not in bus.accepts or (kind in _ENDPOINTS and not bus.hotplug):
                continue
            for slot in range(bus.first, bus.last + 1):
                used = bus.used.get(slot, 0)
                if not used:
                    return index, slot, 0
                if aggregate and slot in bus.aggregate and used != 0xFF:
                    return index, slot, next(f for f in range(8) if not used >> f & 1)
        return None

    def take(self, kind: str, aggregate: bool = False) -> tuple[int, int, int] | None:
        """Reserve the next free place for a device of connect kind ``kind``; in the first
        pass, add the bus it needs when there is none (virDomainPCIAddressSetGrow)."""
        found = self._find(kind, aggregate)
        if found is None and self.grow:
            found = self._add_bus(kind)
        if found is not None:
            self.reserve(*found, aggregate=aggregate)
        return found

    def _add_bus(self, kind: str) -> tuple[int, int, int] | None:
        if kind == "pci":
            if not any("pci-bridge" in bus.accepts for bus in self.buses):
                # a pure PCIe guest: a root port only for a pcie-to-pci-bridge, then it
                port = _Bus.of("pcie-root-port")
                port.accepts = frozenset({"pcie-to-pci-bridge"})
                self.buses += [port, _Bus.of("pcie-to-pci-bridge")]
            else:
                self.buses.append(_Bus.of("pci-bridge"))
        elif kind in ("pcie", "pcie-switch-upstream-port"):
            self.buses.append(_Bus.of("pcie-root-port"))
        else:
            return None  # an integrated device: libvirt's second pass then refuses
        return len(self.buses) - 1, self.buses[-1].first, 0


def _reserved(
    domain: Domain, declared: dict[int, PciController], models: dict[int, str]
) -> list[tuple[int, int, int, bool]]:
    """(bus, slot, function, aggregate) taken before libvirt places anything: the chipset's
    own (qemuDomainValidateDevicePCISlotsQ35/PIIX3), then every explicit address, hostdevs
    before controllers as libvirt collects them; a slot whose first function an explicit
    root port takes is one other root ports may share (measured: ports without address
    join an explicit one's slot 1 at 1.1, 1.2)."""
    x86 = domain.arch in ("x86_64", "i686")
    pcie = domain.pci_root_bus == "pcie.0"
    found = [(0, slot, 0, False) for slot in domain.root_slots_taken]
    if x86 and pcie:
        found += [(0, 0x1F, f, False) for f in (0, 2, 3)]  # ICH9: LPC, SATA, SMBus
    if x86 and not pcie:
        found += [(0, 1, f, False) for f in range(4)]  # PIIX3: ISA, IDE, USB, PM
    if x86 and domain.video:
        found.append((0, 1 if pcie else 2, 0, False))
    found += [(*place, False) for place in chipset_reservations(domain)]
    for hostdev in domain.hostdevs:
        if hostdev.in_guest and (a := hostdev.guest_address) is not None:
            found.append((a.bus, a.slot, a.function, False))
    for index, controller in sorted(declared.items()):
        if (a := controller.address) is not None:
            found.append((a.bus, a.slot, a.function, models.get(index) == "pcie-root-port"))
    return found


@dataclass(frozen=True)
class _Assignment:
    """Where libvirt puts each PCI controller (index -> bus, slot, function; None where
    not modelled) and each hostdev without a guest address (alias -> address)."""

    controllers: dict[int, tuple[int, int, int] | None]
    models: dict[int, str]
    hostdevs: dict[str, PciAddress]
    others: tuple[tuple[str, PciAddress], ...] | None = None
    """Every other device libvirt places (element tag, address) in its order; None where
    not modelled."""


@dataclass
class _Placed:
    """What one pass placed: hostdevs by alias, the other devices in libvirt's order."""

    hostdevs: dict[str, PciAddress]
    others: list[tuple[str, PciAddress]]

    def take(self, addrs: _AddressSet, endpoint: Endpoint) -> bool:
        """Place ``endpoint`` (all its functions in one slot); False when there is no room."""
        found = addrs.take(endpoint.kind)
        if found is None:
            return False
        bus, slot, _ = found
        self.others += [(endpoint.tag, PciAddress(0, bus, slot, f)) for f in endpoint.functions]
        return True


def _place_controllers(
    domain: Domain, addrs: _AddressSet, models: dict[int, str], declared: dict[int, PciController]
) -> dict[int, tuple[int, int, int] | None]:
    """Controllers without an address, in index order (a q35 dmi-to-pci-bridge at 0x1E
    when free, as the chipset step puts it); the first pass keeps an i440fx slot for a
    future pci-bridge before them."""
    x86 = domain.arch in ("x86_64", "i686")
    pcie = addrs.buses[0].model == "pcie-root"
    places: dict[int, tuple[int, int, int] | None] = {}
    for index in sorted(models):
        controller = declared.get(index)
        if index == 0:
            continue
        if controller is not None and controller.address is not None:
            a = controller.address
            places[index] = (a.bus, a.slot, a.function)
        elif (
            models[index] == "dmi-to-pci-bridge"
            and x86
            and pcie
            and not addrs.buses[0].used.get(0x1E)
        ):
            addrs.reserve(0, 0x1E, 0)
            places[index] = (0, 0x1E, 0)
    if addrs.grow and not pcie and not addrs.full():
        addrs.take("pci")  # a slot kept for a future pci-bridge (first pass only)
    for index in sorted(models):
        if index != 0 and index not in places:
            model = models[index]
            places[index] = addrs.take(model, aggregate=model == "pcie-root-port")
    return places


def _pass(
    domain: Domain,
    models: dict[int, str],
    declared: dict[int, PciController],
    endpoints: tuple[list[Endpoint], list[Endpoint]] | None,
    grow: bool,
) -> tuple[_AddressSet, dict[int, tuple[int, int, int] | None], _Placed] | None:
    """One of qemuDomainAssignPCIAddresses' passes: chipset and explicit addresses, then
    controllers without an address in index order, then the devices in libvirt's order."""
    root = "pcie-root" if domain.pci_root_bus == "pcie.0" else "pci-root"
    top = max(models, default=0)
    buses = [_Bus.of(root if i == 0 else models.get(i, "pci-bridge")) for i in range(top + 1)]
    if any(i not in models for i in range(1, top + 1)):
        return None
    addrs = _AddressSet(buses, grow)
    for bus, slot, function, aggregate in _reserved(domain, declared, models):
        addrs.reserve(bus, slot, function, aggregate=aggregate)
    places = _place_controllers(domain, addrs, models, declared)
    placed = _Placed({}, [])
    if endpoints is None:
        return addrs, places, placed
    if any(
        where is not None and models[index] == "pci-bridge" and where[0] >= index
        for index, where in places.items()
    ):
        # libvirt refuses a pci-bridge whose index is not above its bus (measured: every
        # slot of an i440fx's pci.0 taken, the bridge it adds has no slot but on itself)
        return None
    placed.others += chipset_devices(domain)
    before, after = endpoints
    kind = endpoint_kind(domain)
    for endpoint in before:
        if not placed.take(addrs, endpoint):
            return None
    for hostdev in domain.hostdevs:
        if hostdev.in_guest and hostdev.guest_address is None:
            if (found := addrs.take(kind)) is None:
                return None
            placed.hostdevs[hostdev.alias] = PciAddress(0, *found)
    for endpoint in after:
        if not placed.take(addrs, endpoint):
            return None
    return addrs, places, placed


def _assign(domain: Domain) -> _Assignment:
    """qemuDomainAssignPCIAddresses (libvirt 12.8, qemu_domain_address.c): a first pass
    adds the buses devices without a slot need (a root port each on PCIe, a
    pcie-to-pci-bridge behind its own root port for a PCI-only device, a pci-bridge on
    i440fx), and one spare root port when the document declares no PCI controller; a
    second pass places everything on the buses so found."""
    declared = _declared(domain)
    added_model = added_bus_model(domain)
    highest = max(_named_buses(domain, declared), default=0)
    models = {
        index: (declared[index].model if index in declared else None) or added_model
        for index in {*(i for i in declared if i > 0), *range(1, highest + 1)}
    }
    endpoints = other_endpoints(domain)
    first = _pass(domain, models, declared, endpoints, grow=True) if endpoints else None
    if first is not None:
        addrs = first[0]
        # max_idx counts declared controllers only: those for buses a guest address
        # names are added by this pass's growth, as for any device
        spare = max(declared, default=0) <= 0 and addrs.buses[0].model == "pcie-root"
        if spare and len(addrs.buses) > 1:
            addrs.take("pcie")  # one spare root port for hotplug
        for index in range(max(models, default=0) + 1, len(addrs.buses)):
            models[index] = addrs.buses[index].model
        final = _pass(domain, models, declared, endpoints, grow=False)
        if final is not None:
            _, places, placed = final
            return _Assignment(places, models, placed.hostdevs, tuple(placed.others))
    final = _pass(domain, models, declared, None, grow=False)
    if final is None:
        return _Assignment({}, models, {})
    _, places, placed = final
    return _Assignment(places, models, placed.hostdevs)


def _default_port(model: str, slot: int | None, function: int) -> int | None:
    if slot is None:
        return None
    if model == "pcie-root-port":
        return slot * _FUNCTIONS_PER_SLOT + function
    return slot if model == "pcie-switch-downstream-port" else None


def pci_topology(domain: Domain) -> dict[int, PlacedController]:
    """Every PCI controller but the root, by index, placed as libvirt 12.8 places it,
    those it adds for devices without a guest address included where modelled."""
    assignment = _assign(domain)
    declared = _declared(domain)
    lowest_bus_nr = min(
        (
            c.bus_nr
            for c in declared.values()
            if c.bus_nr is not None and c.model in EXPANDER_MODELS
        ),
        default=_FIRST_BUS_NR,
    )
    placed: dict[int, PlacedController] = {}
    for index in sorted(assignment.models):
        model = assignment.models[index]
        controller = declared.get(index) or PciController(index, model)
        where = assignment.controllers.get(index)
        bus, slot, function = where if where is not None else (None, None, 0)
        bus_nr = controller.bus_nr
        if bus_nr is None and model in EXPANDER_MODELS:
            lowest_bus_nr -= 2
            bus_nr = lowest_bus_nr
        placed[index] = PlacedController(
            index=index,
            model=model,
            bus=bus,
            slot=slot,
            function=function,
            multifunction=controller.multifunction if controller.address is not None else None,
            bus_nr=bus_nr,
            node=controller.node,
            chassis=controller.chassis if controller.chassis is not None else index,
            port=controller.port
            if controller.port is not None
            else _default_port(model, slot, function),
        )
    return _with_multifunction(domain, placed)


def _with_multifunction(
    domain: Domain, placed: dict[int, PlacedController]
) -> dict[int, PlacedController]:
    """``multifunction`` on function 0 of every slot with company, where not said."""
    functions: dict[tuple[int, int], set[int]] = {}
    addresses = [(c.bus, c.slot, c.function) for c in placed.values()]
    addresses += [
        (h.guest_address.bus, h.guest_address.slot, h.guest_address.function)
        for h in domain.hostdevs
        if h.guest_address is not None
    ]
    for bus, slot, function in addresses:
        if bus is not None and slot is not None:
            functions.setdefault((bus, slot), set()).add(function)
    return {
        index: replace(controller, multifunction=True)
        if controller.multifunction is None
        and controller.function == 0
        and controller.bus is not None
        and controller.slot is not None
        and len(functions[(controller.bus, controller.slot)]) > 1
        else controller
        for index, controller in placed.items()
    }


def device_addresses(domain: Domain, *, placed: bool = True) -> dict[str, PciAddress]:
    """Hostdev alias -> guest address, for each device QEMU gets whose place is modelled:
    those whose address the document fixes, and (``placed``) those libvirt places itself
    where the reference models it (:func:`pci_topology`'s second pass). The seed profile
    writes no address for the latter: QEMU places them, so pass ``placed=False``."""
    fixed = {
        hostdev.alias: hostdev.guest_address
        for hostdev in domain.hostdevs
        if hostdev.in_guest and hostdev.guest_address is not None
    }
    if not placed or len(fixed) == sum(1 for h in domain.hostdevs if h.in_guest):
        return fixed
    return {**fixed, **_assign(domain).hostdevs}


def other_device_addresses(domain: Domain) -> tuple[tuple[str, PciAddress], ...] | None:
    """Each device other than hostdevs and PCI controllers that libvirt places itself
    (its element's tag, ``controller`` for the USB, SCSI and SATA controllers it adds),
    with its address, in libvirt's order; None when their placement is not modelled.
    The chipset's own (q35's SATA, i440fx's PIIX3, an x86 primary video) are not listed."""
    return _assign(domain).others


def pci_path(
    topology: dict[int, PlacedController], bus: int
) -> tuple[PlacedController, ...] | None:
    """The controllers from the root down to guest bus ``bus`` (empty for bus 0); None
    when a controller on the way is unknown or its place is not modelled."""
    path: list[PlacedController] = []
    seen: set[int] = set()
    while bus != 0:
        controller = topology.get(bus)
        if controller is None or controller.bus is None or controller.driver is None:
            return None
        if bus in seen:
            return None
        seen.add(bus)
        path.append(controller)
        bus = controller.bus
    return tuple(reversed(path))


def addr_text(slot: int, function: int) -> str:
    """QEMU's ``addr`` as libvirt writes it: ``0x<slot>``, or ``0x<slot>.0x<function>``."""
    return f"{slot:#x}" + (f".{function:#x}" if function else "")


def controller_props(domain: Domain, controller: PlacedController) -> dict[str, object]:
    """The controller's ``-device`` as libvirt 12.8 writes it, key order included."""
    props: dict[str, object] = {"driver": controller.driver}
    if controller.model in ("pcie-root-port", "pcie-switch-downstream-port"):
        if controller.port is not None:
            props["port"] = controller.port
        props["chassis"] = controller.chassis
    elif controller.model == "pci-bridge":
        props["chassis_nr"] = controller.chassis
    elif controller.is_expander:
        props["bus_nr"] = controller.bus_nr
    props["id"] = bus_id(domain, controller.index)
    if controller.is_expander and controller.node is not None:
        props["numa_node"] = controller.node
    if controller.bus is not None and controller.slot is not None:
        props["bus"] = bus_id(domain, controller.bus)
        if controller.multifunction is not None:
            props["multifunction"] = controller.multifunction
        props["addr"] = addr_text(controller.slot, controller.function)
    return props


def smmuv3_props(
    domain: Domain, index: int, pci_bus: int, options: tuple[tuple[str, str], ...]
) -> dict[str, object]:
    """An ``<iommu model='smmuv3'>`` with ``pciBus`` as libvirt 12.8's ``arm-smmuv3``:
    ``accel`` a boolean, the other options strings, in :data:`SMMUV3_DRIVER_OPTIONS` order."""
    props: dict[str, object] = {
        "driver": "arm-smmuv3",
        "primary-bus": bus_id(domain, pci_bus),
        "id": f"iommu{index}",
    }
    for name, value in options:
        props[name] = value == "on" if name == "accel" else value
    return props
