"""Implementations under test: ``reference``, ``python:``, ``cmd:`` and ``jsonl:`` adapters.

Every adapter turns whatever the implementation does into an :class:`Answer` and never
lets it take the harness down: exceptions, hangs, crashes, floods and broken protocol
become ``errored`` answers for that one case. ``open_implementation`` is a context
manager so processes are always stopped and temporary files removed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import re
import shlex
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, Protocol

from gi_conform import __version__, process
from gi_conform.argv.build import Profile, build_argv, flatten
from gi_conform.argv.options import read_args_text
from gi_conform.document.format import format_xml
from gi_conform.document.validate import validate
from gi_conform.libvirt.convert import (
    LibvirtError,
    LibvirtTimeout,
    convert,
    environment_reason,
)
from gi_conform.libvirt.install import LibvirtUnavailable, locate
from gi_conform.libvirt.xmllayer import VIRTINST_PATH, virtinst_command
from gi_conform.oracle.contract import (
    RejectPatternError,
    compile_reject_pattern,
    crash_signature,
    read_failed_exit,
    stderr_tail,
    unreadable_argv,
    unreadable_xml,
)
from gi_conform.oracle.impls_xml import open_xml_layer
from gi_conform.oracle.model import Answer, CheckCase, ErrorKind, ImplInfo, Mode, Verdict
from gi_conform.oracle.protocol import (
    ProtocolError,
    decode_run_line,
    decode_run_reply,
    decode_start_reply,
    rule_ids_in,
    run_request,
    start_request,
    stop_request,
)

__all__ = [
    "MAX_ARGV_CHARS",
    "XML_LAYER_KINDS",
    "Implementation",
    "ImplementationSpec",
    "SpecError",
    "check_reject_pattern",
    "load_function",
    "open_implementation",
    "parse_argv_output",
    "parse_spec",
    "reference_answer",
]

MAX_ARGV_CHARS = 16 << 20
"""The most argv text accepted from one answer; more is an ``output-limit`` error."""
START_FAILURES_BEFORE_GIVING_UP = 3
_STOP_GRACE = 2.0
_NOT_TEXT = "the document is not UTF-8: the protocol carries documents as JSON text"


class SpecError(ValueError):
    """Raised for an ``--impl`` value that names no usable implementation."""


@dataclass(frozen=True)
class ImplementationSpec:
    """A parsed ``--impl``: ``kind`` is reference, python, cmd, jsonl, libvirt or one of
    the XML-layer implementations (:data:`XML_LAYER_KINDS`)."""

    kind: str
    target: str

    def __str__(self) -> str:
        return "reference" if self.kind == "reference" else f"{self.kind}:{self.target}"


XML_LAYER_KINDS = ("libvirt-xml", "libvirt-schema", "virtinst")
"""Built-in round-trip implementations (``--mode roundtrip`` only), each ``KIND[:DIR]``."""


def parse_spec(text: str) -> ImplementationSpec:
    """Read ``reference``, ``python:MODULE:FUNCTION``, ``cmd:COMMAND``, ``jsonl:COMMAND``,
    ``libvirt[:DIR]`` or an XML-layer ``KIND[:DIR]``."""
    if text == "reference":
        return ImplementationSpec("reference", "")
    for kind in XML_LAYER_KINDS:
        if text == kind or text.startswith(kind + ":"):
            return ImplementationSpec(kind, text.partition(":")[2])
    if text == "libvirt" or text.startswith("libvirt:"):
        return ImplementationSpec("libvirt", text.partition(":")[2])
    kind, colon, target = text.partition(":")
    if not colon or kind not in ("python", "cmd", "jsonl"):
        raise SpecError(
            f"--impl {text!r}: expected reference, python:MODULE:FUNCTION, cmd:COMMAND, "
            "jsonl:COMMAND, libvirt[:DIR], libvirt-xml[:DIR], libvirt-schema[:DIR] or "
            "virtinst[:DIR]"
        )
    if not target.strip():
        raise SpecError(f"--impl {text!r}: nothing after '{kind}:'")
    if kind == "python" and ":" not in target:
        raise SpecError(f"--impl {text!r}: expected python:MODULE:FUNCTION")
    return ImplementationSpec(kind, target)


def check_reject_pattern(spec: ImplementationSpec, pattern: str | None) -> None:
    """Raise :class:`SpecError` unless ``pattern`` (``--reject-pattern``) is None, or a
    usable regular expression given for a ``cmd:`` implementation (the only kind whose
    rejections are read from stderr)."""
    if pattern is None:
        return
    if spec.kind != "cmd":
        raise SpecError(
            f"--reject-pattern applies to cmd: implementations only, not {spec.kind} "
            "(the others say rejected in their replies)"
        )
    try:
        compile_reject_pattern(pattern)
    except RejectPatternError as error:
        raise SpecError(str(error)) from None


class Implementation(Protocol):
    """What the runner needs from an adapter."""

    @property
    def info(self) -> ImplInfo: ...

    def run(self, case: CheckCase, timeout: float) -> Answer: ...

    def close(self) -> None: ...


def reference_answer(case: Mapping[str, Any]) -> dict[str, object]:
    """The reference as a ``python:`` function: a run reply (without ``seq``) for a case.

    This is the in-process form of the protocol; ``python -m gi_conform.oracle.serve``
    wraps any such function as a ``jsonl:`` implementation. With ``"mode": "roundtrip"``
    an accepted document comes back as ``gi-conform fmt`` writes it.
    """
    xml = case["xml"]
    report = validate(xml if isinstance(xml, bytes | str) else str(xml))
    if report.accepted and report.domain is not None and case.get("mode") == Mode.ROUNDTRIP:
        return {"accepted": True, "xml": format_xml(report.domain)}
    if report.accepted and report.domain is not None:
        argv = flatten(build_argv(report.domain, Profile(str(case["profile"]))))
        return {"accepted": True, "argv": argv}
    return {
        "accepted": False,
        "message": report.text(),
        "rules": list(dict.fromkeys(v.rule for v in report.errors)),
    }


def _errored(kind: ErrorKind, context: str, elapsed: float = 0.0) -> Answer:
    return Answer(Verdict.ERRORED, context=context, error_kind=kind, elapsed=elapsed)


def _too_big(answer: Answer) -> bool:
    size = sum(len(a) for a in answer.argv) + len(answer.message) + len(answer.xml or "")
    return size > MAX_ARGV_CHARS


class _Deadline(BaseException):
    """Raised inside a ``python:`` implementation when its time is up.

    A BaseException so that the implementation's own ``except Exception`` cannot eat it.
    """


def _call_with_deadline(
    function: Callable[[dict[str, object]], object], argument: dict[str, object], timeout: float
) -> object:
    """Call ``function`` and stop it after ``timeout`` seconds (raises ``TimeoutError``).

    In the main thread SIGALRM interrupts the function itself (pure-Python loops and
    sleeps alike). Elsewhere the call runs in a daemon thread that is abandoned at the
    deadline: the case errors and the run goes on, but the thread may keep running.
    """
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):

        def alarm(_signum: int, _frame: FrameType | None) -> None:
            raise _Deadline

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            return function(argument)
        except _Deadline:
            raise TimeoutError from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    box: list[object] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            box.append(function(argument))
        except BaseException as error:
            errors.append(error)

    worker = threading.Thread(target=target, name="gi-conform-python-impl", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError
    if errors:
        raise errors[0]
    return box[0]


class _InProcess:
    """The reference and ``python:`` implementations: protocol replies, in-process."""

    def __init__(
        self,
        info: ImplInfo,
        function: Callable[[dict[str, object]], object],
        *,
        validate_protocol: bool = False,
        guarded: bool = True,
        mode: Mode = Mode.ARGV,
    ) -> None:
        self._mode = mode
        self._info = info
        self._function = function
        self._validate = validate_protocol
        self._guarded = guarded
        self._bytes_ok = not guarded
        """Only the reference takes documents as bytes; foreign functions get text."""

    @property
    def info(self) -> ImplInfo:
        return self._info

    def run(self, case: CheckCase, timeout: float) -> Answer:
        xml: str | bytes | None = case.xml
        if xml is None:
            if not self._bytes_ok:
                return Answer(Verdict.SKIPPED, reason=_NOT_TEXT)
            xml = case.data
        request: dict[str, object] = {"id": case.id, "xml": xml, "profile": str(case.profile)}
        if self._mode is not Mode.ARGV:
            request["mode"] = str(self._mode)
        start = time.monotonic()
        try:
            if self._guarded:
                reply = _call_with_deadline(self._function, request, timeout)
            else:
                reply = self._function(request)
        except TimeoutError:
            return _errored(
                ErrorKind.TIMEOUT, f"no answer within {timeout:g} s", time.monotonic() - start
            )
        except (Exception, SystemExit) as error:  # sys.exit() must not end the whole run
            return _errored(ErrorKind.CRASH, _crash_text(error), time.monotonic() - start)
        elapsed = time.monotonic() - start
        if not isinstance(reply, Mapping):
            return _errored(
                ErrorKind.PROTOCOL, f"returned {type(reply).__name__}, not a run reply", elapsed
            )
        try:
            answer = decode_run_reply(reply, None, validate=self._validate, mode=self._mode)
        except ProtocolError as error:
            return _errored(ErrorKind.PROTOCOL, str(error), elapsed)
        if _too_big(answer):
            return _errored(ErrorKind.OUTPUT_LIMIT, f"answer over {MAX_ARGV_CHARS} characters")
        return _with_elapsed(answer, elapsed)

    def close(self) -> None:
        return None


def _crash_text(error: BaseException) -> str:
    """The exception first, then the implementation's own frames (not the harness's)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != __file__]
    head = "".join(traceback.format_exception_only(error)).strip()
    return head + "\n" + "".join(traceback.format_list(frames[-8:])).rstrip()


