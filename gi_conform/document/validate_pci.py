"""The rules of the guest PCI topology: controllers, expander buses and their IOMMUs.

Each is a refusal of real libvirt 12.8 (``virsh domxml-to-native``), measured on the
documents of ``cases/pci-*``; the messages quote libvirt's where it has one.
"""

from __future__ import annotations

from collections.abc import Iterator

from gi_conform.model import Domain, PciAddress, PciController
from gi_conform.pcitopology import DEVICE_DRIVERS, accepted_connections, pci_topology
from gi_conform.rules import Violation, violation
from gi_conform.semantics import bus_model

__all__ = ["pci_rules"]

_EXPANDERS = {"pcie-expander-bus": "pcie.0", "pci-expander-bus": "pci.0"}
"""Each expander bus model and the root bus its machine must have."""
_BUSNR_RANGE = range(1, 255)
_ROOTS = frozenset({"pci-root", "pcie-root"})
_ENDPOINTS = frozenset({"pci", "pcie"})
_MODELS = _ROOTS | frozenset(DEVICE_DRIVERS)
"""Every PCI controller model libvirt 12.8 knows (virDomainControllerModelPCI)."""


def _root_model(domain: Domain) -> str:
    """The model of the machine's bus 0: pcie-root on q35/virt, pci-root on i440fx."""
    return "pcie-root" if domain.pci_root_bus == "pcie.0" else "pci-root"


def _label(controller: PciController) -> str:
    model = "" if controller.model is None else f" model='{controller.model}'"
    return f"<controller type='pci' index='{controller.index}'{model}>"


def _model_missing(domain: Domain, controller: PciController) -> Violation:
    """libvirt 12.8 gives a PCI controller no default model (measured on q35, i440fx and
    virt): index 0 must name the machine's root (its post-parse check), any other index
    has none when the buses are built (virDomainPCIAddressBusSetModel)."""
    if controller.index == 0:
        root = _root_model(domain)
        detail = (
            f"The PCI controller with index='0' must be model='{root}' for this machine "
            "type, but model='(null)' was found instead"
        )
    else:
        detail = "PCI controller model was not set correctly"
    return violation(
        "PCI-CONTROLLER-MODEL-MISSING", controller.line, _label(controller), detail=detail
    )


def pci_rules(domain: Domain) -> Iterator[Violation]:
    """Every PCI-topology rule the domain breaks, controllers in document order first."""
    first_line: dict[int, int] = {}
    for controller in domain.pci_controllers:
        if controller.index is None:
            continue
        if controller.index in first_line:
            yield violation(
                "PCI-CONTROLLER-INDEX-DUPLICATE",
                controller.line,
                _label(controller),
                index=controller.index,
                first=first_line[controller.index],
            )
            continue
        first_line[controller.index] = controller.line
        if controller.model is None:
            yield _model_missing(domain, controller)
        elif controller.model not in _MODELS:
            yield violation(
                "PCI-CONTROLLER-MODEL-UNKNOWN",
                controller.line,
                _label(controller),
                model=controller.model,
            )
            continue
        else:
            yield from _root_rules(domain, controller)
        yield from _expander_rules(domain, controller)
    yield from _plug_rules(domain)
    yield from _iommu_rules(domain)


def _root_rules(domain: Domain, controller: PciController) -> Iterator[Violation]:
    """libvirt 12.8 (measured on q35, i440fx and virt): index 0 is the machine's root and
    must name its model (qemuDomainDefAddDefaultDevices); the roots take index 0 only."""
    root = _root_model(domain)
    if controller.index == 0 and controller.model != root:
        detail = (
            f"The PCI controller with index='0' must be model='{root}' for this machine "
            f"type, but model='{controller.model}' was found instead"
        )
    elif controller.index != 0 and controller.model in _ROOTS:
        detail = "pci-root and pcie-root controllers should have index 0"
    else:
        return
    yield violation("PCI-CONTROLLER-ROOT-MODEL", controller.line, _label(controller), detail=detail)


