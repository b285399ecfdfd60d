"""The guest check's pure parts: initramfs bytes, console frames, the guest's report,
Linux's node order and the checks, on recorded or hand-made input (no boot)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import struct
from pathlib import Path

import pytest

from gi_conform import Profile, parse
from gi_conform.groundtruth import acpi
from gi_conform.groundtruth.guest import (
    GuestReportError,
    GuestView,
    pxm_to_node,
    read_guest_view,
)
from gi_conform.groundtruth.guest_checks import (
    compare_guest,
    firmware_bus_numbers,
    guest_placements,
    guest_tables,
    visible_cells,
)
from gi_conform.groundtruth.initramfs import INIT_SCRIPT, CpioEntry, build_initramfs, newc_archive
from gi_conform.groundtruth.qemu import PciPlacement
from gi_conform.groundtruth.runnable import runnable_argv
from gi_conform.groundtruth.serial import read_frames
from tests.helpers import document, gpu, run_cli


def _members(archive: bytes) -> dict[str, tuple[int, bytes]]:
    """A newc reader written from the format's definition, independent of the writer."""
    out: dict[str, tuple[int, bytes]] = {}
    offset = 0
    while True:
        assert archive[offset : offset + 6] == b"070701"
        fields = [int(archive[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, name_size = fields[1], fields[6], fields[11]
        name_start = offset + 110
        name = archive[name_start : name_start + name_size - 1].decode()
        data_start = name_start + name_size + (-(110 + name_size) % 4)
        data = archive[data_start : data_start + size]
        offset = data_start + size + (-size % 4)
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data)


def test_initramfs_holds_busybox_init_and_the_sh_link() -> None:
    members = _members(gzip.decompress(build_initramfs(b"\x7fELF busybox")))
    assert members["bin/busybox"] == (0o100755, b"\x7fELF busybox")
    assert members["init"] == (0o100755, INIT_SCRIPT.encode())
    assert members["bin/sh"] == (0o120777, b"busybox")
    assert members["proc"][0] == 0o040755


def test_newc_pads_names_and_data_to_four_bytes() -> None:
    archive = newc_archive([CpioEntry("a", 0o100644, b"xyz")])
    assert len(archive) % 4 == 0
    assert _members(archive) == {"a": (0o100644, b"xyz")}


def test_initramfs_is_reproducible() -> None:
    assert build_initramfs(b"bb") == build_initramfs(b"bb")


# ------------------------------------------------------------------ console frames


def frame(name: str, data: bytes, *, digest: str | None = None, size: int | None = None) -> str:
    text = base64.b64encode(data).decode()
    lines = [text[i : i + 76] for i in range(0, len(text), 76)]
    head = f"gi-conform:frame {name} {len(data) if size is None else size} "
    head += digest or hashlib.md5(data).hexdigest()
    return "\n".join([head, *lines, f"gi-conform:end {name}"]) + "\n"


def test_frames_survive_kernel_lines_in_between() -> None:
    data = bytes(range(256)) * 3
    text = frame("table-SRAT", data)
    noisy = text.replace("\n", "\n[    1.234] random: crng init done\n", 3)
    report = read_frames("boot noise\n" + noisy + "gi-conform:done\n")
    assert report.frames == {"table-SRAT": data}
    assert report.problems == ()
    assert report.done


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (frame("x", b"abc", digest="0" * 32), "frame x: checksum mismatch"),
        (frame("x", b"abc", size=4), "frame x: 3 bytes, the header says 4"),
        (frame("x", b"abc").replace("gi-conform:end x\n", ""), "frame x: no end marker"),
        (frame("x", b"abc", size=10**9), "frame x: claims 1000000000 bytes"),
        (frame("x", b"abc")[:-20] + "\n" + frame("y", b"d"), "frame x: cut off by the next"),
    ],
)
def test_broken_frames_are_reported_not_guessed(text: str, problem: str) -> None:
    report = read_frames(text)
    assert "x" not in report.frames
    assert any(p.startswith(problem) for p in report.problems), report.problems
    assert not report.done


def test_a_corrupted_base64_line_fails_the_checksum() -> None:
    text = frame("x", b"hello world, hello guest")
    lines = text.splitlines()
    lines[1] = lines[1][:-4] + "AAAA"
    assert read_frames("\n".join(lines)).frames == {}


# ------------------------------------------------------------------ the guest's report

SYSFS = """node/possible=0-2
node/online=0-2
node/has_cpu=0
node/has_memory=0
node/has_generic_initiator=1-2
node0/cpulist=0-3
node0/distance=10 21 22
node0/memtotal_kb=1000000
node0/access0/initiators=node0 node2
node0/access0/read_latency=5
node1/cpulist=
node1/distance=21 10 20
node1/memtotal_kb=0
node2/cpulist=
node2/distance=22 20 10
node2/memtotal_kb=0
pci/0000:00:02.0=0x1234 0x11e8 -1
kernel=6.1.0-50-cloud-amd64 x86_64
"""


