"""Child processes that cannot hurt the harness: bounded output, deadlines, no orphans.

An implementation under test may hang, print gigabytes, or fork helpers that outlive it.
Every child therefore runs in its own session (its own process group), its pipes are read
with ``selectors`` against a deadline and a byte cap, and the whole group is killed when
we are done with it, so nothing is left behind whatever the child did.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "LineReader",
    "ProcessResult",
    "StderrTail",
    "kill_group",
    "run_bounded",
    "run_step",
    "spawn",
    "write_all",
]

_CHUNK = 1 << 16

DEFAULT_MEMORY_LIMIT = 16 << 30
"""Address space a child may map, in bytes: generous (a JVM or a QEMU probe fits), yet a
runaway child fails its own case instead of the machine (virsh was once seen asking for
34 GB)."""


@dataclass(frozen=True)
class ProcessResult:
    """What a finished (or killed) one-shot child left: ``returncode`` None if killed."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    overflow: str | None = None
    """The stream that went past its cap (``stdout`` or ``stderr``), if one did."""
    elapsed: float = 0.0


def _limited(argv: Sequence[str], memory_limit: int | None) -> list[str]:
    """``argv`` under util-linux's ``prlimit``, which sets RLIMIT_AS and execs it: unlike
    a ``preexec_fn`` it is safe when the harness runs cases from several threads."""
    if memory_limit is None:
        return list(argv)
    tool = shutil.which("prlimit")
    if tool is None:
        raise OSError("prlimit (util-linux) is needed for a memory limit: install util-linux")
    return [tool, f"--as={memory_limit}", "--", *argv]


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: bool = False,
    memory_limit: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with piped output (and piped stdin if asked),
    its address space limited to ``memory_limit`` bytes when given."""
    return subprocess.Popen(
        _limited(argv, memory_limit),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        start_new_session=True,
        close_fds=True,
    )


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group, reap the child, close its pipes.

    The group outlives its leader while any member lives, so this also ends helpers the
    child started and did not wait for.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    _await_group_death(process.pid)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _live_members(group: int) -> list[int]:
    """Pids in process group ``group`` that are not yet dead (zombies count as dead)."""
    alive = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(group).encode() and fields[0] not in (b"Z", b"X"):
            alive.append(int(name))
    return alive


def _await_group_death(group: int, limit: float = 2.0) -> None:
    """Wait until SIGKILL has actually ended every member (Linux; elsewhere a no-op).

    Members other than the leader are not our children, so ``wait`` cannot tell when
    they are gone: without this a caller could still see a dying helper just after.
    """
    if not os.path.isdir("/proc"):
        return
    deadline = time.monotonic() + limit
    while _live_members(group) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
        time.sleep(0.005)


def run_bounded(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    max_stdout: int = 16 << 20,
    max_stderr: int = 1 << 20,
    memory_limit: int | None = None,
) -> ProcessResult:
    """Run a one-shot child to completion, a deadline, or a cap, whichever comes first."""
    start = time.monotonic()
    deadline = start + timeout
    process = spawn(argv, env=env, memory_limit=memory_limit)
    assert process.stdout is not None
    assert process.stderr is not None
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    caps = {out_fd: max_stdout, err_fd: max_stderr}
    names = {out_fd: "stdout", err_fd: "stderr"}
    buffers: dict[int, bytearray] = {fd: bytearray() for fd in caps}
    timed_out = False
    overflow: str | None = None
    try:
        with selectors.DefaultSelector() as selector:
            for fd in caps:
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                for key, _ in selector.select(remaining):
                    fd = int(key.fd)
                    chunk = os.read(fd, _CHUNK)
                    if not chunk:
                        selector.unregister(fd)
                        continue
                    buffers[fd] += chunk
                    if len(buffers[fd]) > caps[fd]:
                        overflow = names[fd]
                        break
                if overflow is not None:
                    break
        returncode: int | None = None
        if not timed_out and overflow is None:
            try:
                returncode = process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        kill_group(process)
    return ProcessResult(
        returncode=returncode,
        stdout=bytes(buffers[out_fd][:max_stdout]),
        stderr=bytes(buffers[err_fd][:max_stderr]),
        timed_out=timed_out,
        overflow=overflow,
        elapsed=time.monotonic() - start,
    )


class StderrTail:
    """Drain a long-running child's stderr in a thread, keeping only the last bytes.

    Without a reader the child would block once the pipe fills; keeping a tail bounds
    memory while still showing the last words of a dying implementation.
    """

    def __init__(self, fd: int, keep: int = 64 << 10) -> None:
        self._fd = fd
        self._keep = keep
        self._data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, name="gi-conform-stderr", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self._data += chunk
                if len(self._data) > self._keep:
                    del self._data[: len(self._data) - self._keep]

    def text(self, wait: float = 0.0) -> str:
        """The tail so far; ``wait`` gives a dying child's last words time to arrive."""
        if wait > 0:
            self._thread.join(wait)
        with self._lock:
            return self._data.decode("utf-8", "replace")


class LineReader:
    """Read newline-terminated lines from a pipe against a deadline and a length cap."""

    def __init__(self, fd: int, max_line: int = 16 << 20) -> None:
        self._fd = fd
        self._max_line = max_line
        self._buffer = bytearray()
        self._eof = False

    def readline(self, deadline: float) -> bytes:
        """One line without its newline.

        Raises ``TimeoutError`` at the deadline, ``EOFError`` when the pipe closes first
        and ``OverflowError`` when a line grows past the cap.
        """
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > self._max_line:
                raise OverflowError(f"a line longer than {self._max_line} bytes")
            if self._eof:
                raise EOFError("the implementation closed its output")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no reply in time")
            with selectors.DefaultSelector() as selector:
                selector.register(self._fd, selectors.EVENT_READ)
                if not selector.select(remaining):
                    raise TimeoutError("no reply in time")
            chunk = os.read(self._fd, _CHUNK)
            if chunk:
                self._buffer += chunk
            else:
                self._eof = True


def write_all(fd: int, data: bytes, deadline: float) -> None:
    """Write everything to a non-blocking pipe, or raise ``TimeoutError`` at the deadline.

    A child that never reads its input must not block the harness on a full pipe.
    """
    os.set_blocking(fd, False)
    view = memoryview(data)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_WRITE)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise TimeoutError("the implementation does not read its input")
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                continue
            view = view[written:]


def run_step(
    argv: Sequence[str],
    what: str,
    *,
    error: type[Exception],
    timeout: float,
    cwd: os.PathLike[str] | str | None = None,
    env: Mapping[str, str] | None = None,
    tail: int = 8,
) -> str:
    """Run one set-up step (apt, make, ...) to completion and return its stdout; any
    failure raises ``error`` naming ``what`` and quoting the step's last ``tail`` lines,
    so a user sees which step broke and why, never a traceback."""
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            check=False,
        )
    except FileNotFoundError:
        raise error(f"{what}: {argv[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        raise error(f"{what}: not done within {timeout:g} s") from None
    if result.returncode != 0:
        last = "\n".join((result.stderr or result.stdout).strip().splitlines()[-tail:])
        raise error(f"{what} failed (exit {result.returncode}):\n{last}")
    return result.stdout
