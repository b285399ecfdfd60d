"""The devices libvirt places that the reference models since issue 23's follow-up: sound
cards, NICs that are hostdevs, shared memory, vsock, pvpanic, a virtio IOMMU, crypto,
filesystems, virtio memory, PCI serials, AHCI controllers, transitional virtio models.

Each document holds one such device with and without GPUs to place, on q35, pc and
aarch64 virt; real libvirt 12.8 defines it and ``dumpxml`` gives every hostdev's address
every controller and every other device's address (:mod:`gi_conform.libvirt.addresses`),
which must be what :mod:`gi_conform.pcitopology` predicts, as in
``test_placement_witness``.
"""

from __future__ import annotations

import pytest

from gi_conform import parse
from gi_conform.libvirt.addresses import assigned_addresses
from gi_conform.libvirt.install import Libvirt
from tests.libvirt.test_placement_witness import _comparable, _predicted, others_agree

pytestmark = pytest.mark.libvirt

_GPU = (
    "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
    "<address domain='0' bus='{bus:#04x}' slot='0' function='0'/></source>{acpi}</hostdev>"
)
_QGA = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>"


def _disk(name: str, bus: str) -> str:
    return (
        f"<disk type='file' device='disk'><source file='/tmp/{name}.img'/>"
        f"<target dev='{name}' bus='{bus}'/></disk>"
    )