def test_the_report_becomes_a_view() -> None:
    report = read_frames(frame("sysfs", SYSFS.encode()) + frame("dmesg", b"NUMA: hello\n"))
    view = read_guest_view(report)
    assert view.online == frozenset({0, 1, 2})
    assert view.has_generic_initiator == frozenset({1, 2})
    node0 = view.node(0)
    assert node0 is not None
    assert node0.cpus == frozenset(range(4))
    assert node0.distances == (10, 21, 22)
    assert node0.access[0].initiators == frozenset({0, 2})
    assert node0.access[0].read_latency == 5
    assert view.pci[0].numa_node == -1
    assert view.log == ("NUMA: hello",)


def test_no_report_is_an_error_naming_why() -> None:
    with pytest.raises(GuestReportError, match="no end marker"):
        read_guest_view(read_frames(frame("sysfs", b"x").splitlines()[0]))


# ------------------------------------------------------------------ Linux's node order


def test_processors_and_initiators_first_then_memory_in_table_order() -> None:
    entries = (
        acpi.LapicAffinity(proximity_domain=0, apic_id=0, enabled=True),
        acpi.MemoryAffinity(proximity_domain=4, base=0, length=1, enabled=True),
        acpi.MemoryAffinity(proximity_domain=0, base=1, length=1, enabled=True),
        acpi.GenericInitiatorAffinity(3, 1, 0, 1, 8, True),
        acpi.GenericInitiatorAffinity(1, 1, 0, 1, 8, True),
        acpi.GenericInitiatorAffinity(2, 1, 0, 1, 8, False),  # disabled: not met
    )
    assert pxm_to_node(entries) == {0: 0, 3: 1, 1: 2, 4: 3}


# ------------------------------------------------------------------ checks

DOC = document(gpu("<acpi nodeset='1-2'/>"))


def _view(sysfs: str, log: bytes = b"") -> GuestView:
    return read_guest_view(read_frames(frame("sysfs", sysfs.encode()) + frame("dmesg", log)))


def test_without_tables_the_srat_check_fails() -> None:
    checks = compare_guest(parse(DOC), Profile.LIBVIRT, _view(SYSFS))
    assert [c.entry for c in checks if not c.ok] == ["SRAT"]


def test_a_faked_node_fails_with_the_kernels_line() -> None:
    line = b"[    0.000000] NUMA: Faking a node at [mem 0x04000000-0xbfffffff]\n"
    (lost,) = [c for c in compare_guest(parse(DOC), Profile.LIBVIRT, _view(SYSFS, line))][:1]
    assert not lost.ok
    assert "Faking a node" in lost.seen


def test_visible_cells_are_those_with_cpus_memory_or_an_initiator() -> None:
    cells = (
        "<cell id='0' cpus='0-3' memory='1048576'/><cell id='1' memory='0'/>"
        "<cell id='2' memory='0'/><cell id='3' memory='1024'/>"
    )
    domain = parse(document(gpu("<acpi nodeset='1'/>"), cells=cells))
    assert visible_cells(domain, Profile.LIBVIRT) == {0, 1, 3}


# ------------------------------------------------------------------ PCI placement

# libvirt 12.8's devices for an aarch64 guest with two hostdevs on its own root ports and
# one behind a pxb-pcie (bus_nr 64): the shape KubeVirt writes.
PLACED_ARGV = [
    "qemu-system-aarch64",
    "-device",
    '{"driver":"pcie-root-port","port":9,"chassis":2,"id":"pci.2","bus":"pcie.0","addr":"0x1.0x1"}',
    "-device",
    '{"driver":"pcie-root-port","port":8,"chassis":1,"id":"pci.1","bus":"pcie.0",'
    '"multifunction":true,"addr":"0x1"}',
    "-device",
    '{"driver":"pxb-pcie","bus_nr":64,"id":"pci.5","numa_node":3,"bus":"pcie.0","addr":"0x2"}',
    "-device",
    "pcie-root-port,port=0,chassis=6,id=pci.6,bus=pci.5,addr=0x0",
    "-device",
    '{"driver":"edu","id":"hostdev0","bus":"pci.1","addr":"0x0"}',
    "-device",
    '{"driver":"edu","id":"hostdev1","bus":"pci.2","addr":"0x0"}',
    "-device",
    '{"driver":"edu","id":"hostdev2","bus":"pci.6","addr":"0x0"}',
    "-device",
    '{"driver":"edu","id":"hostdev3","bus":"pcie.0","addr":"0x5"}',
]
# What the guest enumerated for it (EDK2 2026.08, Linux 6.1), hostdev3 left out.
PLACED_SYSFS = """pci/0000:00:01.0=0x1b36 0x000c -1
pci/0000:00:01.1=0x1b36 0x000c -1
pci/0000:00:02.0=0x1b36 0x000b -1
pci/0000:01:00.0=0x1234 0x11e8 -1
pci/0000:02:00.0=0x1234 0x11e8 -1
pci/0000:40:00.0=0x1b36 0x000c 2
pci/0000:41:00.0=0x1234 0x11e8 2
"""


