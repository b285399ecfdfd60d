"""Every fuzz target: its seeds are real outputs that keep the contract, a short campaign
finds nothing, and a surface that breaks its contract is caught."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gi_conform.fuzz import TARGETS, ContractBreach, fuzz_one_input, run_campaign
from gi_conform.groundtruth import acpi

SMOKE_RUNS = 300


@pytest.mark.parametrize("name", list(TARGETS))
def test_seeds_are_real_outputs_and_keep_the_contract(name: str) -> None:
    target = TARGETS[name]
    seeds = target.seeds()
    assert len(seeds) >= 3, f"{name}: too few seeds"
    accepted = 0
    for seed in seeds:
        _, ok = target.outcome(seed)
        accepted += ok
    assert accepted, f"{name}: no seed reaches the deep end of its surface"


@pytest.mark.parametrize("name", list(TARGETS))
def test_a_short_campaign_finds_nothing(name: str) -> None:
    target = TARGETS[name]
    result = run_campaign(target.seeds(), runs=SMOKE_RUNS, target=target, seed=1)
    assert result.failures == 0, result.signatures
    assert result.inputs == SMOKE_RUNS


def test_a_decoder_raising_the_wrong_error_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes) -> tuple[tuple[int, ...], ...]:
        raise IndexError("a lying count read past the end")

    monkeypatch.setattr(acpi, "decode_slit", broken)
    target = TARGETS["acpi"]
    with pytest.raises(IndexError):
        target.fuzz_one_input(b"SLIT")
    result = run_campaign([b"SLIT" + bytes(40)], runs=20, target=target)
    assert result.failures == 20
    assert result.signatures == (
        "IndexError at test_fuzz.py:" + result.signatures[0].split(":")[-1],
    )


def test_the_xml_entry_is_the_xml_targets() -> None:
    with pytest.raises(ContractBreach):
        raise ContractBreach("the class is exported for callers to catch")
    fuzz_one_input(b"<domain/>")
    TARGETS["xml"].fuzz_one_input(b"<domain/>")


@pytest.mark.parametrize("name", ["argv", "protocol", "acpi", "serial"])
def test_the_command_runs_each_target(name: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gi_conform.fuzz",
            "--target",
            name,
            "--engine",
            "python",
            "--runs",
            "40",
            "--every",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"gi-conform fuzz (python, {name}): 40 inputs, 0 failures" in result.stdout
