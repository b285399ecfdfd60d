"""The command line as users and other tools call it: output formats and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gi_conform.cli.main import main
from gi_conform.resources import cases_dir

SEED = str(cases_dir() / "seed-example.xml")
REJECTED = str(cases_dir() / "gi-node-unknown.xml")


def test_argv_default_profile_is_the_seed_for_seed_input(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["argv", SEED]) == 0
    out = capsys.readouterr().out
    assert out == (cases_dir() / "seed-example.seed.args").read_text()


def test_argv_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["argv", SEED, "--profile", "libvirt", "--format", "json"]) == 0
    argv = json.loads(capsys.readouterr().out)
    assert argv[0] == "-object"
    assert argv.count("-numa") == 9


def test_validate_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", REJECTED]) == 1
    out = capsys.readouterr().out
    assert out == (cases_dir() / "gi-node-unknown.err").read_text()
    assert main(["validate", REJECTED, "--format", "json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["accepted"] is False
    assert payload["violations"][0]["rule"] == "GI-NODE-UNKNOWN"
    assert main(["validate", SEED]) == 0


def test_argv_of_a_rejected_document_prints_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["argv", REJECTED]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "GI-NODE-UNKNOWN" in captured.err


def test_fmt_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", SEED]) == 0
    first = capsys.readouterr().out
    (tmp_path / "f.xml").write_text(first)
    assert main(["fmt", str(tmp_path / "f.xml")]) == 0
    assert capsys.readouterr().out == first


def test_fmt_refuses_malformed_xml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.xml").write_text("<domain>")
    assert main(["fmt", str(tmp_path / "bad.xml")]) == 1
    assert "XML-MALFORMED" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["argv", SEED, "--profile", "nope"]) == 2
    assert main(["argv", "/nonexistent/file.xml"]) == 2
    err = capsys.readouterr().err
    assert "cannot read /nonexistent/file.xml" in err
    assert "Traceback" not in err


def test_directory_is_unreadable_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "gi_conform.cli", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=60,
    )


def test_stdin_and_real_process_exit_codes() -> None:
    seed = Path(SEED).read_bytes()
    ok = _run("argv", "-", stdin=seed)
    assert ok.returncode == 0
    assert ok.stdout.decode() == (cases_dir() / "seed-example.seed.args").read_text()
    bad = _run("validate", "-", stdin=b"\x00\xff garbage")
    assert bad.returncode == 1
    assert bad.stdout.startswith(b"error XML-MALFORMED line 1:")
    assert b"Traceback" not in bad.stderr


def test_console_script_help() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert b"argv" in result.stdout