def test_firmware_numbers_buses_depth_first_in_slot_order() -> None:
    numbers = firmware_bus_numbers(PLACED_ARGV)
    assert numbers == {"pcie.0": 0, "pci.0": 0, "pci.1": 1, "pci.2": 2, "pci.5": 64, "pci.6": 65}


def test_a_bridge_below_a_port_takes_the_next_number_before_the_next_port() -> None:
    argv = [
        "qemu",
        *("-device", "pcie-root-port,id=a,bus=pcie.0,addr=0x1"),
        *("-device", "pcie-root-port,id=b,bus=pcie.0,addr=0x2"),
        *("-device", "pcie-pci-bridge,id=c,bus=a,addr=0x0"),
        *("-device", "pci-bridge,id=d,bus=c,addr=0x3,chassis_nr=1"),
    ]
    assert firmware_bus_numbers(argv) == {"pcie.0": 0, "pci.0": 0, "a": 1, "c": 2, "d": 3, "b": 4}


def test_devices_are_placed_only_where_the_guest_enumerated_them() -> None:
    placed = guest_placements(PLACED_ARGV, _view(PLACED_SYSFS))
    assert placed["hostdev0"] == PciPlacement(1, 0, 0)
    assert placed["hostdev1"] == PciPlacement(2, 0, 0)
    assert placed["hostdev2"] == PciPlacement(0x41, 0, 0)
    assert placed["pci.2"] == PciPlacement(0, 1, 1)
    assert "hostdev3" not in placed  # not in the guest's scan


def test_a_stand_in_must_have_the_stand_ins_ids() -> None:
    sysfs = PLACED_SYSFS.replace("pci/0000:01:00.0=0x1234 0x11e8", "pci/0000:01:00.0=0x1af4 0x1041")
    assert "hostdev0" not in guest_placements(PLACED_ARGV, _view(sysfs))


def test_the_guests_tables_become_a_readback() -> None:
    # type 5, PCI handle: segment 0, bus 1, devfn 0; enabled
    gi = struct.pack("<BBBBIHBB12xII", 5, 32, 0, 1, 2, 0, 1, 0, 1, 0)
    sysfs = frame("table-SRAT", _srat(gi))
    report = read_frames(sysfs + frame("sysfs", PLACED_SYSFS.encode()))
    view = read_guest_view(report)
    readback = guest_tables(view, guest_placements(PLACED_ARGV, view))
    (entry,) = readback.generic_initiators
    assert (entry.proximity_domain, entry.pci_bus, entry.pci_devfn) == (2, 1, 0)
    assert readback.pci["hostdev0"] == PciPlacement(1, 0, 0)
    assert readback.table_signatures == ("SRAT",)
    assert guest_tables(_view(PLACED_SYSFS)).entries == ()


# ------------------------------------------------------------------ i440fx slots


def test_a_device_without_address_on_i440fx_skips_the_piix3_slot() -> None:
    device = '{"driver":"vfio-pci","host":"0000:06:12.1","id":"hostdev0"}'
    argv = runnable_argv(["-device", device], memory_bytes=1 << 29, vcpus=1, machine="pc")
    placed = argv[argv.index("-device") + 1]
    assert '"bus":"pci.0"' in placed
    assert '"addr":"0x2"' in placed


# ------------------------------------------------------------------ command line


def test_guest_without_a_kit_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GI_CONFORM_GUEST_DIR", str(tmp_path / "none"))
    source = tmp_path / "d.xml"
    source.write_text(DOC)
    assert run_cli("guest", str(source)) == 2
    assert "gi-conform guest setup" in capsys.readouterr().err
    assert run_cli("guest", "status", str(tmp_path / "none")) == 2


def test_guest_rejects_an_invalid_document(tmp_path: Path) -> None:
    source = tmp_path / "d.xml"
    source.write_text(document(gpu("<acpi nodeset='9'/>")))
    assert run_cli("guest", str(source)) == 1


def test_guest_refuses_an_unknown_architecture(tmp_path: Path) -> None:
    source = tmp_path / "d.xml"
    source.write_text(DOC.replace("arch='x86_64'", "arch='s390x'"))
    assert run_cli("guest", str(source)) == 2


def test_teardown_of_nothing_is_fine(tmp_path: Path) -> None:
    assert run_cli("guest", "teardown", str(tmp_path / "none")) == 0


def test_struct_sanity_for_gicc() -> None:
    entry = struct.pack("<BBIIII", 3, 18, 7, 1, 1, 0)
    (decoded,) = acpi.decode_srat(_srat(entry))
    assert decoded == acpi.GiccAffinity(proximity_domain=7, processor_uid=1, enabled=True)


def _srat(*entries: bytes) -> bytes:
    body = b"".join(entries)
    header = bytearray(b"SRAT" + struct.pack("<I", 48 + len(body)) + bytes(28))
    table = bytearray(header + bytes(12) + body)
    table[9] = (-sum(table)) & 0xFF
    return bytes(table)
