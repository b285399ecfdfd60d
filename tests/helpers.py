"""What the tests share: small document builders (the corpus has the big examples), the
test tree's paths, and running the command line in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gi_conform.argv.build import Profile
from gi_conform.cli.main import main
from gi_conform.document.validate import validate
from gi_conform.model import Domain
from gi_conform.oracle.cases import corpus_cases
from gi_conform.oracle.compare import compare
from gi_conform.oracle.model import Answer, CheckCase, Verdict

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DATA = TESTS / "data"
"""Binary fixtures: HMATs read from real QEMU guests."""
MUTANTS_DIR = TESTS / "mutants"
"""Deliberately wrong and misbehaving implementations the oracle must catch."""


def corpus_case(case_id: str, profile: Profile | None = None) -> CheckCase:
    """The corpus case ``case_id`` (an exact id), checked in ``profile``."""
    (found,) = corpus_cases(patterns=[case_id], profile=profile)
    return found


def failure_keys(case: CheckCase, argv: list[str]) -> list[str]:
    """The failure keys the oracle gives ``argv`` as an accepted answer to ``case``."""
    failures, _ = compare(case, Answer(Verdict.ACCEPTED, argv=tuple(argv)))
    return [failure.key for failure in failures]


def run_cli(*argv: str) -> int:
    """``gi-conform ARGV`` in this process: its exit status, argparse's included."""
    try:
        return main(list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)


GPU = (
    "<hostdev mode='subsystem' type='pci' managed='yes'>"
    "<source><address domain='0x0000' bus='0x06' slot='0x12' function='0x1'/></source>"
    "{extra}"
    "<address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>"
    "</hostdev>"
)


def gpu(extra: str = "") -> str:
    return GPU.format(extra=extra)


def document(devices: str = "", cells: str | None = None, head: str = "") -> str:
    """A q35 domain with 4 vCPUs; cell 0 holds them and 1 GiB, cells 1-2 are memoryless."""
    if cells is None:
        cells = (
            "<cell id='0' cpus='0-3' memory='1048576'/>"
            "<cell id='1' memory='0'/><cell id='2' memory='0'/>"
        )
    numa = f"<cpu><numa>{cells}</numa></cpu>" if cells != "none" else ""
    # without cells the size is <memory>'s (libvirt refuses a guest without any)
    memory = "<memory>1048576</memory>" if "<cell" not in cells else ""
    return (
        f"<domain type='kvm'><name>t</name>{memory}<vcpu>4</vcpu>"
        "<os><type arch='x86_64' machine='q35'>hvm</type></os>"
        f"{head}<features><acpi/></features>{numa}<devices>{devices}</devices></domain>"
    )


def seed(device: str, node: int | str, alias: str | None = None) -> str:
    named = f"<alias name='{alias}'/>" if alias else ""
    return (
        f"<acpi-generic-initiator>{named}<pci-dev>{device}</pci-dev>"
        f"<numa-node>{node}</numa-node></acpi-generic-initiator>"
    )


def report_case(
    case_id: str, outcome: str = "passed", *, dialect: str = "libvirt", **extra: object
) -> dict[str, object]:
    """One case of a JSON check report (``reference/report.schema.json``)."""
    case: dict[str, object] = {
        "id": case_id,
        "source": "generated" if case_id.startswith("gen-") else "corpus",
        "dialect": dialect,
        "profile": "seed" if dialect == "seed" else "libvirt",
        "expect": "accept",
        "outcome": outcome,
        "answer": {"passed": "accepted", "failed": "accepted"}.get(outcome, outcome),
        "duration_s": 0.001,
        "failures": [],
    }
    case.update(extra)
    return case


def check_report(
    name: str, cases: list[dict[str, object]], *, mode: str | None = None
) -> dict[str, object]:
    """A JSON check report of ``cases`` by an implementation called ``name``."""
    options: dict[str, object] = {
        "dialects": [],
        "cases": [],
        "profile": "auto",
        "corpus": True,
        "generated": 0,
        "seed": 0,
        "strict": False,
        "messages": False,
        "timeout_s": 10.0,
        "validate_protocol": False,
    }
    if mode is not None:
        options["mode"] = mode
    outcomes = [str(case.get("outcome")) for case in cases]
    return {
        "format": "gi-conform-check-report",
        "version": 1,
        "implementation": {"spec": f"cmd:{name}", "name": name},
        "options": options,
        "started": "2026-01-01T00:00:00+00:00",
        "duration_s": 1.0,
        "summary": {
            "cases": len(cases),
            **{o: outcomes.count(o) for o in ("passed", "failed", "skipped", "errored")},
            "conformance": 0.0,
        },
        "failures_by_key": [],
        "shrunk": [],
        "cases": cases,
    }


@dataclass(frozen=True)
class Measured:
    """One document and libvirt 12.8's answer: ``refusal`` is its message (the ``error:
    <kind>: `` prefix removed) when it refuses the document for ``rule``, None when it
    converts it or refuses it only for the host (``host``: that message)."""

    name: str
    rule: str
    xml: str
    refusal: str | None
    host: str | None = None


def model(xml: str) -> Domain:
    """The model the reference reads of ``xml`` (a document it can read)."""
    domain = validate(xml).domain
    assert domain is not None
    return domain


def assert_refused_as_measured(xml: str, row: Measured) -> None:
    """The reference accepts ``xml`` where libvirt did, else refuses it for ``row.rule``
    alone with libvirt's words in every diagnostic."""
    report = validate(xml)
    if row.refusal is None:
        assert report.accepted, report.text()
        return
    assert {v.rule for v in report.errors} == {row.rule}, report.text()
    assert all(row.refusal in v.text() for v in report.errors), report.text()
