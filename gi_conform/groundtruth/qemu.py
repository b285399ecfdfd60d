"""Running the real QEMU on a formatted argv, and reading back the SRAT, SLIT and HMAT a
guest sees.

The reference formatter's argv is only trustworthy if QEMU itself accepts it and builds
the Generic Initiator entries we predict. This module turns the GI-relevant argv subset
into a command that runs on any machine (no host devices, TCG, no display), starts it,
and reads the ACPI tables out of guest memory after SeaBIOS has placed them, so the PCI
bus numbers in the SRAT are the ones a guest OS would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import tempfile
import time
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qemu.qmp import ExecuteError, QMPClient, QMPError

from gi_conform.groundtruth import acpi

__all__ = [
    "INSTALL_HINT",
    "MIN_VERSION",
    "PciPlacement",
    "QemuBinary",
    "QemuRefused",
    "QemuTimeout",
    "QemuUnavailable",
    "TableReadback",
    "find_qemu",
    "read_tables",
    "run_argv_check",
]

MIN_VERSION = (9, 2)
"""QEMU 9.0/9.1 wrote the GI PCI handle's bus and devfn bytes swapped (fixed in 9.2)."""

INSTALL_HINT = (
    "on Debian bookworm, add /etc/apt/sources.list.d/backports.sources with\n"
    "  Types: deb\n"
    "  URIs: http://deb.debian.org/debian\n"
    "  Suites: bookworm-backports\n"
    "  Components: main\n"
    "  Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    "then run: apt-get update && apt-get install -y --no-install-recommends "
    "-t bookworm-backports qemu-system-x86"
)
"""How to get a QEMU that has acpi-generic-initiator; quoted in every 'not found' error."""

_VERSION_RE = re.compile(r"QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?")
_POLL_INTERVAL = 0.01
_QUIT_GRACE = 2.0
_MONITOR_ID = "gi-conform-qmp"


class QemuUnavailable(RuntimeError):
    """No usable QEMU binary: missing, unrunnable, or older than ``MIN_VERSION``."""


class QemuRefused(RuntimeError):
    """QEMU exited before it was up: it refused the command line (or crashed)."""

    def __init__(self, exit_status: int, stderr: str) -> None:
        super().__init__(f"QEMU exited with status {exit_status}: {stderr.strip()}")
        self.exit_status = exit_status
        self.stderr = stderr


class QemuTimeout(TimeoutError):
    """QEMU did not reach the awaited state in time (it has been stopped)."""


@dataclass(frozen=True)
class QemuBinary:
    path: str
    version: tuple[int, int, int]


@dataclass(frozen=True)
class PciPlacement:
    """Where the guest sees a device: bus number as firmware programmed it, slot, function."""

    bus: int
    slot: int
    function: int

    @property
    def devfn(self) -> int:
        """The byte the SRAT PCI handle stores: ``slot << 3 | function``."""
        return self.slot << 3 | self.function

    @property
    def address(self) -> str:
        """``0000:BB:DD.F``, as Linux names the function (segment 0: QEMU's only one)."""
        return f"0000:{self.bus:02x}:{self.slot:02x}.{self.function:x}"


@dataclass(frozen=True)
class TableReadback:
    """What one QEMU run exposed to the guest.

    ``entries`` is the faithful SRAT decode (disabled padding included) and is empty
    when QEMU built no SRAT (``table_signatures`` then lacks ``"SRAT"``); ``slit`` and
    ``hmat`` are ``None`` when QEMU built no such table; ``pci`` maps each device's ``id``
    to its guest placement as reported by ``query-pci``.
    """

    rsdp: acpi.Rsdp | None
    """None when the tables were read inside a guest (its kernel shows each table,
    not the RSDP)."""
    table_signatures: tuple[str, ...]
    srat_header: acpi.TableHeader | None
    entries: tuple[acpi.SratEntry, ...]
    slit: tuple[tuple[int, ...], ...] | None
    pci: Mapping[str, PciPlacement]
    hmat: acpi.Hmat | None = None

    @property
    def generic_initiators(self) -> tuple[acpi.GenericInitiatorAffinity, ...]:
        """The enabled type-5 entries, in table order."""
        return tuple(
            e
            for e in acpi.enabled_entries(self.entries)
            if isinstance(e, acpi.GenericInitiatorAffinity)
        )


# --------------------------------------------------------------------- binary


def find_qemu(binary: str = "qemu-system-x86_64") -> QemuBinary:
    """Locate ``binary`` on PATH (or take it as a path) and check its version."""
    path = shutil.which(binary)
    if path is None:
        raise QemuUnavailable(f"{binary} not found on PATH; {INSTALL_HINT}")
    try:
        result = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise QemuUnavailable(f"{path} --version failed ({error}); {INSTALL_HINT}") from error
    match = _VERSION_RE.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise QemuUnavailable(
            f"{path} --version gave no version (status {result.returncode}); {INSTALL_HINT}"
        )
    version = (int(match[1]), int(match[2]), int(match[3] or 0))
    if version[:2] < MIN_VERSION:
        raise QemuUnavailable(
            f"{path} is QEMU {'.'.join(map(str, version))}, need >= "
            f"{'.'.join(map(str, MIN_VERSION))} for correct acpi-generic-initiator "
            f"tables; {INSTALL_HINT}"
        )
    return QemuBinary(path=path, version=version)