_ICH9_USB = "".join(
    f"<controller type='usb' index='{{index}}' model='{model}'/>"
    for model in ("ich9-ehci1", "ich9-uhci1", "ich9-uhci2", "ich9-uhci3")
)
_NIC_HOSTDEV = (
    "<interface type='hostdev' managed='yes'><source><address type='pci' domain='0'"
    " bus='0x50' slot='0' function='0'/></source></interface>"
)
DEVICES = {
    "sound-ich9": "<sound model='ich9'/>",
    "sound-ich9-twice": "<sound model='ich9'/><sound model='ich9'/>",
    "sound-ich6-ac97": "<sound model='ich6'/><sound model='ac97'/>",
    "sound-no-slot": "<sound model='usb'/><sound model='pcspk'/>",
    "nic-hostdev": _NIC_HOSTDEV,
    "nic-models": "<interface type='user'><model type='igb'/></interface>"
    "<interface type='user'><model type='vmxnet3'/></interface>"
    "<interface type='user'><model type='virtio-transitional'/></interface>",
    "shmem": "<shmem name='s'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>",
    "vsock": "<vsock model='virtio'><cid auto='yes'/></vsock>",
    "vsock-transitional": "<vsock model='virtio-transitional'><cid auto='yes'/></vsock>",
    "pvpanic": "<panic model='pvpanic'/>",
    "panic-default": "<panic/>",
    "iommu-virtio": "<iommu model='virtio'/>",
    "crypto": "<crypto model='virtio' type='qemu'><backend model='builtin' queues='1'/></crypto>",
    "filesystem-9p": "<filesystem type='mount' accessmode='passthrough'><source dir='/srv'/>"
    "<target dir='share'/></filesystem>",
    "virtio-mem": "<memory model='virtio-mem'><target><size unit='KiB'>1048576</size>"
    "<node>0</node><block unit='KiB'>2048</block><requested unit='KiB'>0</requested>"
    "</target></memory>",
    "serial-pci": "<serial type='pty'><target type='pci-serial'/></serial>",
    "sata-disk": "<disk type='file' device='disk'><source file='/tmp/a.img'/>"
    "<target dev='sda' bus='sata'/></disk>",
    "sata-controllers": "<controller type='sata' index='0'/><controller type='sata' index='1'/>",
    "controllers-grouped": "<controller type='scsi' index='0' model='virtio-scsi'/>"
    "<controller type='usb' index='0' model='qemu-xhci'/>"
    "<controller type='scsi' index='1' model='virtio-scsi'/>",
    "balloon-transitional": "<memballoon model='virtio-transitional'/>",
    "rng-disk-transitional": "<disk type='file' device='disk' model='virtio-transitional'>"
    "<source file='/tmp/a.img'/><target dev='vda' bus='virtio'/></disk>"
    "<rng model='virtio-transitional'><backend model='random'>/dev/urandom</backend></rng>",
    "after-the-hostdevs": "<crypto model='virtio' type='qemu'><backend model='builtin'"
    " queues='1'/></crypto><panic model='pvpanic'/><vsock model='virtio'><cid auto='yes'/>"
    "</vsock><serial type='pty'><target type='pci-serial'/></serial>"
    "<shmem name='s'><model type='ivshmem-plain'/><size unit='M'>4</size></shmem>"
    "<memory model='virtio-mem'><target><size unit='KiB'>1048576</size><node>0</node>"
    "<block unit='KiB'>2048</block><requested unit='KiB'>0</requested></target></memory>",
    "integrated-pair": "<panic model='pvpanic'/><iommu model='virtio'/>",
    "iommu-amd": "<panic model='pvpanic'/><iommu model='amd'/>",
    "channel": _QGA + "</channel>",
    "console-virtio": "<console type='pty'><target type='virtio'/></console>",
    "channel-sata-disk": _QGA
    + "</channel><disk type='file' device='disk'><source file='/tmp/a.img'/>"
    "<target dev='sda' bus='sata'/></disk>",
    "channel-usb": "<controller type='usb' index='0' model='qemu-xhci'/>" + _QGA + "</channel>",
    "channel-virtio-serial-1": "<controller type='virtio-serial' index='1'/>" + _QGA + "</channel>",
    "channel-addressed": _QGA
    + "<address type='virtio-serial' controller='0' bus='0' port='1'/></channel>",
    "virt-install-like": "<sound model='ich9'/><vsock model='virtio'><cid auto='yes'/></vsock>"
    "<panic model='pvpanic'/><interface type='user'><model type='virtio'/></interface>"
    + _QGA
    + "</channel><console type='pty'><target type='serial'/></console>"
    + _NIC_HOSTDEV,
    "usb-ich9-set": _ICH9_USB.format(index=0),
    "usb-ich9-sets": _ICH9_USB.format(index=0) + _ICH9_USB.format(index=1),
    "usb-ich9-ehci-first": "<controller type='usb' index='0' model='ich9-uhci1'/>"
    "<controller type='usb' index='0' model='ich9-ehci1'/>",
    "usb-ehci": "<controller type='usb' index='0' model='ehci'/>",
    "scsi-disk": _disk("sda", "scsi"),
    "scsi-disks-two-controllers": _disk("sdb", "scsi") + _disk("sdh", "scsi"),
    "scsi-disk-declared-controller": "<controller type='scsi' index='0' model='virtio-scsi'/>"
    + _disk("sda", "scsi"),
    "scsi-sata-disks-channel": _disk("sda", "scsi") + _disk("sdb", "sata") + _QGA + "</channel>",
    # libvirt's q35-virt-manager-basic without its addresses (spice and qxl aside)
    "virt-manager-basic": "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='/var/lib/libvirt/images/basic.qcow2'/><target dev='vda' bus='virtio'/>"
    "</disk><controller type='usb' index='0' model='nec-xhci'/>"
    "<interface type='user'><model type='virtio'/></interface>"
    "<serial type='pty'><target type='isa-serial' port='0'/></serial>"
    "<console type='pty'><target type='serial' port='0'/></console>" + _QGA + "</channel>"
    "<input type='tablet' bus='usb'/><input type='mouse' bus='ps2'/>"
    "<input type='keyboard' bus='ps2'/><sound model='ich9'/><audio id='1' type='none'/>"
    "<video><model type='virtio'/></video><watchdog model='itco' action='reset'/>"
    "<memballoon model='virtio'/>",
}

