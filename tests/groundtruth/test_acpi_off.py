"""Documents libvirt runs with ``acpi=off`` (issue 25): no ``<features>``, or one without
``<acpi/>``, on q35, pc and virt. ``gi-conform qemu`` and ``guest`` run them as libvirt
would and fail them when they ask for initiators; ``--force-acpi`` shows the tables and
says so; ``libvirt prove`` calls libvirt's own GI golden a proven gap.

Each test that passes a right implementation also names the wrong one it catches: ACPI
left on for the run (the initiators then show up, and the document would pass).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from gi_conform import Profile, validate
from gi_conform.groundtruth.qemu import QemuBinary, run_argv_check
from gi_conform.groundtruth.runnable import (
    acpi_check,
    acpi_words,
    document_command,
    libvirt_acpi,
    runnable_report,
)
from gi_conform.groundtruth.serial import read_frames
from gi_conform.libvirt.proof import ProofVerdict, _judged, asked_initiators
from gi_conform.model import Domain
from gi_conform.resources import cases_dir
from tests.helpers import run_cli

GOLDEN = "gi-acpi-disabled-libvirt-golden"
"""libvirt's own GI golden input, unchanged: q35 without <features>."""
NO_FEATURES = {
    "q35": GOLDEN,
    "pc": "gi-acpi-disabled-no-features-pc",
    "virt": "gi-acpi-disabled-no-features-virt",
}


def _path(case: str) -> str:
    return str(cases_dir() / f"{case}.xml")


def _domain(case: str) -> Domain:
    domain = validate((cases_dir() / f"{case}.xml").read_bytes()).domain
    assert domain is not None
    return domain


def _machine(command: list[str]) -> str:
    return command[command.index("-machine") + 1]


@pytest.mark.parametrize("machine", sorted(NO_FEATURES))
def test_validate_gives_each_machine_type_the_rules_message(machine: str) -> None:
    report = validate((cases_dir() / f"{NO_FEATURES[machine]}.xml").read_bytes())
    assert [v.rule for v in report.errors] == ["GI-ACPI-DISABLED"]
    assert "libvirt writes acpi=off" in report.errors[0].text()
    assert runnable_report(report)  # rejected only for that: the run is to show it


def test_the_run_has_acpi_off_as_libvirt_writes_it() -> None:
    for machine, case in NO_FEATURES.items():
        domain = _domain(case)
        arch = "aarch64" if machine == "virt" else "x86_64"
        assert not libvirt_acpi(domain)
        off = _machine(document_command(domain, Profile.LIBVIRT, "qemu", arch=arch, acpi=False))
        assert off.startswith(machine)
        assert "acpi=off" in off.split(",")
        on = _machine(document_command(domain, Profile.LIBVIRT, "qemu", arch=arch))
        assert "acpi=off" not in on  # the default (and --force-acpi): ACPI on


def test_the_acpi_check_fails_only_where_initiators_are_lost() -> None:
    domain = _domain(GOLDEN)
    lost = acpi_check(domain, forced=False)
    assert lost is not None
    assert not lost.ok
    assert "8 generic initiator" in lost.expected
    assert "acpi=off" in lost.seen
    forced = acpi_check(domain, forced=True)
    assert forced is not None
    assert not forced.ok
    assert "--force-acpi" in forced.seen
    assert acpi_check(dataclasses.replace(domain, acpi=True), forced=False) is None
    assert acpi_check(dataclasses.replace(domain, hostdevs=()), forced=False) is None
    assert acpi_words(domain, acpi=False).startswith(", ACPI off as libvirt runs it")
    assert "forced on" in acpi_words(domain, acpi=True)
    assert acpi_words(dataclasses.replace(domain, acpi=True), acpi=True) == ""


def test_a_document_rejected_for_more_than_acpi_is_not_run() -> None:
    text = (cases_dir() / f"{GOLDEN}.xml").read_text().replace("nodeset='1-8'", "nodeset='1-9'")
    report = validate(text)
    assert {v.rule for v in report.errors} == {"GI-ACPI-DISABLED", "GI-NODE-UNKNOWN"}
    assert not runnable_report(report)


def test_a_frame_marker_after_firmware_escapes_is_read() -> None:
    """Without ACPI, EDK2's screen-clearing escapes share the first marker's line."""
    console = (
        "\x1b[2J\x1b[01;01Hgi-conform:frame x 2 49f68a5c8493ec2c0bf489821c21fc3b\n"
        "aGk=\ngi-conform:end x\ngi-conform:done\n"
    )
    report = read_frames(console)
    assert report.done
    assert report.frames == {"x": b"hi"}  # matched at the line's start only: no frame


