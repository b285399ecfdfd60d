"""Crash versus rejection, and unreadable output (``gi_conform.oracle.contract``).

A rejection scores a pass on an invalid document, so nothing that is not one may read as
one: a crash of any common runtime, a non-zero exit other than the documented one, a
stack returned as a rejection's message. And an answer that cannot be read is an error,
never an empty argv. The real runtimes are run in ``test_runtime_crashes.py``; the
stderr samples below are copied from their real output.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import jsonschema
import pytest

from gi_conform.oracle.contract import (
    CRASH_SIGNATURES,
    DEFAULT_REJECT_PATTERN,
    RejectPatternError,
    compile_reject_pattern,
    crash_signature,
    read_failed_exit,
    unreadable_argv,
    unreadable_xml,
)
from gi_conform.oracle.impls import parse_argv_output
from gi_conform.oracle.model import ErrorKind, Mode, Outcome, Verdict
from gi_conform.oracle.protocol import ProtocolError, decode_run_reply
from gi_conform.oracle.report import json_report, summary
from gi_conform.oracle.runner import CheckOptions, run_check
from gi_conform.resources import cases_dir, reference_dir
from tests.helpers import MUTANTS_DIR, run_cli

PYTHON = shlex.quote(sys.executable)
DEFAULT = compile_reject_pattern(None)
WRAPPER = shlex.quote(str(MUTANTS_DIR / "as_command.py"))
HONEST_CASES = ("seed-*", "libvirt-*", "gi-node-*", "xml-*", "numa-cpus-*")

VIRSH_REJECTIONS = (
    # libvirt 12.8's exact messages (/work/shared/notes/libvirt-real.md, measured).
    "error: invalid argument: Failed to parse bitmap 'abc'",
    "error: unsupported configuration: Invalid value of 'nodeset': ^3",
    "error: XML error: Exactly one 'cell' element per guest NUMA cell allowed, "
    "non-contiguous ranges or ranges not starting from 0 are not allowed",
    "error: XML error: Duplicate NUMA cell info for cell id '0'",
    "error: unsupported configuration: NUMA cells 1 and 0 have overlapping vCPU ids",
    "error: internal error: Number of CPUs in <numa> exceeds the <vcpu> count",
)

CRASHES = {
    "Python traceback": """Traceback (most recent call last):
  File "/opt/impl/convert.py", line 12, in <module>
    cells[node]
KeyError: 9
""",
    "Node.js uncaught exception": """/opt/impl/crash.js:12
  throw new TypeError(`cannot read properties of a ${xml.length}-character document`);
  ^

TypeError: cannot read properties of a 139-character document
    at convert (/opt/impl/crash.js:12:9)
    at Object.<anonymous> (/opt/impl/crash.js:15:22)
    at Module._compile (node:internal/modules/cjs/loader:1521:14)

Node.js v20.20.2
""",
    "Go panic": """panic: runtime error: index out of range [7] with length 0

goroutine 1 [running]:
main.convert({0x7ffc958ca9fc, 0xf})
\t/opt/impl/crash.go:19 +0x92
""",
    "Rust panic": """
thread 'main' (31834) panicked at src/main.rs:12:10:
index out of bounds: the len is 0 but the index is 7
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
""",
    "Java uncaught exception": """Exception in thread "main" \
java.lang.ArrayIndexOutOfBoundsException: Index 7 out of bounds for length 0
\tat Crash.convert(Crash.java:13)
\tat Crash.main(Crash.java:17)
""",
    "sanitizer report": """=================================================================
==26581==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000038
READ of size 4 at 0x602000000038 thread T0
    #0 0x5650eaf17282 in main /opt/impl/crash.c:3