_RNG_AT = (
    "<rng model='virtio'><backend model='random'>/dev/urandom</backend>"
    "<address type='pci' domain='0' bus='0' slot='{slot:#04x}' function='0'/></rng>"
)
DEVICES["bus0-nearly-full"] = "".join(_RNG_AT.format(slot=slot) for slot in range(3, 0x1F))
DEVICES["bus0-one-slot"] = "".join(_RNG_AT.format(slot=slot) for slot in range(2, 0x1F))
DEVICES["scsi-disk-and-hostdev"] = _disk("sda", "scsi") + (
    "<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/>"
    "<address bus='0' target='0' unit='0'/></source></hostdev>"
)
DEVICES["usb-ich9-1d-taken"] = _RNG_AT.format(slot=0x1D) + _ICH9_USB.format(index=0)
DEVICES["usb-ich9-1d-1a-taken"] = (
    _RNG_AT.format(slot=0x1D) + _RNG_AT.format(slot=0x1A) + _ICH9_USB.format(index=0)
)
"""One device kind each (a few together, as virt-install writes them), and a bus 0 that
explicit addresses nearly fill."""
MACHINES = ("q35", "pc", "virt")


def document(devices: str, machine: str, gpus: int) -> str:
    """A NUMA guest with ``devices`` and ``gpus`` GPUs without guest address (the first
    a generic initiator of node 1)."""
    arch = "aarch64" if machine == "virt" else "x86_64"
    loader = (
        "<loader readonly='yes' type='pflash'>/usr/share/AAVMF/AAVMF_CODE.fd</loader>"
        if machine == "virt"
        else ""
    )
    hostdevs = "".join(
        _GPU.format(bus=0x41 + n, acpi="<acpi nodeset='1'/>" if n == 0 else "") for n in range(gpus)
    )
    return (
        "<domain type='kvm'><name>placement-devices</name>"
        "<uuid>6b1f3a52-6d0e-4c53-9a55-0d3c2e8f4a10</uuid>"
        "<maxMemory slots='4' unit='KiB'>16777216</maxMemory>"
        "<memory unit='KiB'>2097152</memory><vcpu placement='static'>2</vcpu>"
        f"<os><type arch='{arch}' machine='{machine}'>hvm</type>{loader}</os>"
        "<features><acpi/></features><cpu><numa>"
        "<cell id='0' cpus='0-1' memory='2097152' unit='KiB'/>"
        "<cell id='1' memory='0' unit='KiB'/></numa></cpu>"
        f"<devices>{devices}{hostdevs}</devices></domain>"
    )


def test_each_device_is_modelled() -> None:
    """No document here leaves placement unmodelled (the witness below would be empty)."""
    for name, devices in DEVICES.items():
        for machine in MACHINES:
            assert parse(document(devices, machine, 1)).other_pci is not None, (name, machine)


def test_the_reference_places_devices_as_libvirt_does(real_libvirt: Libvirt) -> None:
    mismatches: list[str] = []
    compared = refused = 0
    for name, devices in DEVICES.items():
        for machine in MACHINES:
            for gpus in (0, 2):
                text = document(devices, machine, gpus)
                dumped = assigned_addresses(text.encode(), libvirt=real_libvirt)
                if dumped is None:
                    refused += 1  # e.g. a virtio IOMMU on pc, ISA panic on virt
                    continue
                compared += 1
                domain = parse(text)
                predicted = _predicted(domain)
                wanted = {i: _comparable(c) for i, c in dumped.controllers.items()}
                if (
                    predicted.hostdevs != dumped.hostdevs
                    or predicted.controllers != wanted
                    or not others_agree(domain, predicted, dumped)
                ):
                    mismatches.append(f"{name} {machine} gpus={gpus}: {predicted} != {dumped}")
    print(f"placement devices: {compared} compared, {refused} refused by libvirt")
    assert compared >= 250, compared  # 256 measured on 2026-12-07
    assert not mismatches, "\n".join(mismatches)
