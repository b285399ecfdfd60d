"""The tutorial's worked implementation (``docs/examples/gi-argv.js``): the command the
tutorial prints is run exactly as written and passes, with the summary the page shows; a
copy with one planted bug fails it, and one that crashes is an error, not a verdict."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_cli

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="no node (Debian: apt-get install nodejs)")
EXAMPLE = ROOT / "docs" / "examples" / "gi-argv.js"
TUTORIAL = ROOT / "docs" / "tutorial" / "check-your-implementation.md"
MARK = "<!-- the command below is run by tests/docs/test_tutorial.py, exactly as written -->"


@pytest.fixture(autouse=True)
def _from_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tutorial's commands run from the repository's root, as the page says."""
    monkeypatch.chdir(ROOT)


def _tutorial_run() -> tuple[list[str], list[str]]:
    """The tutorial's tested command (its words after ``gi-conform``) and the summary lines
    the page shows for it (the figures and the valid/invalid split)."""
    after = TUTORIAL.read_text().split(MARK, 1)[1]
    command, shown = re.findall(r"```(?:sh|text)\n(.*?)```", after, re.DOTALL)[:2]
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "gi-conform"
    return words[1:], shown.splitlines()[:2]


def _with_impl(words: list[str], impl: str) -> list[str]:
    at = words.index("--impl")
    return [*words[: at + 1], impl, *words[at + 2 :], "--no-progress"]


def test_the_example_is_standalone() -> None:
    source = EXAMPLE.read_text()
    assert "gi_conform" not in source
    assert re.findall(r"require\(\"([^\"]+)\"\)", source) == ["fs"]


def test_the_tutorial_command_passes_as_the_page_shows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    words, shown = _tutorial_run()
    assert "cmd:node docs/examples/gi-argv.js {}" in words
    assert {"--strict", "--messages"} <= set(words)
    assert run_cli(*words, "--no-progress") == 0
    out = capsys.readouterr().out
    for line in shown:
        assert line in out.splitlines(), f"the page shows {line!r}; the run printed:\n{out}"


DROP_LAST = "for (const node of nodes) {\n      const object"
CRASH_AT = "function convert(domain) {\n"


def _run_copy(source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    copy = tmp_path / "gi-argv.js"
    copy.write_text(source)
    words, _ = _tutorial_run()
    status = run_cli(*_with_impl(words, f"cmd:node {copy} {{}}"))
    return status, capsys.readouterr().out


def test_a_dropped_initiator_fails_the_tutorial_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = EXAMPLE.read_text()
    assert DROP_LAST in source
    broken = source.replace(DROP_LAST, DROP_LAST.replace("of nodes", "of nodes.slice(0, -1)"))
    status, out = _run_copy(broken, tmp_path, capsys)
    assert status == 1
    assert "FACT-GI-PAIRS" in out
    assert "INV-GI-PAIRS" in out


def test_a_crashing_example_fails_the_tutorial_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = EXAMPLE.read_text()
    assert CRASH_AT in source
    status, out = _run_copy(
        source.replace(CRASH_AT, CRASH_AT + "  null.boom();\n"), tmp_path, capsys
    )
    assert status == 1
    assert re.search(r"\b0 passed\b", out)


def test_a_crashing_example_is_errored_not_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = EXAMPLE.read_text()
    status, out = _run_copy(
        source.replace(CRASH_AT, CRASH_AT + "  null.boom();\n"), tmp_path, capsys
    )
    assert status == 1
    assert re.search(r"\b0 passed, 0 failed, 0 skipped, 13 errored\b", out)
