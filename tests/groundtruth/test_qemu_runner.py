"""The argv wrapper (pure) and the real-QEMU runner (``@pytest.mark.qemu``).

The QEMU tests confirm the facts the reference formatter relies on against the binary
itself: the SRAT a guest sees for libvirt's own example, bus numbers behind root ports,
and the messages QEMU refuses bad initiators with.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from gi_conform.groundtruth import qemu
from gi_conform.groundtruth.acpi import GenericInitiatorAffinity, LapicAffinity, MemoryAffinity
from gi_conform.groundtruth.qemu import (
    QemuBinary,
    QemuRefused,
    QemuTimeout,
    QemuUnavailable,
    find_qemu,
    read_tables,
    run_argv_check,
)
from gi_conform.groundtruth.runnable import runnable_argv

MIB = 1 << 20
RAM = 512 * MIB  # libvirt's example has 8 GiB in cell 0; the size does not matter here


def ram(size: int = RAM) -> list[str]:
    backend = {"qom-type": "memory-backend-ram", "id": "ram-node0", "size": size}
    return ["-object", json.dumps(backend)]


def vfio(dev_id: str, bus: str | None = "pcie.0", addr: str | None = "0x2") -> list[str]:
    props: dict[str, str] = {"driver": "vfio-pci", "host": "0000:06:12.1", "id": dev_id}
    if bus is not None:
        props["bus"] = bus
    if addr is not None:
        props["addr"] = addr
    return ["-device", json.dumps(props)]


def gi(gi_id: str, dev_id: str, node: int) -> list[str]:
    obj = {"qom-type": "acpi-generic-initiator", "id": gi_id, "pci-dev": dev_id, "node": node}
    return ["-object", json.dumps(obj)]


def cells(cpus: str, memoryless: int) -> list[str]:
    argv = ["-numa", f"node,nodeid=0,cpus={cpus},memdev=ram-node0"]
    for node in range(1, memoryless + 1):
        argv += ["-numa", f"node,nodeid={node}"]
    return argv


def libvirt_example() -> list[str]:
    """libvirt 11.8's documented example: 16 vCPUs in cell 0, cells 1-8 memoryless,
    one GPU on pcie.0 slot 2 made an initiator for each of nodes 1..8."""
    argv = ram() + cells("0-15", 8) + vfio("hostdev0")
    for node in range(1, 9):
        argv += gi(f"gi{node - 1}", "hostdev0", node)
    return argv


def devices(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == "-device"]


# ------------------------------------------------------------ runnable_argv, pure


def test_wrapper_fixed_options() -> None:
    argv = runnable_argv([], memory_bytes=RAM + 8192, vcpus=3)
    assert argv[:11] == [
        "qemu-system-x86_64",
        "-machine",
        "q35",
        "-accel",
        "tcg",
        "-nodefaults",
        "-display",
        "none",
        "-m",
        f"{RAM + 8192}b",
        "-smp",
    ]
    assert argv[11] == "3"


def test_machine_properties_folded_into_the_wrappers_machine() -> None:
    """``-machine hmat=on`` from the profile joins the wrapper's ``-machine q35``;
    a ``-machine`` naming a type stays as it is (QEMU would then take that type)."""
    argv = runnable_argv(["-machine", "hmat=on", *ram()], memory_bytes=RAM, vcpus=1)
    assert argv[1:3] == ["-machine", "q35,hmat=on"]
    assert argv.count("-machine") == 1
    assert argv[-2:] == ram()
    typed = runnable_argv(["-machine", "pc,hmat=on"], memory_bytes=RAM, vcpus=1, machine="pc")
    assert typed[1:3] == ["-machine", "pc"]
    assert typed[-2:] == ["-machine", "pc,hmat=on"]


def test_vfio_replaced_keeping_id_bus_addr() -> None:
    argv = runnable_argv(vfio("hostdev0") + gi("gi0", "hostdev0", 1), memory_bytes=RAM, vcpus=1)
    assert [json.loads(d) for d in devices(argv)] == [
        {"driver": "edu", "id": "hostdev0", "bus": "pcie.0", "addr": "0x2"}
    ]
    assert argv[-2:] == gi("gi0", "hostdev0", 1)


def test_iommufd_device_without_host_and_its_object_dropped() -> None:
    # libvirt 12.8's iommufd shape: no host, and a shared object this host cannot open
    obj = ["-object", '{"qom-type":"iommufd","id":"iommufd0"}']
    device = {"driver": "vfio-pci", "id": "hostdev0", "iommufd": "iommufd0"}
    device |= {"bus": "pcie.0", "addr": "0x2"}
    profile = [*obj, "-device", json.dumps(device), *gi("gi0", "hostdev0", 1)]
    argv = runnable_argv(profile, memory_bytes=RAM, vcpus=1)
    assert [json.loads(d) for d in devices(argv)] == [
        {"driver": "edu", "id": "hostdev0", "bus": "pcie.0", "addr": "0x2"}
    ]
    assert not any("iommufd" in arg for arg in argv)
    assert argv[-2:] == gi("gi0", "hostdev0", 1)


def test_mdev_device_without_bus_or_addr() -> None:
    mdev = {"driver": "vfio-pci", "sysfsdev": "/sys/bus/mdev/devices/c2177883", "id": "hostdev1"}
    argv = runnable_argv(["-device", json.dumps(mdev)], memory_bytes=RAM, vcpus=1)
    # a device without addr is given the first free root slot (never a slot the argv
    # populates, even partly): here slot 1
    assert [json.loads(d) for d in devices(argv)] == [
        {"driver": "edu", "id": "hostdev1", "bus": "pcie.0", "addr": "0x1"}
    ]


def test_unplaced_device_avoids_a_slot_with_only_higher_functions() -> None:
    """QEMU's own choice would be 1.0 and refuse it: '1.0 indicates single function'."""
    placed = {"driver": "vfio-pci", "host": "0000:06:12.1", "id": "a", "bus": "pcie.0"}
    placed["addr"] = "0x1.0x1"
    loose = {"driver": "vfio-pci", "host": "0000:06:12.2", "id": "b"}
    argv = runnable_argv(
        ["-device", json.dumps(loose), "-device", json.dumps(placed)], memory_bytes=RAM, vcpus=1
    )
    by_id = {json.loads(d)["id"]: json.loads(d) for d in devices(argv)}
    assert by_id["b"]["addr"] != "0x1"
    assert by_id["a"]["addr"] == "0x1.0x1"


