"""``check --mode roundtrip``: the document written back, compared through the model.

The reference (``fmt``) must pass everything in every adapter; each round-trip mutant
(tests/mutants/roundtrip_mutants.py, one loss each) must fail with its own ``RT-*`` key;
``--jobs`` and shrinking work as in argv mode; reports carry the mode.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from pathlib import Path

import jsonschema
import pytest
from lxml import etree

from gi_conform.document.validate import parse
from gi_conform.oracle.impls import reference_answer
from gi_conform.oracle.model import CheckOptions, Mode, Outcome
from gi_conform.oracle.protocol import ProtocolError, decode_run_reply, schema_problems
from gi_conform.oracle.report import json_report, junit_xml
from gi_conform.oracle.roundtrip import RT_KEYS, fact_failures
from gi_conform.oracle.runner import CheckRun, run_check
from gi_conform.resources import cases_dir, reference_dir
from tests.helpers import MUTANTS_DIR, run_cli
from tests.mutants.roundtrip_mutants import ROUNDTRIP_MUTANTS
from tests.oracle.test_workers import _assert_same_report, _runs

PYTHON = shlex.quote(sys.executable)
ROUNDTRIP = CheckOptions(mode=Mode.ROUNDTRIP, generated=0)


def _check(impl: str, **changes: object) -> CheckRun:
    return run_check(dataclasses.replace(ROUNDTRIP, impl=impl, **changes))  # type: ignore[arg-type]


def _keys(run: CheckRun) -> set[str]:
    return {key for _kind, key in run.failure_keys()}


def test_the_reference_writes_back_everything_it_reads() -> None:
    run = _check("reference", generated=60, seed=5)
    assert run.ok, [r.failures for r in run.results if r.outcome is not Outcome.PASSED][:3]
    assert run.count(Outcome.PASSED) == len(run.results) > 150


@pytest.mark.parametrize(
    "impl",
    [
        "python:tests.mutants.roundtrip_mutants:reference",
        f"cmd:{PYTHON} {shlex.quote(str(MUTANTS_DIR / 'as_roundtrip_command.py'))} reference",
        f"jsonl:{PYTHON} -m gi_conform.oracle.serve reference",
    ],
    ids=["python", "cmd", "jsonl"],
)
def test_the_reference_passes_behind_every_adapter(impl: str) -> None:
    run = _check(impl, patterns=("seed-*", "mixed-*", "numa-distances*", "hmat-*", "xml-*"))
    bad = [r.case.id for r in run.results if r.outcome in (Outcome.FAILED, Outcome.ERRORED)]
    assert bad == []
    assert run.count(Outcome.PASSED) > 20


@pytest.mark.parametrize("name", sorted(ROUNDTRIP_MUTANTS))
def test_each_roundtrip_mutant_fails_with_its_key(name: str) -> None:
    key = ROUNDTRIP_MUTANTS[name][1]
    run = _check(f"python:tests.mutants.roundtrip_mutants:{name}")
    assert key in _keys(run), (name, run.failure_keys())
    assert run.count(Outcome.PASSED) > 0  # the loss shows only where there is something to lose


def test_mutants_fail_the_same_behind_cmd_and_jsonl() -> None:
    command = f"{PYTHON} {shlex.quote(str(MUTANTS_DIR / 'as_roundtrip_command.py'))} drops_seed"
    served = f"{PYTHON} -m gi_conform.oracle.serve tests.mutants.roundtrip_mutants:drops_nodesets"
    patterns = ("seed-example", "libvirt-11.8-example", "mdev-nodeset", "two-gpus-nodeset")
    assert "RT-SEED-DROPPED" in _keys(_check(f"cmd:{command}", patterns=patterns))
    assert "RT-NODESET-DROPPED" in _keys(
        _check(f"jsonl:{served}", patterns=patterns, validate_protocol=True)
    )


def test_a_verdict_only_implementation_is_judged_on_its_verdict_alone() -> None:
    run = _check("python:tests.mutants.roundtrip_mutants:accepts_everything")
    assert _keys(run) == {"RT-VERDICT-CHANGED"}
    for result in run.results:
        assert (result.outcome is Outcome.PASSED) == result.case.expectation.accepted


def test_an_argv_answer_in_roundtrip_mode_is_a_protocol_error() -> None:
    run = _check("python:tests.mutants.roundtrip_mutants:answers_argv", patterns=("seed-*",))
    assert run.results[0].outcome is Outcome.ERRORED
    assert "needs xml" in run.results[0].reason


def test_fact_failures_name_each_loss() -> None:
    before = parse((cases_dir() / "mixed-dialects.xml").read_bytes())
    assert fact_failures(before, before) == []
    after = dataclasses.replace(
        before,
        initiators=(),
        hostdevs=tuple(dataclasses.replace(h, nodeset=None) for h in before.hostdevs),
        cells=before.cells[:-1],
    )
    keys = {failure.key for failure in fact_failures(before, after)}
    assert {"RT-SEED-DROPPED", "RT-NODESET-DROPPED", "RT-CELL-CHANGED"} <= keys
    assert keys <= set(RT_KEYS)


def test_a_lost_iommufd_switch_is_a_changed_hostdev() -> None:
    before = parse((cases_dir() / "iommufd-domain.xml").read_bytes())
    assert fact_failures(before, before) == []
    # dropping the domain's <iommufd> gives both GPUs back their host address
    after = dataclasses.replace(before, iommufd=None, iommufd_fdgroup=None)
    messages = [f.message for f in fact_failures(before, after) if f.key == "RT-HOSTDEV-CHANGED"]
    assert len(messages) == 2
    assert all("iommufd off, was on" in m for m in messages)
    # the same meaning spelled per hostdev is no loss
    moved = dataclasses.replace(
        after, hostdevs=tuple(dataclasses.replace(h, iommufd=True) for h in before.hostdevs)
    )
    assert fact_failures(before, moved) == []


def test_jobs_give_the_same_roundtrip_report() -> None:
    options = dataclasses.replace(
        ROUNDTRIP, impl="python:tests.mutants.roundtrip_mutants:drops_seed", generated=20, seed=2
    )
    alone, spread = _runs(options)
    assert alone.count(Outcome.FAILED) > 0
    _assert_same_report(alone, spread)


def test_generated_roundtrip_failures_shrink(tmp_path: Path) -> None:
    run = _check(
        "python:tests.mutants.roundtrip_mutants:drops_distances",
        generated=40,
        use_corpus=False,
        failures_dir=tmp_path,
        max_shrinks=1,
    )
    assert len(run.shrunk) == 1
    shrunk = run.shrunk[0]
    assert shrunk.key == "RT-DISTANCE-CHANGED"
    document = (tmp_path / f"{shrunk.case_id}.xml").read_text()
    original = next(r for r in run.results if r.case.id == shrunk.original).case.data
    assert len(document) <= len(original)
    assert "<distances>" in document


def test_reports_carry_the_mode_and_follow_the_schema() -> None:
    run = _check("python:tests.mutants.roundtrip_mutants:drops_hmat", patterns=("hmat-*",))
    report = json_report(run)
    assert report["options"]["mode"] == "roundtrip"
    schema = json.loads((reference_dir() / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    failing = next(case for case in report["cases"] if case["outcome"] == "failed")
    assert failing["failures"][0]["kind"] == "roundtrip"
    assert "--- input" in failing["diff"]
    assert b'<property name="mode" value="roundtrip"' in junit_xml(run)
    argv_report = json_report(run_check(CheckOptions(generated=0, patterns=("seed-example",))))
    assert argv_report["options"]["mode"] == "argv"


def test_protocol_replies_of_roundtrip_mode() -> None:
    assert schema_problems("run-reply", {"seq": 1, "accepted": True, "xml": "<domain/>"}) == []
    assert schema_problems("run-reply", {"seq": 1, "accepted": True, "xml": None}) == []
    assert schema_problems("run-reply", {"seq": 1, "accepted": True}) != []
    both = {"seq": 1, "accepted": True, "xml": "<domain/>", "argv": []}
    assert schema_problems("run-reply", both) != []
    answer = decode_run_reply({"accepted": True, "xml": "<d/>"}, None, mode="roundtrip")
    assert answer.xml == "<d/>"
    with pytest.raises(ProtocolError, match="needs argv"):
        decode_run_reply({"accepted": True, "xml": "<d/>"}, None)
    with pytest.raises(ProtocolError, match="needs xml"):
        decode_run_reply({"accepted": True, "argv": []}, None, mode="roundtrip")
    case = {"id": "a", "xml": "", "profile": "seed", "mode": "roundtrip"}
    assert schema_problems("run", {"cmd": "run", "seq": 1, "case": case}) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mode", "roundtrip", "--impl", "libvirt"], "use --mode argv"),
        (["--impl", "libvirt-xml"], "use --mode roundtrip"),
        (["--impl", "virtinst:/nonexistent"], "use --mode roundtrip"),
        (["--mode", "sideways"], "invalid choice"),
    ],
)
def test_an_implementation_asked_for_the_wrong_mode_is_a_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_cli("check", "--generated", "0", "--case", "seed-example", *argv)
    assert status == 2
    assert message in capsys.readouterr().err


def writes_a_megabyte_line(case: dict[str, object]) -> dict[str, object]:
    """Drops every <acpi> (a loss, so the case fails with a diff) and writes a line of
    a megabyte: the report must not carry it whole."""
    reply = reference_answer({**case, "mode": "roundtrip"})
    xml = reply.get("xml")
    if not isinstance(xml, str):
        return reply
    root = etree.fromstring(xml.encode())
    for acpi in root.iter("acpi"):
        parent = acpi.getparent()
        if parent is not None and parent.tag == "hostdev":
            parent.remove(acpi)
    etree.SubElement(root, "description").text = "x" * (1 << 20)
    return {"accepted": True, "xml": etree.tostring(root, encoding="unicode")}


def test_a_huge_line_is_cut_in_the_diff() -> None:
    run = _check(
        "python:tests.oracle.test_roundtrip:writes_a_megabyte_line",
        patterns=("two-gpus-nodeset",),
    )
    (result,) = run.results
    assert "RT-NODESET-DROPPED" in result.keys
    assert "more characters" in result.diff
    assert len(result.diff) < 40_000
