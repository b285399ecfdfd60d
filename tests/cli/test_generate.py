"""``gi-conform generate``: a frozen set of generated documents that ``check --corpus`` and
``check --generated-from`` read, so a check over generated documents is reproducible
whatever Hypothesis draws elsewhere (``gi_conform.oracle.frozen``)."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from gi_conform.oracle.shrink import generate_documents
from tests.helpers import run_cli
from tests.oracle.test_oracle_plugin import _pytest

COUNT = 12
MUTANT = "python:tests.mutants.mutants:drops_last_initiator"


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sets") / "seed3"
    assert run_cli("generate", "--seed", "3", "-n", str(COUNT), str(folder)) == 0
    return folder


def test_a_set_is_the_draw_written_exactly(frozen: Path, tmp_path: Path) -> None:
    index = json.loads((frozen / "index.json").read_text())
    assert index["generator"] == {
        "seed": 3,
        "count": COUNT,
        "command": f"gi-conform generate --seed 3 -n {COUNT}",
        "gi-conform": importlib.metadata.version("gi-conform"),
        "hypothesis": importlib.metadata.version("hypothesis"),
    }
    ids = [case["id"] for case in index["cases"]]
    assert ids == [f"gen-3-{i:04d}" for i in range(COUNT)]
    for case_id, document in zip(ids, generate_documents(COUNT, 3), strict=True):
        assert (frozen / f"{case_id}.xml").read_bytes() == document.xml.encode("utf-8")
    assert {case["expect"] for case in index["cases"]} == {"accept", "reject"}
    again = tmp_path / "again"
    assert run_cli("generate", "--seed", "3", "-n", str(COUNT), str(again)) == 0
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in frozen.iterdir())
    for path in frozen.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_check_reads_a_set_as_a_corpus_and_its_goldens_hold(
    frozen: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("check", "--corpus", str(frozen), "--generated", "0", "--strict") == 0
    assert f"{COUNT} cases: {COUNT} passed" in capsys.readouterr().out


def test_generated_from_replaces_the_draw(
    frozen: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drawn, fixed = tmp_path / "drawn.json", tmp_path / "fixed.json"
    common = ("check", "--impl", MUTANT, "--no-corpus", "--report", "json")
    assert run_cli(*common, str(drawn), "--generated", str(COUNT), "--seed", "3") == 1
    assert run_cli(*common, str(fixed), "--generated-from", str(frozen)) == 1
    assert f"(seed 3, frozen in {frozen})" in capsys.readouterr().out
    one, two = (json.loads(path.read_text()) for path in (drawn, fixed))
    assert two["options"]["generated_from"] == str(frozen)
    assert (two["options"]["generated"], two["options"]["seed"]) == (COUNT, 3)
    assert two["generator"] == one["generator"]
    assert one["generator"]["hypothesis"] == importlib.metadata.version("hypothesis")

    def verdicts(report: dict[str, object]) -> list[tuple[object, ...]]:
        cases = report["cases"]
        assert isinstance(cases, list)
        return [
            (c["id"], c["source"], c["outcome"], [f["key"] for f in c["failures"]], c.get("xml"))
            for c in cases
        ]

    assert verdicts(two) == verdicts(one)


def test_generate_and_generated_from_refuse_what_they_cannot_do(
    frozen: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("generate", "-n", "2", str(frozen)) == 2
    assert "not empty (--force replaces a generated set)" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert run_cli("generate", "-n", "2", "--force", str(other)) == 2
    assert "not a generated set" in capsys.readouterr().err
    replaced = tmp_path / "replaced"
    assert run_cli("generate", "--seed", "5", "-n", "3", str(replaced)) == 0
    assert run_cli("generate", "--seed", "6", "-n", "2", "--force", str(replaced)) == 0
    capsys.readouterr()
    assert sorted(p.name for p in replaced.glob("*.xml")) == ["gen-6-0000.xml", "gen-6-0001.xml"]
    for bad, message in (
        (("--generated-from", str(other)), "not a generated set"),
        (("--generated-from", str(tmp_path / "none")), "no index.json: not a generated set"),
        (("--generated-from", str(frozen), "--generated", "5"), "replaces --generated"),
    ):
        assert run_cli("check", *bad) == 2
        err = capsys.readouterr().err
        assert message in err
        assert "Traceback" not in err


def test_refresh_rewrites_goldens_and_keeps_documents(
    frozen: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in frozen.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    golden = next(copy.glob("*.libvirt.args"))
    golden.write_text("stale\n")
    document = copy / "gen-3-0000.xml"
    before = document.read_bytes()
    assert run_cli("generate", "--refresh", str(copy)) == 0
    assert f"  {golden.name}\n" in capsys.readouterr().out
    assert golden.read_bytes() == (frozen / golden.name).read_bytes()
    assert document.read_bytes() == before
    assert run_cli("generate", "--refresh", str(copy)) == 0
    assert "0 files of" in capsys.readouterr().out
    assert run_cli("generate", "--refresh", "--seed", "4", str(copy)) == 2


def test_the_pytest_plugin_takes_a_set(frozen: Path, tmp_path: Path) -> None:
    args = ("--gi-impl", "reference", "--gi-generated-from", str(frozen), "--gi-case", "gen-*")
    code, output, cases = _pytest(tmp_path, *args)
    assert code == 0, output
    assert sorted(cases) == [f"check[gen-3-{i:04d}]" for i in range(COUNT)]
    code, output, _ = _pytest(tmp_path, "--gi-impl", "reference", "--gi-generated-from", "none")
    assert code != 0
    assert "--gi-generated-from: none: no index.json" in output