def test_keyval_device_stays_keyval() -> None:
    argv = runnable_argv(
        ["-device", "vfio-pci,host=0000:06:12.1,id=hostdev0,bus=pci.2,addr=0x0,multifunction=on"],
        memory_bytes=RAM,
        vcpus=1,
    )
    assert devices(argv)[-1] == "edu,id=hostdev0,bus=pci.2,addr=0x0,multifunction=on"


def test_non_vfio_devices_untouched() -> None:
    value = '{"driver":"virtio-net-pci","id":"net0"}'
    argv = runnable_argv(["-device", value], memory_bytes=RAM, vcpus=1)
    assert devices(argv) == [value]


def test_root_ports_packed_multifunction_skipping_used_slots() -> None:
    profile = vfio("hostdev0", "pcie.0", "0x1")
    for n in (9, 1, 2, 3, 4, 5, 6, 7, 8):
        profile += vfio(f"hostdev{n}", f"pci.{n}", "0x0")
    ports = [json.loads(d) for d in devices(runnable_argv(profile, memory_bytes=RAM, vcpus=1))]
    ports = [p for p in ports if p["driver"] == "pcie-root-port"]
    assert [(p["id"], p["addr"], p.get("multifunction", False)) for p in ports] == [
        ("pci.1", "0x2.0x0", True),
        *[(f"pci.{n}", f"0x2.{n - 1:#x}", False) for n in range(2, 9)],
        ("pci.9", "0x3.0x0", True),
    ]
    assert all(p["bus"] == "pcie.0" for p in ports)
    assert len({p["chassis"] for p in ports}) == len(ports)


def test_root_ports_come_before_profile_devices() -> None:
    argv = runnable_argv(vfio("hostdev0", "pci.3", "0x0"), memory_bytes=RAM, vcpus=1)
    assert [json.loads(d)["driver"] for d in devices(argv)] == ["pcie-root-port", "edu"]


def test_bus_defined_by_argv_gets_no_extra_port() -> None:
    port = '{"driver":"pcie-root-port","id":"pci.1","bus":"pcie.0","addr":"0x5","chassis":1}'
    argv = runnable_argv(["-device", port, *vfio("h", "pci.1", "0x0")], memory_bytes=RAM, vcpus=1)
    assert len(devices(argv)) == 2


def test_too_many_buses() -> None:
    profile: list[str] = []
    for n in range(1, 30 * 8 + 2):
        profile += vfio(f"h{n}", f"pci.{n}", "0x0")
    with pytest.raises(ValueError, match="do not fit"):
        runnable_argv(profile, memory_bytes=RAM, vcpus=1)


