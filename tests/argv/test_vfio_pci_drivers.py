"""``vfio-pci-nohotplug`` is a GI device wherever ``vfio-pci`` is one.

libvirt 12.8 writes a hostdev with ``ramfb='on'`` as QEMU's ``vfio-pci-nohotplug`` (the
same host device without hotplug; a QOM subtype of ``vfio-pci``, so an
``acpi-generic-initiator`` can name it). Every place that picks a GI device out of an
argv by its driver must take it: libvirt's reduced argv, the proof's device ids, the
QEMU stand-in rewrite, the goldens' feature lines and paths.
"""

from __future__ import annotations

import pytest

from gi_conform.argv.read import VFIO_PCI_DRIVERS
from gi_conform.groundtruth.runnable import runnable_argv
from gi_conform.libvirt.convert import reduce
from gi_conform.libvirt.proof import _device_ids
from tests.argv.test_libvirt_goldens import feature_lines, path_ids

_PORT = '{"driver":"pcie-root-port","port":8,"chassis":1,"id":"pci.1","bus":"pcie.0","addr":"0x1"}'
_GI = '{"qom-type":"acpi-generic-initiator","id":"gi0","pci-dev":"hostdev0","node":1}'


def _gpu(driver: str) -> str:
    return (
        f'{{"driver":"{driver}","host":"0000:06:12.5","id":"hostdev0","display":"on",'
        '"ramfb":true,"bus":"pci.1","addr":"0x0"}'
    )


DRIVERS = sorted(VFIO_PCI_DRIVERS)


def test_both_drivers_are_known() -> None:
    assert {"vfio-pci", "vfio-pci-nohotplug"} == VFIO_PCI_DRIVERS


@pytest.mark.parametrize("driver", DRIVERS)
def test_libvirt_s_reduced_argv_keeps_the_device(driver: str) -> None:
    full = ["/usr/bin/qemu-system-x86_64", "-device", _PORT, "-device", _gpu(driver)]
    full += ["-object", _GI]
    assert "-device" in reduce(full)
    assert _gpu(driver) in reduce(full)


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_proof_finds_the_device_by_its_host(driver: str) -> None:
    by_host, ordered = _device_ids(["qemu", "-device", _gpu(driver)])
    assert by_host == {"0000:06:12.5": "hostdev0"}
    assert ordered == ["hostdev0"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_stand_in_replaces_the_device_in_place(driver: str) -> None:
    argv = runnable_argv(
        ["-device", _PORT, "-device", _gpu(driver), "-object", _GI],
        memory_bytes=1 << 29,
        vcpus=1,
    )
    devices = [argv[i + 1] for i, token in enumerate(argv[:-1]) if token == "-device"]
    assert not any("vfio" in device for device in devices)
    assert '{"driver":"edu","id":"hostdev0","bus":"pci.1","addr":"0x0"}' in devices


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_goldens_compare_the_device_and_its_path(driver: str) -> None:
    argv = ["qemu", "-device", _PORT, "-device", _gpu(driver)]
    assert feature_lines(argv, "vfio-pci") == [f"-device {_gpu(driver)}"]
    assert path_ids(argv) == {"pci.1"}
