"""The guest PCI topology libvirt builds: every controller, where it sits, what QEMU gets.

A generic initiator names a PCI device; the guest's SRAT entry carries the device's PCI
handle (segment and bus), and an expander bus (``pxb-pcie``) gives every device behind it
a NUMA node. Both follow from the path from the root complex to the device, so the
reference models that path as libvirt 12.8 lays it out (measured with ``virsh
domxml-to-native`` in the sid chroot; README, "PCI path"):

* a bus a guest address names without a declared controller gets one from libvirt, for
  every missing index up to the highest named: ``pcie-root-port`` on q35/virt,
  ``pci-bridge`` on i440fx;
* controllers without ``<address>`` are placed in index order on bus 0's first free slot
  (slot 0 is the host bridge; i440fx's slot 1 is PIIX3; an x86 primary video takes slot 1
  on q35, 2 on i440fx); a ``pci-bridge`` goes on the first earlier bridge with a free
  slot (1-31) once bus 0 is full. Root ports share a slot as its functions, eight to a
  slot, the slot taken when the first of each eight is placed; a switch's downstream
  ports fill its upstream port's bus from slot 0, ``port`` = slot;
* ``multifunction``: as the address says (``off`` is written as ``false``); not said, on
  function 0 of a slot whose other functions a controller or a hostdev uses, placed or
  explicit (libvirt's ``virDomainPCIAddressSetAllMulti``; measured: explicit ports at
  2.0 and 2.1 or 2.3, or one at 2.0 with ``multifunction='on'`` alone);
* a root port's ``port`` is ``slot * 8 + function``, ``chassis`` its index; an expander
  bus without ``busNr`` takes 2 below the lowest one already given (254 first).

Controllers libvirt adds for its own default devices (q35's USB controller and balloon)
take higher indices: they never sit on an earlier controller's path, but may join the
last root-port slot (and so set ``multifunction``), which the reference does not model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gi_conform.model import Domain, PciAddress, PciController
from gi_conform.semantics import added_bus_model

__all__ = [
    "DEVICE_DRIVERS",
    "EXPANDER_DRIVERS",
    "EXPANDER_MODELS",
    "PlacedController",
    "addr_text",
    "bus_id",
    "controller_props",
    "device_addresses",
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
_ROOT_PLACED = frozenset({"pcie-root-port", *EXPANDER_MODELS})
"""Models whose placement without ``<address>`` was measured: on bus 0 (a ``pci-bridge``
too, until bus 0 is full)."""
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
    """The first declared controller of each index with a model (libvirt refuses the rest:
    PCI-CONTROLLER-INDEX-DUPLICATE)."""
    found: dict[int, PciController] = {}
    for controller in domain.pci_controllers:
        if controller.index is not None and controller.model is not None:
            found.setdefault(controller.index, controller)
    return found


def _named_buses(domain: Domain, declared: dict[int, PciController]) -> set[int]:
    buses = {h.guest_address.bus for h in domain.hostdevs if h.guest_address is not None}
    buses |= {c.address.bus for c in declared.values() if c.address is not None}
    return buses


def _slots_taken(domain: Domain, declared: dict[int, PciController]) -> dict[int, set[int]]:
    """Per bus, the slots taken before libvirt places controllers: the machine's own on
    bus 0, and every explicit address."""
    x86 = domain.arch in ("x86_64", "i686")
    pcie = domain.pci_root_bus == "pcie.0"
    root = {0, *domain.root_slots_taken}
    if x86 and pcie:
        root.add(0x1F)  # ICH9
    if x86 and not pcie:
        root.add(1)  # PIIX3
    if x86 and domain.video:
        root.add(1 if pcie else 2)
    taken: dict[int, set[int]] = {0: root}
    explicit: list[PciAddress] = [c.address for c in declared.values() if c.address is not None]
    explicit += [h.guest_address for h in domain.hostdevs if h.guest_address is not None]
    for address in explicit:
        taken.setdefault(address.bus, {0}).add(address.slot)
    return taken


def _take(
    taken: dict[int, set[int]], buses: list[int], first: int = 1
) -> tuple[int | None, int | None]:
    """The first free slot from ``first`` on the first of ``buses`` that has one (slot 0
    of a bridge is its own; a switch's downstream ports start at 0), now taken."""
    for bus in buses:
        used = taken.setdefault(bus, set() if first == 0 else {0})
        slot = next((s for s in range(first, 0x20) if s not in used), None)
        if slot is not None:
            used.add(slot)
            return bus, slot
    return None, None


@dataclass
class _Placer:
    """The state of one placement pass: slots taken per bus, the buses a bridge or a
    downstream port may go to, the root-port slot being filled, the lowest busNr."""

    pcie: bool
    taken: dict[int, set[int]]
    lowest_bus_nr: int
    bridges: list[int] = field(default_factory=list)
    upstream: list[int] = field(default_factory=list)
    group: list[int] = field(default_factory=list)
    group_slot: int | None = None

    def where(self, model: str) -> tuple[int | None, int | None, int]:
        """(bus, slot, function) for a controller of ``model`` without an address."""
        if model == "pcie-root-port" and self.pcie:
            if not self.group or len(self.group) == _FUNCTIONS_PER_SLOT:
                self.group = []
                _, self.group_slot = _take(self.taken, [0])
            return (0 if self.group_slot is not None else None), self.group_slot, len(self.group)
        if model == "pci-bridge":
            return (*_take(self.taken, [0, *self.bridges]), 0)
        if model == "pcie-switch-downstream-port":
            return (*_take(self.taken, self.upstream, first=0), 0)
        if model in _ROOT_PLACED:
            return (*_take(self.taken, [0]), 0)
        return None, None, 0

    def bus_nr(self, controller: PciController, model: str) -> int | None:
        """An expander bus's busNr: given, else 2 below the lowest so far."""
        if controller.bus_nr is not None or model not in EXPANDER_MODELS:
            return controller.bus_nr
        self.lowest_bus_nr -= 2
        return self.lowest_bus_nr


def _default_port(model: str, slot: int | None, function: int) -> int | None:
    if slot is None:
        return None
    if model == "pcie-root-port":
        return slot * _FUNCTIONS_PER_SLOT + function
    return slot if model == "pcie-switch-downstream-port" else None


def pci_topology(domain: Domain) -> dict[int, PlacedController]:
    """Every PCI controller but the root, by index, placed as libvirt 12.8 places it."""
    declared = _declared(domain)
    pcie = domain.pci_root_bus == "pcie.0"
    added_model = added_bus_model(domain)
    highest = max(_named_buses(domain, declared), default=0)
    placer = _Placer(
        pcie,
        _slots_taken(domain, declared),
        min(
            (
                c.bus_nr
                for c in declared.values()
                if c.bus_nr is not None and c.model in EXPANDER_MODELS
            ),
            default=_FIRST_BUS_NR,
        ),
    )
    placed: dict[int, PlacedController] = {}
    for index in sorted({*(i for i in declared if i > 0), *range(1, highest + 1)}):
        controller = declared.get(index) or PciController(index, added_model)
        model = controller.model or added_model
        address = controller.address
        bus: int | None
        slot: int | None
        if address is not None:
            bus, slot, function = address.bus, address.slot, address.function
        else:
            bus, slot, function = placer.where(model)
        placed[index] = PlacedController(
            index=index,
            model=model,
            bus=bus if slot is not None else None,
            slot=slot,
            function=function,
            multifunction=controller.multifunction if address is not None else None,
            bus_nr=placer.bus_nr(controller, model),
            node=controller.node,
            chassis=controller.chassis if controller.chassis is not None else index,
            port=controller.port
            if controller.port is not None
            else _default_port(model, slot, function),
        )
        if placed[index].bus is None:
            continue
        if model == "pci-bridge":
            placer.bridges.append(index)
        elif model == "pcie-switch-upstream-port":
            placer.upstream.append(index)
        elif address is None and model == "pcie-root-port" and pcie:
            placer.group.append(index)
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


def device_addresses(domain: Domain) -> dict[str, PciAddress]:
    """Hostdev alias -> guest address, for each device QEMU gets whose place is modelled:
    today those whose address the document fixes (libvirt places the others on a root
    port of its own, not modelled yet; this is where that placement goes)."""
    return {
        hostdev.alias: hostdev.guest_address
        for hostdev in domain.hostdevs
        if hostdev.in_guest and hostdev.guest_address is not None
    }


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