def test_bad_addr_and_sizes() -> None:
    with pytest.raises(ValueError, match="not SLOT"):
        runnable_argv(vfio("h", "pcie.0", "zz"), memory_bytes=RAM, vcpus=1)
    with pytest.raises(ValueError, match="memory_bytes"):
        runnable_argv([], memory_bytes=0, vcpus=1)
    with pytest.raises(ValueError, match="vcpus"):
        runnable_argv([], memory_bytes=RAM, vcpus=0)


def test_find_qemu_missing_says_how_to_install() -> None:
    with pytest.raises(QemuUnavailable, match=r"apt-get install .*qemu-system-x86"):
        find_qemu("gi-conform-no-such-qemu")


# ------------------------------------------------------------------ real QEMU


def run(profile: list[str], *, vcpus: int = 16, memory: int = RAM) -> qemu.TableReadback:
    return read_tables(runnable_argv(profile, memory_bytes=memory, vcpus=vcpus))


@pytest.mark.qemu
def test_version(qemu_binary: QemuBinary) -> None:
    assert qemu_binary.version[:2] >= qemu.MIN_VERSION


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_libvirt_example_srat() -> None:
    readback = run(libvirt_example())
    initiators = readback.generic_initiators
    assert sorted(e.proximity_domain for e in initiators) == list(range(1, 9))
    for entry in initiators:
        assert (entry.handle_type, entry.pci_segment, entry.pci_bus, entry.pci_devfn) == (
            1,
            0,
            0,
            0x10,
        )
    assert readback.pci["hostdev0"] == qemu.PciPlacement(bus=0, slot=2, function=0)
    enabled = [e for e in readback.entries if not isinstance(e, GenericInitiatorAffinity)]
    enabled = [e for e in enabled if getattr(e, "enabled", True)]
    lapics = [e for e in enabled if isinstance(e, LapicAffinity)]
    assert sorted(e.apic_id for e in lapics) == list(range(16))
    assert {e.proximity_domain for e in lapics} == {0}
    memory = [e for e in enabled if isinstance(e, MemoryAffinity)]
    assert {e.proximity_domain for e in memory} == {0}  # cells 1-8 are memoryless
    assert sum(e.length for e in memory) + 0x60000 == RAM  # minus the 640K-1M hole
    assert readback.slit is None  # no distances given


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_device_behind_root_port_bus_number_agrees() -> None:
    profile = ram() + cells("0-1", 1) + vfio("hostdev0", "pci.3", "0x0")
    profile += ["-object", "acpi-generic-initiator,id=gi1,pci-dev=hostdev0,node=1"]
    readback = run(profile, vcpus=2)
    (entry,) = readback.generic_initiators
    placement = readback.pci["hostdev0"]
    assert placement.bus != 0
    assert (entry.pci_bus, entry.pci_devfn) == (placement.bus, placement.devfn) == (1, 0)


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_sixteen_devices_on_sixteen_root_ports() -> None:
    profile = ram() + cells("0-1", 1)
    for n in range(1, 17):
        profile += vfio(f"hostdev{n}", f"pci.{n}", "0x0") + gi(f"gi{n}", f"hostdev{n}", 1)
    readback = run(profile, vcpus=2)
    seen = {(e.pci_bus, e.pci_devfn) for e in readback.generic_initiators}
    expected = {(readback.pci[f"hostdev{n}"].bus, 0) for n in range(1, 17)}
    assert seen == expected
    # ports in ascending slot/function order get bus numbers 1..16 in pci.N order
    assert [readback.pci[f"hostdev{n}"].bus for n in range(1, 17)] == list(range(1, 17))


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_mdev_without_address_is_auto_placed() -> None:
    mdev = {"driver": "vfio-pci", "sysfsdev": "/sys/bus/mdev/devices/c2177883", "id": "mdev0"}
    profile = ram() + cells("0-1", 1) + ["-device", json.dumps(mdev)]
    profile += ["-object", "acpi-generic-initiator,id=gi0,pci-dev=mdev0,node=1"]
    readback = run(profile, vcpus=2)
    (entry,) = readback.generic_initiators
    placement = readback.pci["mdev0"]
    assert (entry.pci_bus, entry.pci_devfn) == (placement.bus, placement.devfn)


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_refuses_node_without_cell() -> None:
    profile = ram() + cells("0-15", 8) + vfio("hostdev0") + gi("gi8", "hostdev0", 9)
    argv = runnable_argv(profile, memory_bytes=RAM, vcpus=16)
    status, stderr = run_argv_check(argv)
    assert status == 1
    assert "acpi-generic-initiator: Specified node 9 is invalid." in stderr
    with pytest.raises(QemuRefused) as caught:
        read_tables(argv)
    assert caught.value.exit_status == 1
    assert "Specified node 9 is invalid." in caught.value.stderr


