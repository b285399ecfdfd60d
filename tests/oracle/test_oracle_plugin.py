"""The pytest plugin as another project uses it: ``pytest --gi-impl SPEC`` in a folder of
its own, results read back from ``--junitxml``."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from xml.etree import ElementTree

from tests.helpers import MUTANTS_DIR, ROOT

PLUGIN = "gi_conform.oracle.pytest_plugin"


def _installed() -> bool:
    return any(e.value == PLUGIN for e in entry_points(group="pytest11"))


def _pytest(folder: Path, *args: str) -> tuple[int, str, dict[str, list[str]]]:
    """Run pytest in ``folder``; returns status, output and testcase name -> child tags."""
    junit = folder / "junit.xml"
    # An editable install registers the entry point; a bare checkout needs -p.
    plugin = [] if _installed() else ["-p", PLUGIN]
    command = [sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider"]
    command += ["-q", f"--junitxml={junit}", "--rootdir", str(folder), *args]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(folder)}
    done = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=120, env=env, check=False
    )
    cases = {
        testcase.get("name", ""): [child.tag for child in testcase]
        for testcase in ElementTree.parse(junit).getroot().iter("testcase")
    }
    return done.returncode, done.stdout + done.stderr, cases


def test_entry_point_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"] == {"gi_conform": PLUGIN}


def test_plugin_runs_the_reference_as_items(tmp_path: Path) -> None:
    code, output, cases = _pytest(tmp_path, "--gi-impl", "reference", "--gi-generated", "5")
    assert code == 0, output
    assert "check[seed-example]" in cases
    assert "check[gen-0-0004]" in cases
    assert all(tags == [] for tags in cases.values())


def test_plugin_reports_failures_errors_and_known_deviations(tmp_path: Path) -> None:
    deviations = tmp_path / "deviations.txt"
    deviations.write_text("two-gpus-nodeset: reordered on purpose\n")
    code, output, cases = _pytest(
        tmp_path,
        "--gi-impl",
        "python:tests.mutants.mutants:reorders",
        "--gi-generated",
        "0",
        "--gi-known-deviations",
        str(deviations),
        "--gi-case",
        "gi-node-unknown",
        "-k",
        "seed-example or two-gpus or gi-node-unknown",
    )
    assert code == 0, output
    # --gi-case narrows what is collected; -k deselects among what was.
    assert cases == {"check[gi-node-unknown]": []}
    code, output, cases = _pytest(
        tmp_path,
        "--gi-impl",
        "python:tests.mutants.mutants:reorders",
        "--gi-generated",
        "0",
        "--gi-known-deviations",
        str(deviations),
        "-k",
        "seed-example or two-gpus or gi-node-unknown and not nodeset",
    )
    assert code == 1, output
    assert cases == {
        "check[seed-example]": ["failure"],
        "check[two-gpus-nodeset]": ["skipped"],
        "check[gi-node-unknown]": [],
    }
    assert "INV-ORDER-SEED" in output
    assert "Traceback" not in output

    code, output, cases = _pytest(
        tmp_path,
        "--gi-impl",
        "python:tests.mutants.mutants:hangs",
        "--gi-timeout",
        "0.5",
        "--gi-generated",
        "0",
        "-k",
        "cells-128",
    )
    assert code == 1, output
    assert cases == {"check[cells-128]": ["error"]}
    assert "implementation errored: timeout" in output


def test_plugin_is_inert_without_its_option(tmp_path: Path) -> None:
    (tmp_path / "test_own.py").write_text("def test_own():\n    pass\n")
    code, output, cases = _pytest(tmp_path)
    assert code == 0, output
    assert list(cases) == ["test_own"]


def test_plugin_runs_under_xdist_with_the_same_verdicts(tmp_path: Path) -> None:
    args = ("--gi-impl", "python:tests.mutants.mutants:reorders", "--gi-generated", "6")
    code, output, alone = _pytest(tmp_path, *args)
    assert code == 1, output
    code, output, spread = _pytest(tmp_path, *args, "-n", "2")
    assert code == 1, output
    assert "bringing up nodes" in output  # xdist really ran
    assert spread == alone
    assert any(tags == ["failure"] for tags in spread.values())
    assert any(tags == [] for tags in spread.values())


def test_plugin_checks_round_trips(tmp_path: Path) -> None:
    args = ("--gi-mode", "roundtrip", "--gi-generated", "0", "--gi-case", "seed-*")
    code, output, cases = _pytest(tmp_path, "--gi-impl", "reference", *args)
    assert code == 0, output
    assert cases["check[seed-example]"] == []
    code, output, cases = _pytest(
        tmp_path, "--gi-impl", "python:tests.mutants.roundtrip_mutants:drops_seed", *args
    )
    assert code == 1
    assert cases["check[seed-example]"] == ["failure"]
    assert "RT-SEED-DROPPED" in output


def test_plugin_takes_a_reject_pattern(tmp_path: Path) -> None:
    wrapper = MUTANTS_DIR / "as_command.py"
    impl = f"cmd:{sys.executable} {wrapper} --style=custom reference {{}}"
    args = ("--gi-impl", impl, "--gi-generated", "0", "--gi-case", "gi-node-unknown")
    code, output, cases = _pytest(tmp_path, *args, "--gi-reject-pattern", "^REJECTED ")
    assert code == 0, output
    assert cases == {"check[gi-node-unknown]": []}
    code, output, cases = _pytest(tmp_path, *args)
    assert code != 0
    assert cases["check[gi-node-unknown]"] == ["error"]
    assert "no rejection line on stderr" in output
    code, output, _ = _pytest(tmp_path, *args, "--gi-reject-pattern", "(")
    assert code == 4  # pytest's usage error
    assert "--reject-pattern '('" in output
