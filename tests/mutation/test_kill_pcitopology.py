"""Kills mutmut's surviving mutants of :mod:`gi_conform.pcitopology` (README "Mutation
testing", a sampled run): placements at the edges no corpus case reaches - a full bus 0,
i686, a primary video, a controller without a model, a second bridge behind the first."""

from __future__ import annotations

from gi_conform.model import Domain, Hostdev, HostdevKind, PciAddress, PciController
from gi_conform.pcitopology import PlacedController, controller_props, pci_topology, smmuv3_props

Q35 = {"name": "t", "machine": "q35"}
I440FX = {"name": "t", "machine": "pc"}


def _on_bus(bus: int) -> tuple[Hostdev, ...]:
    return (
        Hostdev(
            kind=HostdevKind.PCI,
            alias="hostdev0",
            alias_given=True,
            source=PciAddress(0, 6, 0x12, 1),
            guest_address=PciAddress(0, bus, 0, 0),
        ),
    )


def test_a_controller_without_model_is_not_declared_and_its_address_not_used() -> None:
    model_less = PciController(1, None, PciAddress(0, 0, 5, 0))
    domain = Domain(**Q35, hostdevs=_on_bus(1), pci_controllers=(model_less,))
    # the spare root port libvirt adds (issue 23) shares slot 1, so function 0 is multifunction
    assert pci_topology(domain)[1] == PlacedController(
        1, "pcie-root-port", bus=0, slot=1, chassis=1, port=8, multifunction=True
    )


def test_an_added_pci_bridge_has_no_port_and_a_chassis_nr() -> None:
    domain = Domain(**I440FX, hostdevs=_on_bus(1))
    bridge = pci_topology(domain)[1]
    assert bridge == PlacedController(1, "pci-bridge", bus=0, slot=2, chassis=1)
    assert controller_props(domain, bridge) == {
        "driver": "pci-bridge",
        "chassis_nr": 1,
        "id": "pci.1",
        "bus": "pci.0",
        "addr": "0x2",
    }


def test_a_primary_video_takes_slot_1_on_q35_and_2_on_i440fx() -> None:
    assert pci_topology(Domain(**Q35, video=True, hostdevs=_on_bus(1)))[1].slot == 2
    assert pci_topology(Domain(**I440FX, video=True, hostdevs=_on_bus(1)))[1].slot == 3


def test_piix3_takes_slot_1_on_i686_too() -> None:
    domain = Domain(**I440FX, arch="i686", hostdevs=_on_bus(1))
    assert pci_topology(domain)[1].slot == 2


def test_a_controller_explicit_address_takes_its_slot() -> None:
    port = PciController(1, "pcie-root-port", PciAddress(0, 0, 1, 0))
    domain = Domain(**Q35, hostdevs=_on_bus(2), pci_controllers=(port,))
    # a root port without an address joins the slot an explicit root port started (as
    # libvirt 12.8 does, issue 23): function 1, not function 0 taken by the explicit one
    placed = pci_topology(domain)[2]
    assert (placed.slot, placed.function) == (1, 1)


def test_no_place_on_a_full_bus_0_and_no_bus_in_the_props() -> None:
    domain = Domain(**Q35, root_slots_taken=tuple(range(1, 32)), hostdevs=_on_bus(1))
    port = pci_topology(domain)[1]
    assert (port.bus, port.slot, port.port) == (None, None, None)
    assert controller_props(domain, port) == {
        "driver": "pcie-root-port",
        "chassis": 1,
        "id": "pci.1",
    }


def test_a_bridge_goes_behind_an_earlier_bridge_once_bus_0_is_full() -> None:
    first = PciController(1, "pci-bridge", PciAddress(0, 0, 5, 0))
    domain = Domain(
        **I440FX,
        root_slots_taken=tuple(range(2, 32)),
        hostdevs=_on_bus(2),
        pci_controllers=(first,),
    )
    assert pci_topology(domain)[2] == PlacedController(2, "pci-bridge", bus=1, slot=1, chassis=2)


def test_an_smmuv3_on_the_root_bus_names_it() -> None:
    assert smmuv3_props(Domain(**Q35), 0, 0, (("accel", "on"),)) == {
        "driver": "arm-smmuv3",
        "primary-bus": "pcie.0",
        "id": "iommu0",
        "accel": True,
    }


def test_a_bus_without_a_slot_is_no_place() -> None:
    domain = Domain(**Q35)
    half_placed = PlacedController(1, "pcie-root-port", bus=0, slot=None, chassis=1)
    assert "bus" not in controller_props(domain, half_placed)