def _with_elapsed(answer: Answer, elapsed: float) -> Answer:
    return replace(answer, elapsed=elapsed)


def _load_module(name: str) -> ModuleType:
    """A module by dotted name (the current directory first on the path) or by file path."""
    if name.endswith(".py") or os.sep in name:
        path = Path(name)
        if not path.is_file():
            raise SpecError(f"python: no such file {name}")
        spec = importlib.util.spec_from_file_location(f"_gi_conform_impl_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise SpecError(f"python: cannot load {name}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    return importlib.import_module(name)


def load_function(target: str) -> Callable[[dict[str, object]], object]:
    """The function ``MODULE:FUNCTION`` names; raises :class:`SpecError` when it cannot."""
    module_name, _, function_name = target.rpartition(":")
    try:
        module = _load_module(module_name)
    except SpecError:
        raise
    except Exception as error:
        raise SpecError(
            f"python:{target}: cannot import {module_name}: {type(error).__name__}: {error}"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise SpecError(f"python:{target}: {module_name} has no function {function_name}")
    checked: Callable[[dict[str, object]], object] = function
    return checked


def parse_argv_output(text: str) -> list[str]:
    """The argv a ``cmd:`` implementation printed, in any of the accepted layouts.

    libvirt ``.args`` text (`` \\``-continued lines, env-var prefix lines, shell quoting),
    one argument per line, one shell-quoted line, or a JSON array of strings.
    """
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        with contextlib.suppress(ValueError):
            data = json.loads(stripped)
            if isinstance(data, list) and all(isinstance(item, str) for item in data):
                return data
    if re.search(r"\\\r?\n", stripped):
        return read_args_text(stripped)
    lines = [line.rstrip("\r") for line in stripped.splitlines() if line.strip()]
    if len(lines) > 1 and all(not line.startswith("-") or " " not in line for line in lines):
        return lines
    return read_args_text(" ".join(lines))


class _Command:
    """``cmd:COMMAND``: one process per case. Exit 0 and argv on stdout means accepted,
    exit 1 and a rejection line on stderr rejected, anything else errored
    (:mod:`gi_conform.oracle.contract`)."""

    def __init__(
        self,
        command: str,
        *,
        memory_limit: int | None = None,
        mode: Mode = Mode.ARGV,
        reject_pattern: str | None = None,
    ) -> None:
        self._reject = compile_reject_pattern(reject_pattern)
        self._command = command
        self._mode = mode
        self._memory_limit = memory_limit
        self._info = ImplInfo(name=f"cmd:{command}")
        self._tmp = tempfile.TemporaryDirectory(prefix="gi-conform-cmd-")

    @property
    def info(self) -> ImplInfo:
        return self._info

    def _path(self, case: CheckCase) -> Path:
        if case.path is not None:
            return case.path
        path = Path(self._tmp.name) / f"{case.id}.xml"
        path.write_bytes(case.data)
        return path

    def command_line(self, case: CheckCase) -> str:
        quoted = shlex.quote(str(self._path(case)))
        command = self._command.replace("{profile}", str(case.profile))
        command = command.replace("{id}", shlex.quote(case.id))
        return command.replace("{}", quoted) if "{}" in command else f"{command} {quoted}"

    def run(self, case: CheckCase, timeout: float) -> Answer:
        env = dict(os.environ)
        env["GI_CONFORM_PROFILE"] = str(case.profile)
        env["GI_CONFORM_CASE_ID"] = case.id
        env["GI_CONFORM_MODE"] = str(self._mode)
        result = process.run_bounded(
            ["/bin/sh", "-c", self.command_line(case)],
            timeout=timeout,
            env=env,
            max_stdout=MAX_ARGV_CHARS,
            memory_limit=self._memory_limit,
        )
        elapsed = result.elapsed
        stderr = result.stderr.decode("utf-8", "replace")
        tail = stderr_tail(stderr)
        if result.timed_out:
            return _errored(ErrorKind.TIMEOUT, f"no answer within {timeout:g} s{tail}", elapsed)
        if result.overflow is not None:
            return _errored(
                ErrorKind.OUTPUT_LIMIT, f"{result.overflow} went past its limit; killed", elapsed
            )
        code = result.returncode
        assert code is not None
        if code < 0:
            name = _signal_name(-code)
            return _errored(ErrorKind.CRASH, f"killed by {name}{tail}", elapsed)
        if code in (126, 127):
            return _errored(ErrorKind.START, f"cannot run the command (exit {code}){tail}", elapsed)
        if code >= 128:
            name = _signal_name(code - 128)
            return _errored(
                ErrorKind.CRASH, f"exit status {code} ({name} in a shell){tail}", elapsed
            )
        if code != 0:
            answer = read_failed_exit(code, stderr, self._reject, elapsed)
            if answer.verdict is Verdict.REJECTED:
                return replace(answer, rules=rule_ids_in(stderr))
            return answer
        return self._accepted(result.stdout, stderr, elapsed)

    def _accepted(self, stdout: bytes, stderr: str, elapsed: float) -> Answer:
        """Exit 0: what stdout holds, when it can be read as an answer at all."""
        try:
            text = stdout.decode("utf-8")
        except UnicodeDecodeError:
            return _errored(ErrorKind.PROTOCOL, "stdout is not UTF-8 text", elapsed)
        if "\x00" in text:
            return _errored(ErrorKind.PROTOCOL, "stdout holds NUL bytes, not an argv", elapsed)
        runtime = crash_signature(stderr) if not text.strip() else None
        if runtime is not None:
            # Nothing printed and a stack on stderr: a wrapper that hid the exit status.
            context = f"{runtime} on stderr (exit 0, nothing on stdout){stderr_tail(stderr)}"
            return _errored(ErrorKind.CRASH, context, elapsed)
        if self._mode is Mode.ROUNDTRIP:
            # The document written back; nothing on stdout is a verdict-only answer.
            problem = unreadable_xml(text)
            if problem is not None:
                return _errored(ErrorKind.PROTOCOL, problem + stderr_tail(stderr), elapsed)
            return Answer(Verdict.ACCEPTED, xml=text if text.strip() else None, elapsed=elapsed)
        argv = parse_argv_output(text)
        problem = unreadable_argv(argv, text)
        if problem is not None:
            return _errored(ErrorKind.PROTOCOL, problem + stderr_tail(stderr), elapsed)
        return Answer(Verdict.ACCEPTED, argv=tuple(argv), elapsed=elapsed)

    def close(self) -> None:
        self._tmp.cleanup()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Jsonl:
    """``jsonl:COMMAND``: one long-running process speaking the protocol.

    A process that times out, dies, floods or breaks the protocol is killed and the case
    errors; the next case starts a fresh process (up to a few failed starts in a row).
    """

    def __init__(
        self,
        command: str,
        *,
        validate_protocol: bool,
        start_timeout: float,
        memory_limit: int | None = None,
        mode: Mode = Mode.ARGV,
    ) -> None:
        self._command = command
        self._mode = mode
        self._memory_limit = memory_limit
        self._validate = validate_protocol
        self._start_timeout = start_timeout
        self._process: Any = None
        self._reader: process.LineReader | None = None
        self._stderr: process.StderrTail | None = None
        self._seq = 0
        self._start_failures = 0
        self._start_error = ""
        self._info = ImplInfo(name=f"jsonl:{command}")
        self._start()

    @property
    def info(self) -> ImplInfo:
        return self._info

    def _start(self) -> bool:
        self._kill()
        try:
            child = process.spawn(
                ["/bin/sh", "-c", self._command], stdin=True, memory_limit=self._memory_limit
            )
        except OSError as error:
            return self._start_failed(f"cannot start: {error}")
        assert child.stdout is not None
        assert child.stderr is not None
        self._process = child
        self._reader = process.LineReader(child.stdout.fileno())
        self._stderr = process.StderrTail(child.stderr.fileno())
        deadline = time.monotonic() + self._start_timeout
        try:
            self._write(start_request(), deadline)
            line = self._reader.readline(deadline)
            self._info = decode_start_reply(line, validate=self._validate)
        except (TimeoutError, EOFError, OverflowError, OSError, ProtocolError) as error:
            return self._start_failed(f"start failed: {_describe(error)}{self._died()}")
        self._start_failures = 0
        self._start_error = ""
        return True

    def _start_failed(self, message: str) -> bool:
        self._kill()
        self._start_failures += 1
        self._start_error = message
        return False

    def _write(self, data: bytes, deadline: float) -> None:
        assert self._process is not None
        assert self._process.stdin is not None
        process.write_all(self._process.stdin.fileno(), data, deadline)

    def _died(self) -> str:
        """Exit status and stderr tail of a process that is going away, for context."""
        if self._process is None:
            return ""
        code = self._process.poll()
        if code is None:
            with contextlib.suppress(Exception):
                code = self._process.wait(timeout=0.2)
        status = ""
        if code is not None:
            status = f" (exit {code})" if code >= 0 else f" (killed by {_signal_name(-code)})"
        tail = stderr_tail(self._stderr.text(wait=0.2)) if self._stderr is not None else ""
        return status + tail

    def _kill(self) -> None:
        if self._process is not None:
            process.kill_group(self._process)
        self._process = None
        self._reader = None

    def run(self, case: CheckCase, timeout: float) -> Answer:
        gave_up = self._start_failures >= START_FAILURES_BEFORE_GIVING_UP
        if self._process is None and (gave_up or not self._start()):
            return _errored(ErrorKind.START, self._start_error)
        assert self._reader is not None
        if case.xml is None:
            return Answer(Verdict.SKIPPED, reason=_NOT_TEXT)
        self._seq += 1
        start = time.monotonic()
        deadline = start + timeout
        try:
            request = run_request(self._seq, case.id, case.xml, str(case.profile), str(self._mode))
            self._write(request, deadline)
            line = self._reader.readline(deadline)
            answer = decode_run_line(line, self._seq, validate=self._validate, mode=self._mode)
        except TimeoutError:
            context = f"no answer within {timeout:g} s"
            return self._fail(ErrorKind.TIMEOUT, context, start, with_died=False)
        except (EOFError, BrokenPipeError, ConnectionError) as error:
            return self._fail(ErrorKind.CRASH, f"died mid-protocol: {_describe(error)}", start)
        except OverflowError as error:
            return self._fail(ErrorKind.OUTPUT_LIMIT, _describe(error), start, with_died=False)
        except ProtocolError as error:
            return self._fail(ErrorKind.PROTOCOL, str(error), start, with_died=False)
        elapsed = time.monotonic() - start
        if _too_big(answer):
            return self._fail(ErrorKind.OUTPUT_LIMIT, "answer too large", start, with_died=False)
        return _with_elapsed(answer, elapsed)

    def _fail(
        self, kind: ErrorKind, context: str, start: float, *, with_died: bool = True
    ) -> Answer:
        extra = self._died() if with_died else ""
        self._kill()
        return _errored(kind, context + extra, time.monotonic() - start)

    def close(self) -> None:
        child = self._process
        if child is not None:
            with contextlib.suppress(Exception):
                self._write(stop_request(), time.monotonic() + _STOP_GRACE)
                child.wait(timeout=_STOP_GRACE)
        self._kill()


class _RealLibvirt:
    """``libvirt[:DIR]``: real ``virsh domxml-to-native`` per case (see gi_conform.libvirt.install).

    Each case is a fresh embedded-driver process, so libvirt's process-wide ``gi``
    counter starts at 0 every time and answers are comparable.
    """

    def __init__(self, target: str, *, memory_limit: int | None = None) -> None:
        self._memory_limit = memory_limit
        try:
            self._libvirt = locate(Path(target) if target else None)
        except LibvirtUnavailable as error:
            raise SpecError(f"--impl libvirt: {error}") from None
        self._info = ImplInfo(
            f"libvirt {self._libvirt.version}",
            self._libvirt.version,
            dialects=("libvirt", "none"),
            language="c",
            modes=(Mode.ARGV,),
        )

    @property
    def info(self) -> ImplInfo:
        return self._info

    def run(self, case: CheckCase, timeout: float) -> Answer:
        start = time.monotonic()
        try:
            result = convert(
                case.data,
                libvirt=self._libvirt,
                timeout=timeout,
                memory_limit=self._memory_limit,
            )
        except LibvirtTimeout as error:
            return _errored(ErrorKind.TIMEOUT, _describe(error), time.monotonic() - start)
        except (LibvirtError, OSError) as error:
            return _errored(ErrorKind.CRASH, _describe(error), time.monotonic() - start)
        if result.accepted:
            return Answer(Verdict.ACCEPTED, argv=result.argv, elapsed=result.seconds)
        environment = environment_reason(result.message)
        if environment is not None:  # the chroot's fact, not libvirt's verdict
            return Answer(
                Verdict.SKIPPED,
                message=result.message.strip(),
                reason=f"{environment} ({result.message.strip()})",
                elapsed=result.seconds,
            )
        return Answer(Verdict.REJECTED, message=result.message.strip(), elapsed=result.seconds)

    def close(self) -> None:
        return None


def _describe(error: BaseException) -> str:
    text = str(error)
    return text if text else type(error).__name__


def _open_xml_layer(
    spec: ImplementationSpec,
    *,
    validate_protocol: bool,
    start_timeout: float,
    memory_limit: int | None,
) -> Implementation:
    """``libvirt-xml``, ``libvirt-schema`` or ``virtinst`` (a ``jsonl:`` server in the chroot)."""
    try:
        if spec.kind != "virtinst":
            return open_xml_layer(spec.kind, spec.target, memory_limit=memory_limit)
        libvirt = locate(Path(spec.target) if spec.target else None)
    except LibvirtUnavailable as error:
        raise SpecError(f"--impl {spec.kind}: {error}") from None
    library = libvirt.root / VIRTINST_PATH.lstrip("/") / "virtinst"
    if not library.is_dir():
        raise SpecError(
            f"--impl virtinst: no virtinst in {libvirt.root} (gi-conform libvirt setup installs it)"
        )
    return _Jsonl(
        virtinst_command(libvirt),
        validate_protocol=validate_protocol,
        start_timeout=max(start_timeout, 30.0),
        memory_limit=memory_limit,
        mode=Mode.ROUNDTRIP,
    )


@contextlib.contextmanager
def open_implementation(
    spec: ImplementationSpec | str,
    *,
    validate_protocol: bool = False,
    start_timeout: float = 10.0,
    memory_limit: int | None = None,
    mode: Mode = Mode.ARGV,
    reject_pattern: str | None = None,
) -> Iterator[Implementation]:
    """The adapter for ``spec``, closed (processes stopped, files removed) on exit.

    ``memory_limit`` bounds the address space of every child process (``cmd:``,
    ``jsonl:``, ``libvirt``); in-process implementations share the harness's.
    ``mode`` is what every case asks for: an argv, or the document written back.
    ``reject_pattern`` is a ``cmd:`` implementation's rejection line (None: the default,
    see :mod:`gi_conform.oracle.contract`). Raises :class:`SpecError` when a ``python:``
    target cannot be imported, the implementation cannot answer in ``mode``, or the
    reject pattern is unusable or given for another kind.
    """
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    check_reject_pattern(parsed, reject_pattern)
    implementation: Implementation
    if parsed.kind == "reference":
        implementation = _InProcess(
            ImplInfo("gi-conform reference", __version__, language="python"),
            reference_answer,
            validate_protocol=validate_protocol,
            guarded=False,
            mode=mode,
        )
    elif parsed.kind == "python":
        implementation = _InProcess(
            ImplInfo(f"python:{parsed.target}", language="python"),
            load_function(parsed.target),
            validate_protocol=validate_protocol,
            mode=mode,
        )
    elif parsed.kind == "cmd":
        implementation = _Command(
            parsed.target, memory_limit=memory_limit, mode=mode, reject_pattern=reject_pattern
        )
    elif parsed.kind == "libvirt":
        if mode is not Mode.ARGV:
            raise SpecError("--impl libvirt converts to an argv: use --mode argv")
        implementation = _RealLibvirt(parsed.target, memory_limit=memory_limit)
    elif parsed.kind in XML_LAYER_KINDS:
        if mode is not Mode.ROUNDTRIP:
            raise SpecError(
                f"--impl {parsed.kind} reads and writes documents: use --mode roundtrip"
            )
        implementation = _open_xml_layer(
            parsed,
            validate_protocol=validate_protocol,
            start_timeout=start_timeout,
            memory_limit=memory_limit,
        )
    else:
        implementation = _Jsonl(
            parsed.target,
            validate_protocol=validate_protocol,
            start_timeout=start_timeout,
            memory_limit=memory_limit,
            mode=mode,
        )
    try:
        yield implementation
    finally:
        implementation.close()