def test_the_proof_calls_acpi_off_a_gap_whatever_the_readback_saw() -> None:
    asked = asked_initiators(_domain(GOLDEN))
    seen = [pair.text() for pair in asked]
    verdict, message, details = _judged(asked, [], seen, len(asked), "readback only: acpi=off")
    assert verdict is ProofVerdict.SRAT_MISSING
    assert "acpi=off" in message
    assert len(details) == len(asked) == 8
    # the wrong implementation, trusting the ACPI-on readback, sees no difference
    assert _judged(asked, [], seen, len(asked), None)[0] is ProofVerdict.NO_VISIBLE_DIFFERENCE


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_qemu_shows_the_lost_srat_and_force_acpi_the_tables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli("qemu", _path(GOLDEN)) == 1
    captured = capsys.readouterr()
    assert "GI-ACPI-DISABLED" in captured.err
    lines = captured.out.splitlines()
    assert lines[-1].endswith("ACPI off as libvirt runs it (no <features><acpi/>))")
    assert any(line.startswith("ACPI ") and line.endswith("FAIL") for line in lines)
    gi_rows = [line for line in lines if line.startswith("GI gi")]
    assert len(gi_rows) == 8
    assert all(line.endswith("FAIL") for line in gi_rows)  # ACPI left on: all PASS
    assert run_cli("qemu", "--force-acpi", _path(GOLDEN)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "ACPI forced on (--force-acpi; libvirt writes acpi=off)" in lines[-1]
    gi_rows = [line for line in lines if line.startswith("GI gi")]
    assert all(line.endswith("PASS") for line in gi_rows)
    failed = [line for line in lines if line.endswith("FAIL")]
    assert [line.split()[0] for line in failed] == ["ACPI"]


@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_qemu_on_i440fx_without_acpi_finds_no_tables_at_all(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli("qemu", "--json", "--timeout", "4", _path(NO_FEATURES["pc"])) == 1
    payload = json.loads(capsys.readouterr().out)
    result = payload[0] if isinstance(payload, list) else payload
    assert result["acpi"] == "off"
    assert not result["acpi_forced"]
    entries = {check["entry"]: check["ok"] for check in result["checks"]}
    assert entries == {"ACPI": False, "guest's ACPI tables": True}


@pytest.mark.guest
@pytest.mark.slow
@pytest.mark.parametrize("machine", sorted(NO_FEATURES))
def test_a_guest_boot_reports_the_lost_srat(
    machine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gi_conform.groundtruth.guest_setup import GuestUnavailable, locate_kit  # noqa: PLC0415

    try:
        locate_kit("aarch64" if machine == "virt" else "x86_64")
    except GuestUnavailable as error:
        pytest.skip(f"needs a guest kit: {error}")
    status = run_cli("guest", "--json", "--timeout", "180", _path(NO_FEATURES[machine]))
    captured = capsys.readouterr()
    assert status == 1, captured.err
    payload = json.loads(captured.out)
    result = payload[0] if isinstance(payload, list) else payload
    assert result["acpi"] == "off"
    assert result["checks"][0]["entry"] == "ACPI"
    assert not result["checks"][0]["ok"]
    assert result["guest"]["has_generic_initiator"] == []  # ACPI left on: nodes 1-8
    assert result["seconds"] < 120  # a reported guest is stopped, powered off or not


@pytest.mark.libvirt
@pytest.mark.qemu
@pytest.mark.usefixtures("qemu_binary")
def test_prove_shows_the_gap_on_libvirts_own_golden_input() -> None:
    """The corpus case is the golden's input byte for byte; real libvirt writes acpi=off
    and all eight objects, and the proof calls it srat-missing, every initiator lost."""
    from gi_conform.libvirt.convert import convert  # noqa: PLC0415
    from gi_conform.libvirt.install import LibvirtUnavailable, locate  # noqa: PLC0415
    from gi_conform.libvirt.proof import prove  # noqa: PLC0415
    from gi_conform.resources import reference_dir  # noqa: PLC0415

    try:
        libvirt = locate()
    except LibvirtUnavailable as error:
        pytest.skip(f"no real libvirt: {error}")
    xml = (cases_dir() / f"{GOLDEN}.xml").read_bytes()
    assert xml == (reference_dir() / "libvirt-goldens" / "acpi-generic-initiator.xml").read_bytes()
    result = convert(xml, libvirt=libvirt)
    assert result.accepted, result.message
    machine = result.argv[result.argv.index("-machine") + 1]
    assert machine.endswith(",acpi=off")
    assert sum("acpi-generic-initiator" in token for token in result.argv) == 8
    proof = prove(xml, result.argv)
    assert proof.verdict is ProofVerdict.SRAT_MISSING, proof
    assert proof.proves_gap
    assert "libvirt writes acpi=off" in proof.message
    assert len(proof.details) == 8


@pytest.mark.qemu
def test_qemu_accepts_initiators_with_acpi_off_and_says_nothing(qemu_binary: QemuBinary) -> None:
    """rules.toml's ``qemu = "accepts"`` for GI-ACPI-DISABLED, on the argv as libvirt runs
    it: exit 0 and an empty stderr, on q35 and pc."""
    for machine in ("q35", "pc"):
        domain = _domain(NO_FEATURES[machine])
        command = document_command(domain, Profile.LIBVIRT, qemu_binary.path, acpi=False)
        assert "acpi=off" in _machine(command)
        status, stderr = run_argv_check(command)
        assert (status, stderr.strip()) == (0, ""), machine
