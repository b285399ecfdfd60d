"""The wheel carries cases/ and reference/, so gi-conform works outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("gi_conform-*.whl")
    return built


def test_wheel_contains_the_corpus_and_the_catalogue(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "gi_conform/_data/cases/seed-example.xml" in names
    assert "gi_conform/_data/cases/index.json" in names
    assert "gi_conform/_data/reference/rules.toml" in names
    cases = [n for n in names if n.startswith("gi_conform/_data/cases/")]
    assert len(cases) == len(list((ROOT / "cases").iterdir()))


def test_installed_wheel_runs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import sys; from gi_conform.cli.main import main; from gi_conform import cases_dir;"
        "assert str(cases_dir()).startswith(sys.argv[1]), cases_dir();"
        "raise SystemExit(main(['argv', str(cases_dir() / 'seed-example.xml')]))"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(site)!r}); {script}",
            str(site),
        ],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode() == (ROOT / "cases" / "seed-example.seed.args").read_text()
