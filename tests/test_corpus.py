"""The golden corpus: every case's outputs, its metadata, and the corpus's own hygiene.

Goldens are written by pytest-regressions into ``cases/`` (``--force-regen`` rewrites
them; read the diff before committing). Two of them are also checked against sources
independent of this code: the seed cover letter and libvirt 11.8's own test output.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from gi_conform import Profile, build_argv, catalogue, render_args, validate
from gi_conform.corpus import Case, load_cases
from gi_conform.resources import cases_dir, reference_dir

CASES = load_cases()
ACCEPTED = [case for case in CASES if case.accepted]
REJECTED = [case for case in CASES if not case.accepted]


def _ids(cases: list[Case]) -> list[str]:
    return [case.id for case in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_verdict_and_rules_match_the_index(case: Case) -> None:
    report = validate(case.xml_path.read_bytes())
    assert report.accepted == case.accepted, report.text()
    assert sorted({v.rule for v in report.violations}) == sorted(case.rules), report.text()


@pytest.mark.parametrize("profile", list(Profile))
@pytest.mark.parametrize("case", ACCEPTED, ids=_ids(ACCEPTED))
def test_args_golden(case: Case, profile: Profile, file_regression: object) -> None:
    report = validate(case.xml_path.read_bytes())
    assert report.domain is not None
    text = render_args(build_argv(report.domain, profile))
    file_regression.check(text, fullpath=case.args_path(profile))  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", REJECTED, ids=_ids(REJECTED))
def test_err_golden(case: Case, file_regression: object) -> None:
    text = validate(case.xml_path.read_bytes()).text()
    file_regression.check(text, fullpath=case.err_path)  # type: ignore[attr-defined]


def test_index_matches_its_schema() -> None:
    schema = json.loads((reference_dir() / "corpus.schema.json").read_text())
    index = json.loads((cases_dir() / "index.json").read_text())
    jsonschema.validate(index, schema)


def test_case_ids_are_unique() -> None:
    duplicates = [name for name, count in Counter(_ids(list(CASES))).items() if count > 1]
    assert not duplicates, f"duplicate case ids in cases/index.json: {duplicates}"


def test_no_unused_or_missing_files() -> None:
    expected = {path.name for case in CASES for path in case.expected_files()}
    expected |= {"index.json", "README.md"}
    present = {path.name for path in cases_dir().iterdir()}
    assert not present - expected, f"unused files in cases/: {sorted(present - expected)}"
    assert not expected - present, f"missing files in cases/: {sorted(expected - present)}"


def test_corpus_is_big_enough_and_covers_both_dialects() -> None:
    assert len(CASES) >= 40
    dialects = Counter(case.dialect for case in ACCEPTED)
    assert dialects["seed"] > 0
    assert dialects["libvirt"] > 0
    assert dialects["mixed"] > 0


def test_every_error_rule_has_a_rejected_case() -> None:
    covered = {rule for case in REJECTED for rule in case.rules}
    errors = {rule.id for rule in catalogue().values() if rule.severity == "error"}
    assert not errors - covered, f"rules without a rejected case: {sorted(errors - covered)}"


def test_every_warning_rule_has_an_accepted_case() -> None:
    covered = {rule for case in ACCEPTED for rule in case.rules}
    warnings = {rule.id for rule in catalogue().values() if rule.severity == "warning"}
    missing = sorted(warnings - covered)
    assert not missing, f"warnings without an accepted case: {missing}"


def test_every_rejected_case_names_only_known_rules() -> None:
    unknown = {rule for case in CASES for rule in case.rules} - set(catalogue())
    assert not unknown


def _cover_letter_lines() -> list[str]:
    """The argv lines of the seed cover letter, unwrapped, independent of our formatter."""
    text = (reference_dir() / "seed-cover-letter.txt").read_text()
    block = text.split("- Generated QEMU command line options:")[1].split("```")[1]
    segments = " ".join(line.strip() for line in block.splitlines()).split("...")
    options = [part.strip() for seg in segments for part in seg.split(" \\") if part.strip()]
    return [option for option in options if option.startswith(("-object", "-numa", "-device"))]


def test_seed_example_holds_the_cover_letter_lines_verbatim() -> None:
    case = next(case for case in CASES if case.id == "seed-example")
    golden = case.args_path(Profile.SEED).read_text().replace(" \\\n", "\n").splitlines()
    letter = _cover_letter_lines()
    assert len(letter) == 19
    assert golden == letter


def _libvirt_test_lines() -> list[str]:
    """libvirt 11.8's acpi-generic-initiator.x86_64-latest.args, the GI-relevant lines."""
    lines = [
        """-object '{"qom-type":"memory-backend-ram","id":"ram-node0","size":8589934592}'""",
        "-numa node,nodeid=0,cpus=0-15,memdev=ram-node0",
        *(f"-numa node,nodeid={node}" for node in range(1, 9)),
        """-device '{"driver":"vfio-pci","host":"0000:06:12.1","id":"hostdev0","""
        """"bus":"pcie.0","addr":"0x2"}'""",
    ]
    lines += [
        """-object '{"qom-type":"acpi-generic-initiator","id":"gi"""
        f"""{index}","pci-dev":"hostdev0","node":{index + 1}}}'"""
        for index in range(8)
    ]
    return lines


def test_libvirt_example_reproduces_libvirts_own_test() -> None:
    case = next(case for case in CASES if case.id == "libvirt-11.8-example")
    golden = case.args_path(Profile.LIBVIRT).read_text().replace(" \\\n", "\n").splitlines()
    assert golden == _libvirt_test_lines()


def test_args_files_use_the_libvirt_layout() -> None:
    for case in ACCEPTED:
        for profile in Profile:
            text = case.args_path(profile).read_text()
            if not text:
                continue
            lines = text.splitlines()
            assert all(line.endswith(" \\") for line in lines[:-1]), case.id
            assert not lines[-1].endswith("\\"), case.id
            assert all(re.match(r"-(object|numa|device|machine) ", line) for line in lines), case.id


def test_corpus_folder_is_the_bundled_one() -> None:
    assert cases_dir() == Path(__file__).resolve().parent.parent / "cases"