KEYVAL_GI0 = ["-object", "acpi-generic-initiator,id=gi0,pci-dev=hostdev0,node=1"]
QOM_DUPLICATE = "attempt to add duplicate property 'gi0' to object (type 'container')"


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        # Only two key=value objects are caught by QemuOpts with this message; as soon as
        # one is JSON (the formatter's form) QOM reports the clash in /objects instead.
        (KEYVAL_GI0, KEYVAL_GI0, "Duplicate ID 'gi0' for object"),
        (gi("gi0", "hostdev0", 1), gi("gi0", "hostdev0", 1), QOM_DUPLICATE),
        (gi("gi0", "hostdev0", 1), KEYVAL_GI0, QOM_DUPLICATE),
    ],
    ids=["keyval", "json", "mixed"],
)
def test_refuses_duplicate_id(first: list[str], second: list[str], message: str) -> None:
    profile = [*ram(), *cells("0-1", 1), *vfio("hostdev0"), *first, *second]
    status, stderr = run_argv_check(runnable_argv(profile, memory_bytes=RAM, vcpus=2))
    assert status == 1
    assert message in stderr


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_object_and_device_ids_are_separate_namespaces() -> None:
    """A GI may share its id with a device, not with another -object (the memdev)."""
    profile = [*ram(), *cells("0-1", 1), *vfio("hostdev0"), *gi("hostdev0", "hostdev0", 1)]
    assert run_argv_check(runnable_argv(profile, memory_bytes=RAM, vcpus=2)) == (0, "")
    profile = [*ram(), *cells("0-1", 1), *vfio("hostdev0"), *gi("ram-node0", "hostdev0", 1)]
    status, stderr = run_argv_check(runnable_argv(profile, memory_bytes=RAM, vcpus=2))
    assert status == 1
    assert "duplicate property 'ram-node0'" in stderr


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_accepts_libvirt_example() -> None:
    assert run_argv_check(runnable_argv(libvirt_example(), memory_bytes=RAM, vcpus=16)) == (0, "")


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_memory_not_a_multiple_of_8k_is_refused() -> None:
    """QEMU rounds ``-m`` up to 8 KiB but not memory backends: NUMA sizes must be 8K-aligned."""
    size = RAM + 1024
    profile = ram(size) + cells("0", 0)
    status, stderr = run_argv_check(runnable_argv(profile, memory_bytes=size, vcpus=1))
    assert status == 1
    assert "total memory for NUMA nodes (0x20000400) should equal RAM size (0x20002000)" in stderr
    size = RAM + 8192
    profile = ram(size) + cells("0", 0)
    assert run_argv_check(runnable_argv(profile, memory_bytes=size, vcpus=1))[0] == 0


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_qemu_stopped_and_files_removed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def spy(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        process: subprocess.Popen[bytes] = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        started.append(process)
        return process

    monkeypatch.setattr(subprocess, "Popen", spy)  # qemu.py looks it up at call time
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    argv = runnable_argv(libvirt_example(), memory_bytes=RAM, vcpus=16)
    run_ok = read_tables(argv)
    assert len(run_ok.generic_initiators) == 8
    with pytest.raises(QemuRefused):
        read_tables([*argv, *gi("gi9", "hostdev0", 9)])
    with pytest.raises(QemuTimeout, match="paused"):
        read_tables([*argv, "-S"], timeout=0.5)  # a paused guest never publishes tables
    assert len(started) == 3
    assert all(p.returncode is not None for p in started)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_seconds_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    argv = runnable_argv(libvirt_example(), memory_bytes=RAM, vcpus=16)
    srat_times: list[float] = []
    check_times: list[float] = []
    for _ in range(5):
        start = time.perf_counter()
        read_tables(argv)
        srat_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_argv_check(argv)
        check_times.append(time.perf_counter() - start)
    with capsys.disabled():
        print(
            f"\nQEMU median of 5: read_tables {statistics.median(srat_times):.3f} s, "
            f"run_argv_check {statistics.median(check_times):.3f} s"
        )
    assert statistics.median(srat_times) < 5.0


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_without_numa_no_srat_and_gi_unchecked() -> None:
    profile = [*vfio("hostdev0"), *gi("gi0", "hostdev0", 5)]
    readback = run(profile, vcpus=2)
    assert "SRAT" not in readback.table_signatures
    assert readback.entries == ()


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_acpi_off_guest_gets_seabios_srat_without_gi() -> None:
    """With acpi=off QEMU builds no tables, but SeaBIOS makes its own, SRAT included."""
    profile = [*ram(), *cells("0-1", 1), *vfio("hostdev0"), *gi("gi0", "hostdev0", 1)]
    argv = runnable_argv(profile, memory_bytes=RAM, vcpus=2, machine="q35,acpi=off")
    readback = read_tables(argv)
    assert "SSDT" in readback.table_signatures  # only SeaBIOS's fallback tables have one
    assert "SRAT" in readback.table_signatures
    assert readback.generic_initiators == ()
    assert any(isinstance(e, LapicAffinity) for e in readback.entries)


def hmat_profile(*, hmat: bool = True) -> list[str]:
    """Two CPU nodes with memory, memoryless node 2 with a GI only, node 3 empty; latency
    0->0 10 ns and from the GI-only node 2 to 1 31 ns, bandwidth 0->0 200 MiB/s and
    2->0 3 GiB/s, a 64 KiB level-1 cache on node 0."""
    argv = ["-machine", "hmat=on"] if hmat else []
    for node in (0, 1):
        backend = {"qom-type": "memory-backend-ram", "id": f"ram-node{node}", "size": RAM // 2}
        argv += ["-object", json.dumps(backend)]
        argv += [
            "-numa",
            f"node,nodeid={node},cpus={2 * node}-{2 * node + 1},memdev=ram-node{node}",
        ]
    argv += ["-numa", "node,nodeid=2", "-numa", "node,nodeid=3"]
    if hmat:
        for i, t, kind, value in (
            (0, 0, "access-latency", "latency=10"),
            (2, 1, "access-latency", "latency=31"),
            (0, 0, "access-bandwidth", "bandwidth=200M"),
            (2, 0, "access-bandwidth", "bandwidth=3G"),
        ):
            lb = f"hmat-lb,initiator={i},target={t},hierarchy=memory,data-type={kind},{value}"
            argv += ["-numa", lb]
        cache = "node-id=0,size=64K,level=1,associativity=direct,policy=write-back,line=64"
        argv += ["-numa", f"hmat-cache,{cache}"]
    return argv + vfio("hostdev0") + gi("gi0", "hostdev0", 2)


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_hmat_read_in_the_same_pass() -> None:
    """The RSDT lists the HMAT right after the SRAT; values as the options say."""
    readback = run(hmat_profile(), vcpus=4)
    signatures = readback.table_signatures
    assert signatures.index("HMAT") == signatures.index("SRAT") + 1
    assert readback.slit is None
    hmat = readback.hmat
    assert hmat is not None
    assert [(s.memory_domain, s.initiator_domain) for s in hmat.memory_domains] == [(0, 0), (1, 1)]
    latency = hmat.locality(0, 0)
    bandwidth = hmat.locality(0, 3)
    assert latency is not None
    assert bandwidth is not None
    assert latency.initiators == bandwidth.initiators == (0, 1, 2)  # the GI-only node 2
    assert latency.targets == (0, 1, 2, 3)
    assert (latency.latency_ns(0, 0), latency.latency_ns(2, 1)) == (10, 31)
    assert bandwidth.bandwidth_kib(0, 0) == 200 * 1024
    assert bandwidth.bandwidth_kib(2, 0) == 3 * 1024 * 1024
    (cache,) = hmat.caches
    assert (cache.memory_domain, cache.size, cache.level, cache.line_size) == (0, 65536, 1, 64)


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_no_hmat_without_hmat_on() -> None:
    readback = run(hmat_profile(hmat=False), vcpus=4)
    assert "HMAT" not in readback.table_signatures
    assert readback.hmat is None


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_qemu_merges_a_repeated_machine_option() -> None:
    """Why folding is only tidiness: a second ``-machine hmat=on`` after ``-machine q35``
    is merged by QEMU 10.0.2 too (the hmat-lb options would be refused otherwise)."""
    profile = hmat_profile()
    command = runnable_argv(profile[2:], memory_bytes=RAM, vcpus=4)
    assert command[1:3] == ["-machine", "q35"]
    readback = read_tables([*command, "-machine", "hmat=on"])
    assert readback.hmat is not None
    assert len(readback.hmat.localities) == 2
