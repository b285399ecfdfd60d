"""The placement tokens (``Domain.other_pci``): what the parser reads from each device
element libvirt places on PCI, and the formatter writes back (their placement rules are
in :mod:`gi_conform.pcitopology`, measured in ``tests/libvirt/test_placement_devices``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gi_conform import parse
from gi_conform.document.format import format_xml

_DOMAIN = (
    "<domain type='kvm'><name>t</name><memory unit='KiB'>1048576</memory>"
    "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>{}</devices></domain>"
)


def _tokens(devices: str) -> tuple[str, ...] | None:
    return parse(_DOMAIN.format(devices)).other_pci


@pytest.mark.parametrize(
    ("devices", "tokens"),
    [
        ("<sound model='ich9'/><sound model='usb'/>", ("sound:ich9",)),
        ("<sound model='ich7'/>", None),
        ("<vsock><cid auto='yes'/></vsock>", ("vsock:virtio",)),
        ("<vsock model='virtio-transitional'/>", ("vsock:virtio-transitional",)),
        ("<panic model='pvpanic'/><panic model='isa'/>", ("panic:pvpanic",)),
        ("<panic/>", ("panic:",)),
        ("<shmem name='s'/><crypto model='virtio'/>", ("shmem", "crypto")),
        ("<memory model='virtio-mem'/><memory model='dimm'/>", ("memory:virtio",)),
        ("<filesystem type='mount'><driver type='virtiofs'/></filesystem>", ("filesystem:virtio",)),
        ("<filesystem type='mount'><driver type='loop'/></filesystem>", None),
        ("<serial type='pty'><target type='pci-serial'/></serial>", ("serial:pci",)),
        ("<serial type='pty'><target type='system-serial'/></serial>", ()),
        (
            "<interface type='hostdev'><source><address type='pci' bus='0x50'/></source>"
            "</interface>",
            ("interface:hostdev",),
        ),
        ("<interface type='hostdev'><source><address type='usb'/></source></interface>", ()),
        ("<channel type='unix'><target type='virtio'/></channel>", ("channel:virtio",)),
        ("<console type='pty'><target type='virtio'/></console>", ("channel:virtio",)),
        ("<console type='pty'><target type='serial'/></console>", ()),
        (
            "<channel type='unix'><target type='virtio'/>"
            "<address type='virtio-serial' controller='1'/></channel>",
            None,
        ),
        ("<controller type='usb' index='1' model='ich9-ehci1'/>", ("usb:ich9-ehci1@1",)),
        ("<controller type='sata' index='2'/>", ("sata:2",)),
        ("<controller type='scsi' index='1' model='virtio-scsi'/>", ("scsi:virtio-scsi@1",)),
        ("<disk type='file'><target dev='sdg' bus='scsi'/></disk>", ("disk:scsi",)),
        ("<disk type='file'><target dev='sdaa' bus='scsi'/></disk>", ("disk:scsi@3",)),
        ("<disk type='file'><target dev='hda' bus='scsi'/></disk>", None),
        ("<controller type='virtio-serial' index='1'/>", ("virtio-serial:1",)),
        ("<video/><video/>", None),  # a second video: not modelled
        ("<video><model type='ramfb'/></video>", None),
        ("<iommu model='virtio'><address type='pci' bus='0' slot='3'/></iommu>", None),
        (
            "<tpm model='tpm-crb'/><redirdev bus='usb'/><smartcard mode='host'/>"
            "<audio id='1' type='none'/><hub type='usb'/>",
            (),
        ),
        # libvirt's order between kinds, whatever the document's
        (
            "<panic model='pvpanic'/><vsock/><memballoon model='virtio'/><sound model='ich9'/>"
            "<filesystem type='mount'/><interface type='user'/>",
            (
                "filesystem:virtio",
                "interface:",
                "sound:ich9",
                "memballoon:virtio",
                "vsock:virtio",
                "panic:pvpanic",
            ),
        ),
    ],
)
def test_each_device_gives_its_token(devices: str, tokens: tuple[str, ...] | None) -> None:
    assert _tokens(devices) == tokens


ALL = (
    "filesystem:virtio",
    "filesystem:virtio-transitional",
    "interface:virtio",
    "interface:hostdev",
    "interface:hostdev",
    "sound:ich9",
    "sound:ac97",
    "usb:ich9-ehci1@1",
    "usb:ich9-uhci1@1",
    "sata:",
    "sata:1",
    "scsi:virtio-scsi@2",
    "virtio-serial:1",
    "disk:virtio-transitional",
    "disk:scsi@4",
    "memballoon:virtio-transitional",
    "rng:virtio-transitional",
    "shmem",
    "shmem",
    "serial:pci",
    "vsock:virtio",
    "memory:virtio",
    "crypto",
    "panic:pvpanic",
    "channel:virtio",
    "channel:virtio",
)


def test_the_formatter_writes_what_parses_back_to_each_token() -> None:
    domain = parse(_DOMAIN.format(""))
    again = parse(format_xml(replace(domain, other_pci=ALL)))
    assert again.other_pci == ALL
    unmodelled = parse(format_xml(replace(domain, other_pci=None)))
    assert unmodelled.other_pci is None
