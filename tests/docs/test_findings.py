"""The findings ledger (``reference/findings.toml``): it follows its schema, names real
corpus cases, holds every finding issue 24 lists, renders into the docs, and every finding
this machine can reproduce still reproduces.

A finding that no longer reproduces fails here, by id, with the command and its output:
the implementation changed, so its entry (``seen``, ``upstream``) must change with it.
Findings whose programs are not set up skip, saying which and how to get them.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gi_conform.findings import KINDS, LedgerError, findings_by_case, load_findings
from gi_conform.groundtruth.guest_setup import GuestUnavailable, locate_kit
from gi_conform.groundtruth.qemu import QemuUnavailable, find_qemu
from gi_conform.libvirt.install import LibvirtUnavailable, locate
from tests.docs.gi_docs import gi_docs
from tests.helpers import ROOT

LEDGER = ROOT / "reference" / "findings.toml"
FINDINGS: list[dict[str, Any]] = tomllib.loads(LEDGER.read_text())["finding"]
LOADED = load_findings()

ISSUE_24 = {
    "libvirt-smmuv3-ssidsize-spelling": "libvirt drops KubeVirt's smmuv3 ssidSize",
    "libvirt-hmat-cache-unit": "libvirt writes a 1 MiB cell cache back as 1 KiB",
    "debian-arm64-nodes-shift": "Debian's arm64 kernels hold 16 nodes",
    "edk2-bookworm-fakes-numa": "bookworm's EDK2 makes a guest fake its NUMA",
    "libvirt-acpi-off": "libvirt accepts GI with acpi=off",
    "linux-function-zero": "Linux skips function 1 when function 0 is empty",
    "libvirt-mdev-nodeset-dropped": "libvirt accepts <acpi nodeset> on mdev, writes no GI",
}


def test_the_ledger_follows_its_schema() -> None:
    schema = json.loads((ROOT / "reference" / "findings.schema.json").read_text())
    jsonschema.validate(tomllib.loads(LEDGER.read_text()), schema)


def test_the_loader_reads_every_finding() -> None:
    assert [f.id for f in LOADED] == [f["id"] for f in FINDINGS]
    assert {f.kind for f in LOADED} <= set(KINDS)
    by_case = findings_by_case(LOADED)
    assert [f.id for f in by_case["mdev-nodeset"]] == ["libvirt-mdev-nodeset-dropped"]
    assert all(f.environmental == (f.kind == "environment") for f in LOADED)
    assert any(f.environmental for f in LOADED)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('kind = "bug"', 'kind = "oops"', 1), r"finding/0/kind"),
        (lambda t: t.replace("reproduce = ", "reproduced = ", 1), r"finding/0"),
        (lambda t: t + t[t.index("[[finding]]") :], r"duplicate finding id"),
        (lambda t: t.replace("[[finding]]", "[[finding", 1), r"findings\.toml: "),
    ],
)
def test_a_broken_ledger_is_refused_naming_the_field(
    edit: Any, message: str, tmp_path: Path
) -> None:
    broken = tmp_path / "findings.toml"
    broken.write_text(edit(LEDGER.read_text()))
    with pytest.raises(LedgerError, match=message):
        load_findings(broken)


def test_ids_are_unique_and_cases_exist() -> None:
    ids = [finding["id"] for finding in FINDINGS]
    assert len(ids) == len(set(ids))
    cases = {c["id"] for c in json.loads((ROOT / "cases" / "index.json").read_text())["cases"]}
    unknown = {f["id"]: f["case"] for f in FINDINGS if f.get("case") and f["case"] not in cases}
    assert not unknown, f"findings naming no corpus case: {unknown}"


def test_the_issue_s_findings_are_all_there() -> None:
    assert set(ISSUE_24) <= {finding["id"] for finding in FINDINGS}


def test_the_docs_page_holds_every_finding_and_its_command() -> None:
    page = gi_docs.findings_page()
    for finding in FINDINGS:
        assert f"`{finding['id']}`" in page
        assert finding["reproduce"].strip() in page


def _unmet(needs: list[str]) -> str | None:
    """Why the programs a finding needs are not here, or None."""
    for need in needs:
        try:
            if need == "libvirt":
                locate()
            elif need == "qemu":
                find_qemu()
            elif need == "guest":
                locate_kit("x86_64")
                locate_kit("aarch64")
        except (LibvirtUnavailable, QemuUnavailable, GuestUnavailable) as error:
            return f"needs {need}: {error}"
    return None


def _shim(directory: Path) -> dict[str, str]:
    """An environment whose ``gi-conform`` is this checkout's (not another install's)."""
    script = directory / "gi-conform"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gi_conform.cli "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ)
    env["PATH"] = f"{directory}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _marks(finding: dict[str, Any]) -> list[pytest.MarkDecorator]:
    marks = [getattr(pytest.mark, need) for need in finding["needs"]]
    return [*marks, pytest.mark.slow] if "guest" in finding["needs"] else marks


def _reproduce(finding: dict[str, Any], scratch: Path) -> tuple[bool, str]:
    """Run the finding's command: whether it still reproduces, and a report saying why."""
    done = subprocess.run(
        ["bash", "-c", finding["reproduce"]],
        cwd=ROOT,
        env=_shim(scratch),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout
    matched = re.search(finding["expect"], output, re.MULTILINE) is not None
    exit_ok = "exit" not in finding or done.returncode == finding["exit"]
    report = (
        f"finding {finding['id']} no longer reproduces ({finding['implementation']} "
        f"{finding['version']}):\n$ {finding['reproduce'].strip()}\n"
        f"exit {done.returncode} (expected {finding.get('exit', 'any')}); output "
        f"{'matches' if matched else 'does not match'} {finding['expect']!r}:\n{output[-3000:]}"
    )
    return matched and exit_ok, report


@pytest.mark.parametrize(
    ("command", "expect", "exit", "reproduces"),
    [
        ("echo 'size=1K'", "size=1K$", 0, True),
        ("echo 'size=1024K'", "size=1K$", 0, False),  # the implementation was fixed
        ("echo 'size=1K'; exit 1", "size=1K$", 0, False),  # same words, another outcome
        ("gi-conform --version", "^gi-conform ", 0, True),  # this checkout's gi-conform
    ],
)
def test_the_re_check_tells_a_fixed_implementation(
    command: str, expect: str, exit: int, reproduces: bool, tmp_path: Path
) -> None:
    fake = {"id": "fake", "implementation": "x", "version": "1", "reproduce": command}
    ok, report = _reproduce({**fake, "expect": expect, "exit": exit}, tmp_path)
    assert ok is reproduces, report


_RESULTS: dict[tuple[str, ...], dict[str, tuple[bool, str]]] = {}


def _group_results(
    needs: tuple[str, ...], scratch: pytest.TempPathFactory
) -> dict[str, tuple[bool, str]]:
    """Every finding that needs exactly ``needs``, re-run two at a time once per session
    (the guests are single-threaded TCG: two cores boot two at once)."""
    if needs not in _RESULTS:
        group = [f for f in FINDINGS if tuple(f["needs"]) == needs]
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = {f["id"]: pool.submit(_reproduce, f, scratch.mktemp(f["id"])) for f in group}
            _RESULTS[needs] = {name: run.result() for name, run in runs.items()}
    return _RESULTS[needs]


@pytest.mark.parametrize(
    "finding", [pytest.param(f, id=f["id"], marks=_marks(f)) for f in FINDINGS]
)
def test_the_finding_still_reproduces(
    finding: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    why = _unmet(finding["needs"])
    if why:
        pytest.skip(why)
    reproduces, report = _group_results(tuple(finding["needs"]), tmp_path_factory)[finding["id"]]
    assert reproduces, report