# ------------------------------------------------------------------- running


def run_argv_check(argv: Sequence[str], timeout: float = 10.0) -> tuple[int, str]:
    """Start QEMU on ``argv`` only to learn whether it accepts it: ``(exit_status, stderr)``.

    Status 0 means accepted. The guest never runs (``-S``), but machine init, where
    QEMU validates NUMA nodes and builds the SRAT (checking every GI), is already done
    when the monitor serves its first command; so queueing ``qmp_capabilities`` and
    ``quit`` on a stdio monitor makes an accepted run exit 0 as early as possible.
    """
    command = [*argv, "-S", "-qmp", "stdio"]
    script = '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n'
    try:
        result = subprocess.run(
            command,
            input=script,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:  # run() has killed and reaped QEMU
        raise QemuTimeout(f"QEMU did not exit within {timeout}s: {' '.join(command)}") from error
    return result.returncode, result.stderr


def read_tables(argv: Sequence[str], *, timeout: float = 10.0) -> TableReadback:
    """Start QEMU on ``argv``, read the SRAT (and SLIT, HMAT) from guest memory, stop QEMU.

    QEMU connects to our QMP server socket in a private temporary directory, so there is
    no polling for a socket to appear. Guest memory is read with ``pmemsave`` until the
    RSDP, RSDT and SRAT checksums are valid (SeaBIOS writes them during POST, after it
    numbered the PCI bridges), then ``query-pci`` gives the placement of each device.
    QEMU is always stopped: ``quit`` over QMP, then a kill if it lingers, including on
    errors and KeyboardInterrupt. Raises ``QemuRefused`` if QEMU exits on its own and
    ``QemuTimeout`` if the tables do not show up within ``timeout`` seconds.
    """
    with tempfile.TemporaryDirectory(prefix="gi-conform-qemu-") as tmp:
        workdir = Path(tmp)
        holder: list[subprocess.Popen[bytes]] = []
        try:
            return asyncio.run(_read_srat(list(argv), workdir, holder, timeout))
        finally:
            for process in holder:
                _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Give a QEMU that was told to quit a moment, then kill it; always reap it."""
    try:
        process.wait(timeout=_QUIT_GRACE)
    except subprocess.TimeoutExpired:
        pass
    finally:  # also when a second Ctrl-C interrupts the wait
        if process.poll() is None:
            process.kill()
        process.wait()


def _stderr_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


class _Session:
    """One QEMU process and its QMP connection, with exit-aware helpers."""

    def __init__(
        self, qmp: QMPClient, process: subprocess.Popen[bytes], workdir: Path, deadline: float
    ) -> None:
        self.qmp = qmp
        self.process = process
        self.workdir = workdir
        self.deadline = deadline
        self._dumps = 0

    def refused(self) -> QemuRefused | None:
        status = self.process.poll()
        if status is None:
            return None
        return QemuRefused(status, _stderr_text(self.workdir / "stderr"))

    async def until(self, task: asyncio.Task[Any], what: str) -> Any:
        """Await ``task`` unless QEMU exits or the deadline passes first."""
        try:
            while not task.done():
                if (error := self.refused()) is not None:
                    raise error
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise QemuTimeout(f"timed out waiting for {what}")
                await asyncio.wait({task}, timeout=min(_POLL_INTERVAL, remaining))
            return task.result()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, QMPError, OSError, EOFError):
                    await task

    async def execute(self, command: str, arguments: Mapping[str, object] | None = None) -> Any:
        try:
            return await self.until(
                asyncio.ensure_future(self.qmp.execute(command, arguments)), command
            )
        except ExecuteError:
            raise
        except (QMPError, OSError, EOFError) as error:
            # A dropped connection usually means QEMU exited: report that instead.
            try:
                self.process.wait(timeout=_QUIT_GRACE)
            except subprocess.TimeoutExpired:
                raise error from None
            refused = self.refused()
            raise (refused if refused is not None else error) from error

    async def read(self, address: int, size: int) -> bytes:
        """Guest physical memory via ``pmemsave`` into a scratch file."""
        self._dumps += 1
        path = self.workdir / f"dump{self._dumps}"
        await self.execute("pmemsave", {"val": address, "size": size, "filename": str(path)})
        data = path.read_bytes()
        path.unlink()
        return data

    async def read_table(self, address: int) -> bytes:
        header = await self.read(address, acpi.HEADER_LENGTH)
        length = acpi.parse_header(header).length
        if length < acpi.HEADER_LENGTH or length > 1 << 20:
            raise acpi.AcpiTableError(f"table at {address:#x} declares length {length}")
        return await self.read(address, length)


async def _read_srat(
    argv: list[str], workdir: Path, holder: list[subprocess.Popen[bytes]], timeout: float
) -> TableReadback:
    deadline = time.monotonic() + timeout
    socket_path = workdir / "qmp.sock"
    qmp = QMPClient("gi-conform")
    await qmp.start_server(str(socket_path))
    command = [
        *argv,
        "-chardev",
        f"socket,id={_MONITOR_ID},path={socket_path}",
        "-mon",
        f"chardev={_MONITOR_ID},mode=control",
    ]
    try:
        with (workdir / "stderr").open("wb") as stderr:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        holder.append(process)
        session = _Session(qmp, process, workdir, deadline)
        try:
            await session.until(asyncio.ensure_future(qmp.accept()), "the QMP connection")
        except (QMPError, OSError, EOFError) as error:
            # The greeting can arrive before QEMU rejects the machine; prefer its verdict.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=_QUIT_GRACE)
            process_error = session.refused()
            raise (process_error if process_error is not None else error) from error
        try:
            return await _probe(session)
        finally:
            if process.poll() is None:
                with contextlib.suppress(QMPError, OSError, EOFError, QemuRefused, QemuTimeout):
                    session.deadline = time.monotonic() + _QUIT_GRACE
                    await session.execute("quit")
    finally:
        with contextlib.suppress(QMPError, OSError, EOFError):
            await qmp.disconnect()


async def _probe(session: _Session) -> TableReadback:
    """Poll until firmware has published valid tables, then decode and query PCI."""
    last_error: acpi.AcpiTableError | None = None
    while True:
        try:
            result = await _tables(session)
            break
        except acpi.AcpiTableError as error:
            last_error = error
        except QemuTimeout:
            pass
        if time.monotonic() + _POLL_INTERVAL >= session.deadline:
            raise QemuTimeout(
                "no valid ACPI tables in guest memory in time (last problem: "
                f"{last_error or 'none seen'}); is the guest paused (-S), or did the firmware "
                "stop? (SeaBIOS panics when PCI bridge windows exhaust I/O space)"
            )
        await asyncio.sleep(_POLL_INTERVAL)
    rsdp, signatures, srat_header, entries, slit, hmat = result
    pci = _placements(await session.execute("query-pci"))
    return TableReadback(
        rsdp=rsdp,
        table_signatures=signatures,
        srat_header=srat_header,
        entries=entries,
        slit=slit,
        pci=types.MappingProxyType(pci),
        hmat=hmat,
    )


async def _tables(
    session: _Session,
) -> tuple[
    acpi.Rsdp,
    tuple[str, ...],
    acpi.TableHeader | None,
    tuple[acpi.SratEntry, ...],
    tuple[tuple[int, ...], ...] | None,
    acpi.Hmat | None,
]:
    area = await session.read(acpi.BIOS_AREA_BASE, acpi.BIOS_AREA_SIZE)
    rsdp = acpi.find_rsdp(area, acpi.BIOS_AREA_BASE)
    if rsdp.xsdt_address:
        pointers = acpi.xsdt_pointers(await session.read_table(rsdp.xsdt_address))
    else:
        pointers = acpi.rsdt_pointers(await session.read_table(rsdp.rsdt_address))
    signatures: list[str] = []
    srat_header: acpi.TableHeader | None = None
    entries: tuple[acpi.SratEntry, ...] = ()
    slit: tuple[tuple[int, ...], ...] | None = None
    hmat: acpi.Hmat | None = None
    for pointer in pointers:
        header = acpi.parse_header(await session.read(pointer, acpi.HEADER_LENGTH))
        signatures.append(header.signature)
        if header.signature == "SRAT":
            table = await session.read_table(pointer)
            entries = acpi.decode_srat(table)
            srat_header = acpi.parse_header(table)
        elif header.signature == "SLIT":
            slit = acpi.decode_slit(await session.read_table(pointer))
        elif header.signature == "HMAT":
            hmat = acpi.decode_hmat(await session.read_table(pointer))
    return rsdp, tuple(signatures), srat_header, entries, slit, hmat


def _placements(buses: object) -> dict[str, PciPlacement]:
    """Flatten ``query-pci`` (buses, with bridges nesting their own bus) by ``qdev_id``."""
    found: dict[str, PciPlacement] = {}

    def walk(devices: list[dict[str, Any]]) -> None:
        for device in devices:
            qdev_id = device.get("qdev_id", "")
            if qdev_id:
                found[qdev_id] = PciPlacement(
                    bus=int(device["bus"]),
                    slot=int(device["slot"]),
                    function=int(device["function"]),
                )
            bridge = device.get("pci_bridge")
            if isinstance(bridge, dict):
                walk(bridge.get("devices", []))

    if isinstance(buses, list):
        for bus in buses:
            walk(bus.get("devices", []))
    return found
