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
  slot, the slot taken when the first of each eight is placed; ``multifunction`` on the
  first when more than one share it;
* a root port's ``port`` is ``slot * 8 + function``, ``chassis`` its index; an expander
  bus without ``busNr`` takes 2 below the lowest one already given (254 first).

Controllers libvirt adds for its own default devices (q35's USB controller and balloon)
take higher indices: they never sit on an earlier controller's path, but may join the
last root-port slot (and so set ``multifunction``), which the reference does not model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gi_conform.model import Domain, PciAddress, PciController

__all__ = [
    "DEVICE_DRIVERS",
    "PlacedController",
    "bus_id",
    "controller_props",
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
_ROOT_PLACED = frozenset({"pcie-root-port", "pcie-expander-bus", "pci-expander-bus", "pci-bridge"})
"""Models whose placement without ``<address>`` was measured: on bus 0."""
_FUNCTIONS_PER_SLOT = 8
_FIRST_BUS_NR = 256


@dataclass(frozen=True)
class PlacedController:
    """A controller as QEMU gets it: declared, or added by libvirt (``declared`` False).

    ``bus``/``slot`` are None where the reference does not know libvirt's choice.
    """

    index: int
    model: str
    bus: int | None
    slot: int | None
    function: int = 0
    multifunction: bool = False
    bus_nr: int | None = None
    node: int | None = None
    chassis: int | None = None
    port: int | None = None
    declared: bool = True

    @property
    def driver(self) -> str | None:
        return DEVICE_DRIVERS.get(self.model)

    @property
    def is_expander(self) -> bool:
        return self.model in ("pcie-expander-bus", "pci-expander-bus")


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


def _take(taken: dict[int, set[int]], buses: list[int]) -> tuple[int | None, int | None]:
    """The first free slot on the first of ``buses`` that has one (slot 0 of a bridge is
    its own: it starts taken), now taken."""
    for bus in buses:
        used = taken.setdefault(bus, {0})
        slot = next((s for s in range(1, 0x20) if s not in used), None)
        if slot is not None:
            used.add(slot)
            return bus, slot
    return None, None


def pci_topology(domain: Domain) -> dict[int, PlacedController]:
    """Every PCI controller but the root, by index, placed as libvirt 12.8 places it."""
    declared = _declared(domain)
    pcie = domain.pci_root_bus == "pcie.0"
    added_model = "pcie-root-port" if pcie else "pci-bridge"
    highest = max(_named_buses(domain, declared), default=0)
    indices = sorted({*(i for i in declared if i > 0), *range(1, highest + 1)})
    taken = _slots_taken(domain, declared)
    bridges: list[int] = []  # where a pci-bridge goes once bus 0 is full (measured)
    group: list[PlacedController] = []
    lowest_bus_nr = min(
        (c.bus_nr for c in declared.values() if c.bus_nr is not None and _is_expander(c)),
        default=_FIRST_BUS_NR,
    )
    placed: dict[int, PlacedController] = {}
    for index in indices:
        controller = declared.get(index) or PciController(index, added_model)
        model = controller.model or added_model
        bus = slot = None
        function = 0
        if controller.address is not None:
            bus, slot, function = (
                controller.address.bus,
                controller.address.slot,
                controller.address.function,
            )
        elif model == "pcie-root-port" and pcie:
            if not group or len(group) == _FUNCTIONS_PER_SLOT:
                group = []
                bus, slot = _take(taken, [0])
            else:
                bus, slot = 0, group[0].slot
            function = len(group)
        elif model == "pci-bridge":
            bus, slot = _take(taken, [0, *bridges])
        elif model in _ROOT_PLACED:
            bus, slot = _take(taken, [0])
        bus_nr = controller.bus_nr
        if bus_nr is None and model in ("pcie-expander-bus", "pci-expander-bus"):
            bus_nr = lowest_bus_nr - 2
            lowest_bus_nr = bus_nr
        port = controller.port
        if port is None and model == "pcie-root-port" and slot is not None:
            port = slot * _FUNCTIONS_PER_SLOT + function
        placed[index] = PlacedController(
            index=index,
            model=model,
            bus=bus if slot is not None else None,
            slot=slot,
            function=function,
            bus_nr=bus_nr,
            node=controller.node,
            chassis=controller.chassis if controller.chassis is not None else index,
            port=port,
            declared=index in declared,
        )
        if model == "pci-bridge" and placed[index].bus is not None:
            bridges.append(index)
        if controller.address is None and model == "pcie-root-port" and pcie:
            group.append(placed[index])
            if len(group) == 2:
                head = group[0]
                placed[head.index] = _with_multifunction(head)
                group[0] = placed[head.index]
    return placed


def _is_expander(controller: PciController) -> bool:
    return controller.model in ("pcie-expander-bus", "pci-expander-bus")


def _with_multifunction(controller: PlacedController) -> PlacedController:
    return replace(controller, multifunction=True)


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


def _addr(slot: int, function: int) -> str:
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
        if controller.multifunction:
            props["multifunction"] = True
        props["addr"] = _addr(controller.slot, controller.function)
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
