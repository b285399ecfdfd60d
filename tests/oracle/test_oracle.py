"""The conformance oracle's parts: specs, output formats, protocol schemas, comparison,
reports, known deviations, shrinking and the ``check`` command's exit codes.

Mutants live in ``test_oracle_mutants.py``; misbehaving processes in
``test_oracle_robustness.py``; the pytest plugin in ``test_oracle_plugin.py``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

from gi_conform.argv.build import Profile, build_argv, flatten, render_args
from gi_conform.cli.main import main
from gi_conform.document.validate import validate
from gi_conform.oracle.cases import corpus_cases
from gi_conform.oracle.compare import compare, gi_subset
from gi_conform.oracle.impls import SpecError, parse_argv_output, parse_spec
from gi_conform.oracle.model import Answer, FailureKind, Outcome, Verdict
from gi_conform.oracle.protocol import (
    MESSAGES,
    PROTOCOL_VERSION,
    run_request,
    schema,
    schema_problems,
    start_request,
    stop_request,
)
from gi_conform.oracle.report import json_report, junit_xml, summary
from gi_conform.oracle.runner import (
    CheckOptions,
    CheckRun,
    KnownDeviationsError,
    load_known_deviations,
    run_check,
)
from gi_conform.resources import cases_dir, reference_dir
from tests.helpers import MUTANTS_DIR, corpus_case

MUTANTS = "python:tests.mutants.mutants"
PYTHON = shlex.quote(sys.executable)
GENERATED = 20
"""Small on purpose: every test that generates asks for the same (cached) draws."""


# --- specs and output formats -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [
        ("reference", "reference", ""),
        ("python:pkg.mod:func", "python", "pkg.mod:func"),
        ("cmd:tool --x {}", "cmd", "tool --x {}"),
        ("jsonl:server --stdio", "jsonl", "server --stdio"),
    ],
)
def test_spec_forms(text: str, kind: str, target: str) -> None:
    spec = parse_spec(text)
    assert (spec.kind, spec.target) == (kind, target)


@pytest.mark.parametrize("text", ["", "ref", "cmd:", "python:nofunction", "ssh:host"])
def test_bad_specs_are_refused(text: str) -> None:
    with pytest.raises(SpecError):
        parse_spec(text)


def test_cmd_output_layouts_all_give_the_same_argv() -> None:
    domain = validate((cases_dir() / "seed-example.xml").read_bytes()).domain
    assert domain is not None
    options = build_argv(domain, Profile.SEED)
    argv = flatten(options)
    args_text = "LC_ALL=C \\\nPATH=/bin \\\n/usr/bin/qemu-system-aarch64 \\\n" + render_args(
        options
    )
    one_per_line = "\n".join(argv) + "\n"
    one_line = shlex.join(argv) + "\n"
    as_json = json.dumps(argv)
    assert gi_subset(parse_argv_output(args_text)) == gi_subset(argv)
    assert parse_argv_output(one_per_line) == argv
    assert parse_argv_output(one_line) == argv
    assert parse_argv_output(as_json) == argv
    assert parse_argv_output("") == []


# --- the protocol -------------------------------------------------------------------------


@pytest.mark.parametrize("name", MESSAGES)
def test_protocol_schemas_are_valid_and_versioned(name: str) -> None:
    loaded = schema(name)
    jsonschema.Draft202012Validator.check_schema(loaded)
    assert loaded["$id"] == f"urn:gi-conform:protocol:{PROTOCOL_VERSION}:{name}"
    assert (reference_dir() / "protocol" / f"{name}.json").is_file()


def test_harness_requests_follow_their_schemas() -> None:
    assert schema_problems("start", json.loads(start_request())) == []
    assert schema_problems("run", json.loads(run_request(3, "x", "<domain/>", "seed"))) == []
    assert schema_problems("stop", json.loads(stop_request())) == []


@pytest.mark.parametrize(
    ("reply", "valid"),
    [
        ({"seq": 1, "accepted": True, "argv": ["-numa", "node,nodeid=0"]}, True),
        ({"seq": 1, "accepted": False, "message": "no", "rules": ["GI-NODE-UNKNOWN"]}, True),
        ({"seq": 1, "skipped": True, "reason": "seed dialect unsupported"}, True),
        ({"seq": 1, "errored": True, "context": {"traceback": "..."}}, True),
        ({"seq": 1, "accepted": True}, False),
        ({"seq": 1, "accepted": True, "argv": [1]}, False),
        ({"seq": 1, "accepted": False, "message": "x", "rules": ["lower-case"]}, False),
        ({"accepted": True, "argv": []}, False),
        ({"seq": 1, "skipped": False}, False),
    ],
)
def test_run_reply_schema(reply: dict[str, object], valid: bool) -> None:
    assert (schema_problems("run-reply", reply) == []) is valid


def test_start_reply_schema_rejects_another_version() -> None:
    good = {"version": 1, "implementation": {"name": "x", "version": "1", "dialects": ["seed"]}}
    assert schema_problems("start-reply", good) == []
    assert schema_problems("start-reply", {**good, "version": 2})


# --- comparison ---------------------------------------------------------------------------


def test_the_reference_passes_everything_strictly() -> None:
    """The default main job: the reference itself, corpus + 200 generated, 100%."""
    run = run_check(CheckOptions(strict=True, messages=True))
    assert run.ok, summary(run)
    assert run.conformance == 100.0
    assert len(run.results) == len(corpus_cases()) + 200
    sources = {r.case.source for r in run.results}
    assert sources == {"corpus", "generated"}
    generated = [r for r in run.results if r.case.source == "generated"]
    assert {r.case.expectation.accepted for r in generated} == {True, False}


def test_a_foreign_spelling_of_the_same_meaning_passes_but_not_strictly() -> None:
    case = corpus_case("disjoint-cpus")
    argv = list(case.expectation.argv)
    respelled = [
        a.replace("cpus=0-3,cpus=8-11", "cpus=8-11,cpus=0-3") if a.startswith("node,") else a
        for a in argv
    ]
    assert respelled != argv
    answer = Answer(Verdict.ACCEPTED, argv=("/usr/bin/qemu", "-S", *respelled))
    failures, _ = compare(case, answer)
    assert failures == []
    failures, diff = compare(case, answer, strict=True)
    assert [f.key for f in failures] == ["STRICT-ARGV"]
    assert "+-numa node,nodeid=0,cpus=8-11,cpus=0-3" in diff


def test_verdict_failures_name_the_rule() -> None:
    case = corpus_case("gi-node-unknown")
    failures, _ = compare(case, Answer(Verdict.ACCEPTED, argv=()))
    assert [(f.kind, f.key) for f in failures] == [(FailureKind.VERDICT, "GI-NODE-UNKNOWN")]
    valid = corpus_case("seed-example")
    failures, _ = compare(valid, Answer(Verdict.REJECTED, message="nope"))
    assert [f.key for f in failures] == ["VERDICT-REJECTS-VALID"]


def test_messages_compare_rule_ids_only_when_asked() -> None:
    case = corpus_case("gi-node-unknown")
    vague = Answer(Verdict.REJECTED, message="bad node", rules=())
    assert compare(case, vague) == ([], "")
    failures, _ = compare(case, vague, messages=True)
    assert [(f.kind, f.key) for f in failures] == [(FailureKind.MESSAGES, "GI-NODE-UNKNOWN")]
    precise = Answer(Verdict.REJECTED, message="x", rules=("GI-NODE-UNKNOWN",))
    assert compare(case, precise, messages=True) == ([], "")


def test_a_non_utf8_document_is_skipped_for_text_protocols_only() -> None:
    options = CheckOptions(
        impl=f"{MUTANTS}:reference", generated=0, patterns=("xml-malformed-latin1",)
    )
    (result,) = run_check(options).results
    assert result.outcome is Outcome.SKIPPED
    assert "UTF-8" in result.reason
    (reference,) = run_check(CheckOptions(generated=0, patterns=("xml-malformed-latin1",))).results
    assert reference.outcome is Outcome.PASSED


def test_python_functions_from_files_and_their_failures(tmp_path: Path) -> None:
    source = tmp_path / "impl.py"
    source.write_text(
        "import sys\n"
        "def exits(case):\n    sys.exit(3)\n"
        "def bad(case):\n    return {'accepted': True, 'argv': [1]}\n"
        "def text(case):\n    return 'not a reply'\n"
    )
    for function, kind in (("exits", "crash"), ("bad", "protocol"), ("text", "protocol")):
        options = CheckOptions(
            impl=f"python:{source}:{function}", generated=0, patterns=("seed-example",)
        )
        (result,) = run_check(options).results
        assert result.outcome is Outcome.ERRORED
        assert str(result.answer.error_kind) == kind, result.reason


# --- reports ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def failing_run() -> CheckRun:
    return run_check(CheckOptions(impl=f"{MUTANTS}:drops_last_initiator", generated=GENERATED))


def test_json_report_follows_its_schema(failing_run: CheckRun) -> None:
    report = json_report(failing_run)
    loaded = json.loads((reference_dir() / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(loaded)
    jsonschema.validate(report, loaded)
    assert report["summary"]["failed"] > 0
    keys = {entry["key"] for entry in report["failures_by_key"]}
    assert {"FACT-GI-PAIRS", "INV-GI-PAIRS"} <= keys
    failed = [c for c in report["cases"] if c["outcome"] == "failed"]
    assert all(c["failures"] for c in failed)
    assert any("xml" in c for c in failed if c["source"] == "generated")


def test_junit_has_one_testcase_per_case(failing_run: CheckRun) -> None:
    root = ElementTree.fromstring(junit_xml(failing_run))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == len(failing_run.results)
    failed = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("failures", "0")) == len(failed) > 0
    messages = [c.find("failure").get("message", "") for c in failed]  # type: ignore[union-attr]
    assert any("FACT-GI-PAIRS" in message for message in messages)


def test_summary_reads_at_a_glance(failing_run: CheckRun) -> None:
    text = summary(failing_run)
    lines = text.splitlines()
    assert lines[1].startswith(f"{len(failing_run.results)} cases: ")
    assert "conformance" in lines[1]
    assert "failures by rule / invariant / fact:" in text
    assert "--- expected" in text
    assert "+++ actual" in text
    assert lines[-1] == "FAIL"


# --- known deviations ---------------------------------------------------------------------


def test_known_deviation_files(tmp_path: Path) -> None:
    as_json = tmp_path / "dev.json"
    as_json.write_text('{"seed-example": "we number from 1"}')
    assert load_known_deviations(as_json) == {"seed-example": "we number from 1"}
    as_text = tmp_path / "dev.txt"
    as_text.write_text("# ours\nseed-example: we number from 1\ncells-128  too big for us\n")
    assert load_known_deviations(as_text) == {
        "seed-example": "we number from 1",
        "cells-128": "too big for us",
    }
    as_text.write_text("just-an-id\n")
    with pytest.raises(KnownDeviationsError, match=":1:"):
        load_known_deviations(as_text)


def test_known_deviations_turn_failures_into_expected_skips(tmp_path: Path) -> None:
    options = CheckOptions(impl=f"{MUTANTS}:cpus_unsplit", generated=0)
    first = run_check(options)
    failing = {r.case.id for r in first.results if r.outcome is Outcome.FAILED}
    assert failing
    known = {case_id: "cpus written our way" for case_id in failing} | {"seed-example": "old"}
    second = run_check(CheckOptions(impl=options.impl, generated=0, known_deviations=known))
    assert second.ok
    skipped = [r for r in second.results if r.known_deviation]
    assert {r.case.id for r in skipped} == failing
    assert all(r.outcome is Outcome.SKIPPED and r.failures for r in skipped)
    assert second.passing_deviations() == ["seed-example"]
    text = summary(second)
    assert "known deviations that no longer occur (remove them):\n  seed-example\n" in text


# --- shrinking ----------------------------------------------------------------------------


def test_generated_failures_are_shrunk_into_ready_to_add_cases(tmp_path: Path) -> None:
    impl = f"{MUTANTS}:drops_last_initiator"
    options = CheckOptions(
        impl=impl, use_corpus=False, generated=GENERATED, failures_dir=tmp_path, max_shrinks=1
    )
    run = run_check(options)
    (shrunk,) = run.shrunk
    original = next(r for r in run.results if r.case.id == shrunk.original)
    xml = (tmp_path / f"{shrunk.case_id}.xml").read_text()
    assert len(xml) < len(original.case.data)
    assert shrunk.key == original.keys[0]
    entry = json.loads((tmp_path / f"{shrunk.case_id}.index.json").read_text())
    index = {"format": "gi-conform-corpus", "version": 1, "cases": [entry]}
    corpus_schema = json.loads((reference_dir() / "corpus.schema.json").read_text())
    jsonschema.validate(index, corpus_schema)
    (tmp_path / "index.json").write_text(json.dumps(index))
    # Ready to add: the reference passes it strictly, the mutant still fails it.
    assert run_check(CheckOptions(corpus=tmp_path, generated=0, strict=True)).ok
    again = run_check(CheckOptions(impl=impl, corpus=tmp_path, generated=0))
    assert shrunk.key in again.results[0].keys


# --- the command --------------------------------------------------------------------------


def test_check_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check", "--generated", "0"]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["check", "--generated", "0", "--impl", f"{MUTANTS}:ids_from_one"]) == 1
    out = capsys.readouterr().out
    assert "FACT-GI-IDS" in out
    assert out.rstrip().endswith("FAIL")
    for bad in (
        ["check", "--impl", "nonsense"],
        ["check", "--impl", "python:no_such_module_here:f", "--generated", "0"],
        ["check", "--timeout", "0"],
        ["check", "--case", "no-such-case-*", "--generated", "0"],
        ["check", "--known-deviations", str(tmp_path / "missing.txt")],
        ["check", "--report", "xml", str(tmp_path / "r")],
        ["check", "--report", "json", str(tmp_path / "no" / "dir.json")],
    ):
        assert main(bad) == 2, bad
        err = capsys.readouterr().err
        assert "gi-conform: error:" in err
        assert "Traceback" not in err


def test_check_writes_both_reports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(
        [
            "check",
            "--impl",
            f"cmd:{PYTHON} {MUTANTS_DIR / 'as_command.py'} reference {{}}",
            "--case",
            "seed-example",
            "--case",
            "gi-node-unknown",
            "--generated",
            "0",
            "--strict",
            "--messages",
            "--report",
            "json",
            str(tmp_path / "r.json"),
            "--report",
            "junit",
            str(tmp_path / "r.xml"),
        ]
    )
    assert code == 0, capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"] == {
        "cases": 2,
        "passed": 2,
        "failed": 0,
        "skipped": 0,
        "errored": 0,
        "conformance": 100.0,
        "balanced": 100.0,
        "valid": {"cases": 1, "ran": 1, "passed": 1, "rate": 100.0},
        "invalid": {"cases": 1, "ran": 1, "passed": 1, "rate": 100.0},
    }
    assert ElementTree.parse(tmp_path / "r.xml").getroot().tag == "testsuites"


def test_dialect_and_profile_selection(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(CheckOptions(generated=GENERATED, dialects=("seed",), profile=Profile.LIBVIRT))
    assert run.results
    assert {r.case.dialect for r in run.results} == {"seed"}
    assert {r.case.profile for r in run.results} == {Profile.LIBVIRT}
    assert run.ok


def test_the_machines_own_ram_is_no_cells_backend() -> None:
    """libvirt without NUMA backs the machine's RAM (``-machine memory-backend=pc.ram``):
    not a GI-relevant line. Any other backend, used by a node or not, still is."""
    argv = [
        "-machine",
        "pc,usb=off,memory-backend=pc.ram",
        "-object",
        '{"qom-type":"memory-backend-ram","id":"pc.ram","size":268435456}',
        "-object",
        '{"qom-type":"memory-backend-ram","id":"stray","size":268435456}',
    ]
    kept = [value for _, value in gi_subset(argv)]
    assert kept == ['{"qom-type":"memory-backend-ram","id":"stray","size":268435456}']
    with_numa = [*argv, "-numa", "node,nodeid=0,memdev=pc.ram"]
    assert len(gi_subset(with_numa)) == 3
