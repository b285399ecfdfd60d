"""CLI manners: ``gi-conform --version``, and every command's ``--help`` ends with its exit
statuses and an example that the parser itself accepts."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

import pytest

import gi_conform
from gi_conform.cli.main import MANNERS, build_parser, command_parsers, version
from tests.helpers import ROOT, run_cli

PARSERS = dict(command_parsers(build_parser()))


def test_version_prints_the_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--version") == 0
    out = capsys.readouterr().out
    assert out == f"gi-conform {version()}\n"
    assert version() != "unknown"
    assert version() == gi_conform.__version__, "pyproject's version and __version__ differ"


def test_version_from_the_console_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gi_conform.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("gi-conform ")


def test_every_command_has_manners_and_no_stale_entry() -> None:
    assert set(PARSERS) == set(MANNERS)
    assert {"gi-conform argv", "gi-conform libvirt prove", "gi-conform check"} <= set(PARSERS)


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_help_ends_with_exit_statuses_and_an_example(prog: str) -> None:
    text = PARSERS[prog].format_help().rstrip()
    exits, _, example = text.rpartition("\nexample:\n")
    assert example.strip() == MANNERS[prog].example, "the help does not end with the example"
    assert "exit status:\n" in exits
    assert text.count("exit status:") == 1, "a command family's own exit text left in"
    for code, _meaning in MANNERS[prog].exits:
        assert f"\n  {code:<3} " in exits
    assert "\n  70  internal error" in exits


@pytest.mark.parametrize("prog", sorted(PARSERS))
def test_the_example_is_a_command_the_parser_accepts(prog: str) -> None:
    words = shlex.split(MANNERS[prog].example)
    assert words[0] == "gi-conform"
    # The example must name this command (the top level's may be any).
    if prog != "gi-conform":
        assert " ".join(words[: len(prog.split())]) == prog
    args = build_parser().parse_args(words[1:])
    assert isinstance(args, argparse.Namespace)


def test_help_exits_zero_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("libvirt", "prove", "--help") == 0
    assert capsys.readouterr().out.rstrip().endswith(MANNERS["gi-conform libvirt prove"].example)