def _expander_rules(domain: Domain, controller: PciController) -> Iterator[Violation]:
    model = controller.model
    if model not in _EXPANDERS:
        return
    if domain.pci_root_bus != _EXPANDERS[model]:
        detail = (
            "not supported with this machine type"
            if model == "pcie-expander-bus"
            else "only supported on 440fx-based machinetypes"
        )
        yield violation(
            "PCI-EXPANDER-MACHINE", controller.line, _label(controller), model=model, detail=detail
        )
    if controller.bus_nr is not None and controller.bus_nr not in _BUSNR_RANGE:
        yield violation(
            "PCI-EXPANDER-BUSNR-RANGE",
            controller.line,
            _label(controller),
            bus_nr=controller.bus_nr,
        )
    cells = {cell.id for cell in domain.cells if cell.id is not None}
    if controller.node is not None and controller.node not in cells:
        yield violation(
            "PCI-EXPANDER-NODE-UNKNOWN",
            controller.line,
            _label(controller),
            model=model,
            index=controller.index,
            node=controller.node,
            cells=len(domain.cells),
        )


def _plug_rules(domain: Domain) -> Iterator[Violation]:
    """A device or controller at an explicit guest address whose bus does not accept it
    (libvirt 12.8's virDomainPCIAddressFlagsCompatible, measured): on a PCIe machine an
    expander bus takes root ports only; every controller goes where its kind plugs in."""
    endpoint = "PCI Express device" if domain.pci_root_bus == "pcie.0" else "standard PCI device"
    for hostdev in domain.hostdevs:
        address = hostdev.guest_address
        if address is None or not hostdev.in_guest or address.bus == 0:
            continue
        parent = bus_model(domain, address.bus)
        if parent in _EXPANDERS and domain.pci_root_bus != _EXPANDERS[parent]:
            continue  # PCI-EXPANDER-MACHINE: libvirt refuses the machine first
        accepts = accepted_connections(parent) if parent is not None else None
        if accepts is not None and not accepts & _ENDPOINTS:
            yield _plug(hostdev.line, f"hostdev '{hostdev.alias}'", address, parent, endpoint)
    for controller in domain.pci_controllers:
        address = controller.address
        model = controller.model
        if address is None or model is None or model in _ROOTS:
            continue
        if model in _EXPANDERS and domain.pci_root_bus != _EXPANDERS[model]:
            continue  # PCI-EXPANDER-MACHINE: libvirt refuses the machine first
        parent = _root_model(domain) if address.bus == 0 else bus_model(domain, address.bus)
        accepts = accepted_connections(parent) if parent is not None else None
        if accepts is None or accepted_connections(model) is None:
            continue  # a bus or a controller libvirt does not know: refused elsewhere
        if model == "pci-bridge":
            # placed by hand it goes wherever a PCI device may (libvirt adds the flag)
            if not accepts & {model, *_ENDPOINTS}:
                yield _plug(
                    controller.line, _label(controller), address, parent, "standard PCI device"
                )
        elif model not in accepts:
            yield _plug(controller.line, _label(controller), address, parent, model)


def _plug(
    line: int, element: str, address: PciAddress, parent: str | None, connect: str
) -> Violation:
    return violation(
        "PCI-BUS-PLUG",
        line,
        element,
        address=address.host_text(),
        bus=address.bus,
        model=parent,
        connect=connect,
    )


def _iommu_rules(domain: Domain) -> Iterator[Violation]:
    known: set[int] | None = None  # the topology, derived only when an smmuv3 names a bus
    for iommu in domain.iommus:
        if iommu.model != "smmuv3":
            continue
        label = "<iommu model='smmuv3'>"
        if iommu.pci_bus is not None and known is None:
            known = {0, *pci_topology(domain)}
        if iommu.pci_bus is not None and known is not None and iommu.pci_bus not in known:
            yield violation("IOMMU-PCIBUS-UNKNOWN", iommu.line, label, bus=iommu.pci_bus)
        options = dict(iommu.options)
        others = [name for name in options if name != "accel"]
        if others and options.get("accel") != "on":
            yield violation("IOMMU-SMMUV3-ACCEL", iommu.line, label, options=", ".join(others))
