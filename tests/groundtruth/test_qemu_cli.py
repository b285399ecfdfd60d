"""``gi-conform qemu FILE...``: the command a user runs, on one file and on several
with ``--jobs`` (output in file order, the highest status, the same for any N)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gi_conform.resources import cases_dir
from tests.helpers import run_cli

pytestmark = [pytest.mark.qemu, pytest.mark.usefixtures("qemu_binary")]

FILES = [str(cases_dir() / f"{name}.xml") for name in ("seed-example", "gi-node-order")]
REJECTED = str(cases_dir() / "gi-node-unknown.xml")


def test_one_file_prints_its_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("qemu", FILES[0]) == 0
    out = capsys.readouterr().out
    assert "==" not in out
    assert out.splitlines()[-1].endswith("profile seed)")


def test_several_files_in_order_with_the_highest_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli("qemu", *FILES, REJECTED, "--jobs", "2") == 1
    captured = capsys.readouterr()
    headers = [line[3:] for line in captured.out.splitlines() if line.startswith("== ")]
    assert headers == [*FILES, REJECTED]
    assert "GI-NODE-UNKNOWN" in captured.err


def test_jobs_do_not_change_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for jobs in ("1", "2"):
        logs = tmp_path / jobs
        assert run_cli("qemu", *FILES, "--json", "-j", jobs, "--keep-logs", str(logs)) == 0
        outputs.append(json.loads(capsys.readouterr().out))
        assert sorted(p.name for p in logs.iterdir()) == ["gi-node-order", "seed-example"]
    assert outputs[0] == outputs[1]
    assert [payload["file"] for payload in outputs[0]] == FILES
    assert all(payload["passed"] for payload in outputs[0])


def test_stdin_twice_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("qemu", "-", "-") == 2
    assert "stdin" in capsys.readouterr().err
