"""The guest's initramfs: busybox and an init script whose report gi-conform defines.

The guest kernel is Debian's; what it is asked to say is ours. ``/init`` mounts proc and
sysfs, then writes framed, checksummed records to the serial console (see
:mod:`gi_conform.groundtruth.serial`): the raw SRAT, SLIT and HMAT the firmware handed the
kernel, the NUMA view the kernel built in ``/sys/devices/system/node``, every PCI device
with its ``numa_node``, and the kernel's NUMA log lines; then it powers the guest off.
The archive is written here in the kernel's ``newc`` cpio format, so no ``cpio`` tool is
needed and the bytes are reproducible.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass

from gi_conform.groundtruth.serial import DONE_MARKER, END_MARKER, FRAME_MARKER

__all__ = ["INIT_SCRIPT", "CpioEntry", "build_initramfs", "newc_archive"]

_INIT_TEMPLATE = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
exec >/dev/console 2>&1
echo 1 >/proc/sys/kernel/printk

frame() {
    # frame NAME FILE: length and md5 first, then base64 lines, then the end marker
    size=$(wc -c <"$2")
    sum=$(md5sum <"$2" | cut -d' ' -f1)
    echo "@FRAME@ $1 $size $sum"
    base64 <"$2"
    echo "@END@ $1"
}

for table in SRAT SLIT HMAT; do
    if [ -r /sys/firmware/acpi/tables/$table ]; then
        cat /sys/firmware/acpi/tables/$table >/tmp/$table
        frame table-$table /tmp/$table
    fi
done

nodes=/sys/devices/system/node
# Builtins only in the loops (read, not $(cat ...)): every fork costs milliseconds under
# TCG, and a 34-node guest made 300 of them (8 s of its boot).
val() { v=; read -r v <"$1" || :; }
{
    for f in possible online has_cpu has_memory has_normal_memory has_generic_initiator; do
        [ -r $nodes/$f ] && val $nodes/$f && echo "node/$f=$v"
    done
    for d in $nodes/node*; do
        [ -d "$d" ] || continue
        n=${d##*/node}
        echo "node$n/cpulist=$(cat $d/cpulist)"  # a binary attribute: read gets nothing
        val $d/distance; echo "node$n/distance=$v"
        while read -r w1 w2 w3 w4 rest; do
            [ "$w3" = "MemTotal:" ] && echo "node$n/memtotal_kb=$w4" && break
        done <$d/meminfo
        for a in $d/access*; do
            [ -d "$a" ] || continue
            c=${a##*/access}
            list=
            for i in $a/initiators/node*; do
                [ -e "$i" ] && list="$list${i##*/} "
            done
            echo "node$n/access$c/initiators=$list"
            for m in read_latency write_latency read_bandwidth write_bandwidth; do
                [ -r $a/initiators/$m ] && val $a/initiators/$m && echo "node$n/access$c/$m=$v"
            done
        done
    done
    for p in /sys/bus/pci/devices/*; do
        [ -d "$p" ] || continue
        val $p/vendor; vendor=$v
        val $p/device; device=$v
        val $p/numa_node
        echo "pci/${p##*/}=$vendor $device $v"
    done
    echo "kernel=$(uname -r) $(uname -m)"
} >/tmp/sysfs 2>/dev/null
frame sysfs /tmp/sysfs

dmesg | grep -iE 'numa|srat|slit|hmat|node|initiator|acpi: (srat|slit|hmat)' >/tmp/dmesg
frame dmesg /tmp/dmesg

echo @DONE@
poweroff -f
"""

INIT_SCRIPT = (
    _INIT_TEMPLATE.replace("@FRAME@", FRAME_MARKER)
    .replace("@END@", END_MARKER)
    .replace("@DONE@", DONE_MARKER)
)
"""``/init``: the report's markers are :mod:`gi_conform.groundtruth.serial`'s."""


@dataclass(frozen=True)
class CpioEntry:
    """One archive member: a directory (``data`` None), a file or a symlink."""

    name: str
    mode: int
    data: bytes | None = None
    link: str | None = None


def _header(index: int, entry: CpioEntry, size: int) -> bytes:
    name = entry.name.encode() + b"\0"
    fields = (index, entry.mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name), 0)
    return b"070701" + b"".join(f"{value:08X}".encode() for value in fields) + name


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def newc_archive(entries: Iterable[CpioEntry]) -> bytes:
    """The entries as a ``newc`` cpio archive (what the kernel unpacks as initramfs)."""
    out = bytearray()
    for index, entry in enumerate(entries, start=1):
        payload = entry.link.encode() if entry.link is not None else entry.data or b""
        out += _pad(_header(index, entry, len(payload)))
        out += _pad(payload)
    out += _pad(_header(0, CpioEntry("TRAILER!!!", 0), 0))
    return bytes(out)


def build_initramfs(busybox: bytes, script: str = INIT_SCRIPT) -> bytes:
    """A gzip'd initramfs: ``/bin/busybox`` (a static build for the guest's architecture)
    and ``/init``; the script installs the busybox applets itself at boot."""
    directories = ("bin", "dev", "proc", "sys", "tmp")
    entries = [CpioEntry(name, 0o040755) for name in directories]
    entries.append(CpioEntry("bin/busybox", 0o100755, busybox))
    entries.append(CpioEntry("bin/sh", 0o120777, link="busybox"))
    entries.append(CpioEntry("init", 0o100755, script.encode()))
    return gzip.compress(newc_archive(entries), compresslevel=6, mtime=0)