""",
}
"""One real crash per runtime (paths shortened)."""

MORE_CRASHES = (
    # Rust before 1.73: the message inside the panicked line.
    "thread 'main' panicked at 'index out of bounds: the len is 0', src/main.rs:12:5\n",
    # Go with GOTRACEBACK=none: the panic line alone.
    "panic: runtime error: index out of range [7] with length 0\n",
    # Node, an async function's rejection: frames only.
    "RangeError: bad cells\n    at f ([eval]:1:27)\n    at [eval]:1:58\n",
    # Python, a chained exception group.
    '  + Exception Group Traceback (most recent call last):\n  |   File "x.py", line 1\n',
    # Java, a wrapped cause.
    "Caused by: java.lang.NullPointerException\n\tat Impl.cells(Impl.java:40)\n",
    # Node 20, a promise rejected with a string: no frame of the program's own.
    "node:internal/process/promises:389\n      new UnhandledPromiseRejection(reason);\n",
    "UnhandledPromiseRejection: This error originated either by throwing inside of an async "
    'function without a catch block. The promise rejected with the reason "x".\n',
    # Node's REPL and Deno (which starts the line with error:).
    "Uncaught Error: boom\n",
    "error: Uncaught (in promise) Error: boom\n",
    # Python 3.11 with faulthandler, a segfault in C code.
    "Fatal Python error: Segmentation fault\n\nCurrent thread 0x00007f63ac61fb80:\n",
    # Go, a deadlock: no panic line.
    "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\n",
)


def _corpus_errors() -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(cases_dir().glob("*.err"))]


# ------------------------------------------------------------------ rejections


def test_the_reference_cli_rejection_is_a_rejection() -> None:
    """``gi-conform argv`` on an invalid document: exit 1, ``error RULE-ID line N: ...``
    after warnings; read as a rejection with the default pattern."""
    path = cases_dir() / "gi-node-syntax-empty.xml"
    done = subprocess.run(
        [sys.executable, "-m", "gi_conform.cli", "argv", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("warning ")
    answer = read_failed_exit(done.returncode, done.stderr, DEFAULT)
    assert answer.verdict is Verdict.REJECTED
    assert answer.message == done.stderr


@pytest.mark.parametrize("text", _corpus_errors() + list(VIRSH_REJECTIONS))
def test_every_corpus_error_and_virsh_message_is_a_rejection(text: str) -> None:
    assert crash_signature(text) is None
    assert read_failed_exit(1, text, DEFAULT).verdict is Verdict.REJECTED


@pytest.mark.parametrize(
    "text",
    [
        "error: node 9 at line 24: no such cell\n    at line 24, column 5\n",
        "error: the guest would panic: no memory on node 0\n",
        "warning: slow\nerror: GI-NODE-UNKNOWN: node 9 is not a cell\n",
        "error ValueError: not a nodeset\n",
    ],
)
def test_rejections_that_mention_stacks_words_stay_rejections(text: str) -> None:
    assert read_failed_exit(1, text, DEFAULT).verdict is Verdict.REJECTED


# ------------------------------------------------------------------ crashes


def test_every_signature_has_a_real_sample() -> None:
    assert {signature.runtime for signature in CRASH_SIGNATURES} >= set(CRASHES)


@pytest.mark.parametrize(("runtime", "stderr"), sorted(CRASHES.items()))
@pytest.mark.parametrize("says_error", [False, True])
def test_a_crash_signature_is_never_a_rejection(
    runtime: str, stderr: str, says_error: bool
) -> None:
    text = ("error: cannot convert /tmp/case.xml\n" if says_error else "") + stderr
    assert crash_signature(text) == runtime
    answer = read_failed_exit(1, text, DEFAULT, elapsed=0.5)
    assert answer.verdict is Verdict.ERRORED
    assert answer.error_kind is ErrorKind.CRASH
    assert answer.context.startswith(f"{runtime} (exit 1), not a rejection: ")
    assert answer.context.endswith(text.strip()), "stderr is kept"
    assert answer.elapsed == 0.5


@pytest.mark.parametrize("stderr", MORE_CRASHES)
def test_other_shapes_of_the_same_crashes(stderr: str) -> None:
    assert crash_signature(stderr) is not None
    assert read_failed_exit(1, "error: x\n" + stderr, DEFAULT).verdict is Verdict.ERRORED


def test_every_signature_is_seen_in_a_sample() -> None:
    lines = [line for text in (*CRASHES.values(), *MORE_CRASHES) for line in text.splitlines()]
    for signature in CRASH_SIGNATURES:
        assert any(signature.pattern.search(line) for line in lines), signature


def test_the_headline_is_what_went_wrong() -> None:
    heads = {
        runtime: read_failed_exit(1, stderr, DEFAULT).context.splitlines()[0]
        for runtime, stderr in CRASHES.items()
    }
    assert heads["Python traceback"].endswith(": KeyError: 9")
    assert heads["Node.js uncaught exception"].endswith(
        ": TypeError: cannot read properties of a 139-character document"
    )
    assert "panic: runtime error: index out of range" in heads["Go panic"]
    assert "panicked at src/main.rs:12:10" in heads["Rust panic"]
    assert "ArrayIndexOutOfBoundsException" in heads["Java uncaught exception"]
    assert "AddressSanitizer: heap-buffer-overflow" in heads["sanitizer report"]


@pytest.mark.parametrize(
    ("code", "stderr", "says"),
    [
        (1, "", "exit status 1 with nothing on stderr"),
        (1, "cannot convert\n", "exit status 1 with no rejection line on stderr"),
        (1, "Error: cannot convert\n", "no rejection line"),
        (2, "error: cannot convert\n", "exit status 2: a rejection exits 1"),
        (101, "error: cannot convert\n", "exit status 101"),
        (125, "error: x\n", "exit status 125"),
    ],
)
def test_any_other_failure_is_a_crash(code: int, stderr: str, says: str) -> None:
    answer = read_failed_exit(code, stderr, DEFAULT)
    assert answer.verdict is Verdict.ERRORED
    assert answer.error_kind is ErrorKind.CRASH
    assert says in answer.context
    assert stderr.strip() in answer.context


def test_a_declared_pattern_replaces_the_default() -> None:
    custom = compile_reject_pattern(r"^REJECTED ")
    assert read_failed_exit(1, "REJECTED GI-NODE-UNKNOWN: node 9\n", custom).verdict is (
        Verdict.REJECTED
    )
    # Under a declared pattern, the default form is no rejection.
    assert read_failed_exit(1, "error: node 9\n", custom).verdict is Verdict.ERRORED
    # ... and a crash is still a crash.
    stack = "REJECTED maybe\n" + CRASHES["Go panic"]
    assert read_failed_exit(1, stack, custom).error_kind is ErrorKind.CRASH


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("(", "missing ), unterminated subpattern"),
        ("", "empty"),
        (".*", "empty line"),
        ("^", "empty line"),
        ("x?", "empty line"),
    ],
)
def test_an_unusable_pattern_is_refused(pattern: str, says: str) -> None:
    with pytest.raises(RejectPatternError, match=says.replace("(", r"\(").replace(")", r"\)")):
        compile_reject_pattern(pattern)


def test_the_default_pattern_is_documented() -> None:
    assert DEFAULT.pattern == DEFAULT_REJECT_PATTERN == "^error[: ]"


# ------------------------------------------------------------------ unreadable output


@pytest.mark.parametrize(
    "text",
    [
        "hello world\n",
        "hello\n",
        '["hello", "world"]',
        "/usr/bin/true\n",
        "Segmentation fault (core dumped)\n",
        "LC_ALL=C hello world\n",
    ],
)
def test_output_with_no_qemu_option_is_unreadable(text: str) -> None:
    problem = unreadable_argv(parse_argv_output(text), text)
    assert problem is not None
    assert problem.startswith("no QEMU option in the output: ")
    assert repr(text.strip()) in problem


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "[]",
        "LC_ALL=C /usr/bin/qemu-system-x86_64\n",
        "LC_ALL=C \\\n/usr/bin/qemu-system-x86_64 \\\n-numa node,nodeid=0\n",
        "-machine hmat=on\n",
    ],
)
def test_readable_outputs_stay_readable(text: str) -> None:
    """Nothing at all is an empty argv: the reference prints nothing for a document
    without NUMA, host devices or initiators (``gi-conform argv`` on such a domain)."""
    assert unreadable_argv(parse_argv_output(text), text) is None


def test_every_golden_argv_is_readable() -> None:
    goldens = sorted(cases_dir().glob("*.args"))
    assert len(goldens) > 100
    for path in goldens:
        text = path.read_text(encoding="utf-8")
        assert unreadable_argv(parse_argv_output(text), text) is None, path.name


def test_the_reference_prints_nothing_for_a_domain_without_numa() -> None:
    """Why empty output must stay an (empty) accepted argv."""
    xml = (
        "<domain type='kvm'><name>plain</name><memory unit='GiB'>4</memory><vcpu>2</vcpu>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>"
    )
    done = subprocess.run(
        [sys.executable, "-m", "gi_conform.cli", "argv", "-"],
        input=xml,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "")


@pytest.mark.parametrize(
    ("text", "readable"),
    [
        ("hello world", False),
        ("", True),
        ("  <domain/>", True),
        ("\ufeff<?xml?>", True),
        ("domain", False),
    ],
)
def test_a_document_written_back_must_be_xml(text: str, readable: bool) -> None:
    assert (unreadable_xml(text) is None) is readable


# ------------------------------------------------------------------ protocol replies


def test_a_stack_as_a_rejected_reply_is_a_crash() -> None:
    reply = {"accepted": False, "message": CRASHES["Python traceback"]}
    answer = decode_run_reply(reply, None)
    assert answer.verdict is Verdict.ERRORED
    assert answer.error_kind is ErrorKind.CRASH
    assert "KeyError: 9" in answer.context
    honest = {"accepted": False, "message": "error: node 9 is not a cell"}
    assert decode_run_reply(honest, None).verdict is Verdict.REJECTED


@pytest.mark.parametrize(
    ("reply", "mode", "says"),
    [
        ({"accepted": True, "argv": ["hello", "world"]}, "argv", "no QEMU option"),
        ({"accepted": True, "xml": "the document"}, "roundtrip", "no XML document"),
        ({"accepted": "yes"}, "argv", "none of accepted/rejected/skipped/errored"),
        ({"accepted": True, "argv": "-numa node"}, "argv", "a list of strings"),
    ],
)
def test_an_unreadable_reply_is_a_protocol_error(
    reply: dict[str, object], mode: str, says: str
) -> None:
    with pytest.raises(ProtocolError, match=says):
        decode_run_reply(reply, None, mode=mode)


def test_an_empty_argv_reply_is_readable() -> None:
    assert decode_run_reply({"accepted": True, "argv": []}, None).verdict is Verdict.ACCEPTED


@pytest.mark.parametrize(
    ("function", "kind", "mode"),
    [
        ("not_a_mapping", ErrorKind.PROTOCOL, Mode.ARGV),
        ("malformed", ErrorKind.PROTOCOL, Mode.ARGV),
        ("hello_argv", ErrorKind.PROTOCOL, Mode.ARGV),
        ("stack_as_rejection", ErrorKind.CRASH, Mode.ARGV),
        ("prose_xml", ErrorKind.PROTOCOL, Mode.ROUNDTRIP),
    ],
)
def test_python_replies_that_are_no_answer_error(
    function: str, kind: ErrorKind, mode: Mode
) -> None:
    options = CheckOptions(
        impl=f"python:tests.mutants.python_misbehaving:{function}",
        mode=mode,
        generated=0,
        patterns=("seed-example", "two-gpus-nodeset", "gi-node-unknown", "xml-malformed"),
    )
    run = run_check(options)
    errored = {r.case.id: r.answer.error_kind for r in run.results if r.outcome is Outcome.ERRORED}
    assert set(errored.values()) == {kind}, summary(run)
    # prose_xml only breaks its accepted answers; the rest break every one.
    expected = {
        r.case.id for r in run.results if r.case.expectation.accepted or function != "prose_xml"
    }
    assert set(errored) == expected
    assert not [r for r in run.results if r.outcome is Outcome.PASSED and r.case.id in errored]


# ------------------------------------------------------------------ honest wrappers


@pytest.mark.parametrize(
    ("style", "pattern"), [("reference", None), ("virsh", None), ("custom", "^REJECTED ")]
)
def test_an_honest_command_passes_in_every_rejection_style(style: str, pattern: str | None) -> None:
    options = CheckOptions(
        impl=f"cmd:{PYTHON} {WRAPPER} --style={style} reference {{}}",
        generated=0,
        patterns=HONEST_CASES,
        strict=True,
        messages=True,
        reject_pattern=pattern,
        jobs=2,
    )
    run = run_check(options)
    assert run.ok, summary(run)
    assert any(r.answer.verdict is Verdict.REJECTED for r in run.results)
    assert all(r.outcome is Outcome.PASSED for r in run.results)
    report = json_report(run)
    assert report["options"].get("reject_pattern") == pattern
    schema = json.loads((reference_dir() / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert (f"reject pattern {pattern!r}" in summary(run)) is (pattern is not None)


def test_the_reference_cli_as_a_command_passes() -> None:
    """``gi-conform argv`` itself, the most honest ``cmd:`` implementation there is."""
    command = f"{PYTHON} -m gi_conform.cli argv --profile {{profile}} {{}}"
    options = CheckOptions(
        impl=f"cmd:{command}",
        generated=0,
        patterns=("seed-example", "gi-node-*", "xml-malformed*", "no-numa-no-gi"),
        strict=True,
        messages=True,
        jobs=2,
    )
    run = run_check(options)
    assert run.ok, summary(run)
    assert {r.answer.verdict for r in run.results} == {Verdict.ACCEPTED, Verdict.REJECTED}


def test_without_its_pattern_a_custom_rejection_is_no_rejection() -> None:
    options = CheckOptions(
        impl=f"cmd:{PYTHON} {WRAPPER} --style=custom reference {{}}",
        generated=0,
        patterns=("gi-node-*",),
        jobs=2,
    )
    run = run_check(options)
    invalid = [r for r in run.results if not r.case.expectation.accepted]
    assert invalid
    assert {(r.outcome, r.answer.error_kind) for r in invalid} == {
        (Outcome.ERRORED, ErrorKind.CRASH)
    }
    assert all("--reject-pattern" in r.reason for r in invalid)


# ------------------------------------------------------------------ options


def test_check_refuses_an_unusable_reject_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    impl = f"cmd:{PYTHON} {WRAPPER} reference {{}}"
    assert run_cli("check", "--impl", impl, "--reject-pattern", "(", "--generated", "0") == 2
    assert "--reject-pattern '('" in capsys.readouterr().err
    assert run_cli("check", "--reject-pattern", "^no ", "--generated", "0") == 2
    assert "applies to cmd: implementations only, not reference" in capsys.readouterr().err


def test_check_takes_a_reject_pattern(capsys: pytest.CaptureFixture[str]) -> None:
    impl = f"cmd:{PYTHON} {WRAPPER} --style=custom reference {{}}"
    args = ("check", "--impl", impl, "--generated", "0", "--case", "gi-node-unknown")
    assert run_cli(*args, "--reject-pattern", "^REJECTED ") == 0
    assert run_cli(*args) == 1
    assert "no rejection line on stderr" in capsys.readouterr().out
