"""libvirt's XML layer and virtinst as round-trip implementations (``@pytest.mark.libvirt``).

Needs the chroot of ``gi-conform libvirt setup`` (which installs virtinst into it) or a
system libvirt; skips, saying how to get one, without it. What each tool keeps and
loses is asserted on corpus documents, so a change in libvirt or virtinst shows here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gi_conform.libvirt.convert import leftover_processes
from gi_conform.libvirt.install import Libvirt
from gi_conform.libvirt.xmllayer import VIRTINST_PATH, define_dumpxml, schema_validate
from gi_conform.oracle.model import CheckOptions, Mode, Outcome
from gi_conform.oracle.runner import CheckRun, run_check
from gi_conform.resources import cases_dir
from tests.oracle.test_workers import _assert_same_report

pytestmark = pytest.mark.libvirt


GENERATED_SET = Path(__file__).resolve().parents[2] / "reference/implementations/generated-seed0"


def _check(impl: str, *patterns: str, jobs: int = 1, corpus: Path | None = None) -> CheckRun:
    options = CheckOptions(
        impl=impl,
        mode=Mode.ROUNDTRIP,
        generated=0,
        patterns=patterns,
        jobs=jobs,
        timeout=60,
        **({"corpus": corpus} if corpus is not None else {}),
    )
    return run_check(options)


def _ours(libvirt: Libvirt) -> list[int]:
    """Processes left in the chroot by these tools (others may share the chroot)."""
    found = []
    for pid in leftover_processes(libvirt):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"gi-conform-xml-" in command or b"virtinst" in command:
            found.append(pid)
    return found


def _keys(run: CheckRun, case: str) -> set[str]:
    result = next(r for r in run.results if r.case.id == case)
    return set(result.keys) if result.outcome is Outcome.FAILED else {str(result.outcome)}


def test_libvirt_xml_keeps_nodesets_and_drops_seed_elements(real_libvirt: Libvirt) -> None:
    run = _check(
        "libvirt-xml",
        "libvirt-11.8-example",
        "mdev-nodeset",
        "two-gpus-nodeset",
        "seed-example",
        "mixed-dialects",
        "gi-missing-field",
        "hmat-cache-sizes",
        jobs=2,
    )
    assert run.info.version == real_libvirt.version
    for kept in ("libvirt-11.8-example", "mdev-nodeset", "two-gpus-nodeset"):
        assert _keys(run, kept) == {"passed"}, kept
    assert _keys(run, "seed-example") == {"RT-SEED-DROPPED"}
    assert "RT-SEED-DROPPED" in _keys(run, "mixed-dialects")
    # an invalid seed element is dropped too: the document written back is valid
    assert _keys(run, "gi-missing-field") == {"RT-VERDICT-CHANGED"}
    # libvirt 12.8 writes a 1 MiB memory-side cache back as 1 KiB
    assert _keys(run, "hmat-cache-sizes") == {"RT-HMAT-CHANGED"}
    assert _ours(real_libvirt) == []


def test_libvirt_xml_keeps_a_usb_nodeset(real_libvirt: Libvirt) -> None:
    result = define_dumpxml(
        (cases_dir() / "gi-device-not-pci.xml").read_bytes(), libvirt=real_libvirt
    )
    assert result.accepted
    assert "<acpi nodeset=" in result.xml
    assert "type='usb'" in result.xml


def test_libvirt_xml_rejects_with_libvirts_reason(real_libvirt: Libvirt) -> None:
    document = (cases_dir() / "hmat-asymmetric.xml").read_bytes()
    result = define_dumpxml(document, libvirt=real_libvirt)
    assert not result.accepted
    assert "Link already defined" in result.message
    assert "/tmp/" not in result.message  # scratch paths never reach a report


def test_libvirt_schema_is_a_verdict(real_libvirt: Libvirt) -> None:
    assert schema_validate(
        (cases_dir() / "libvirt-11.8-example.xml").read_bytes(), libvirt=real_libvirt
    ).accepted
    refused = schema_validate((cases_dir() / "seed-example.xml").read_bytes(), libvirt=real_libvirt)
    assert not refused.accepted
    assert "Relax-NG" in refused.message
    run = _check(
        "libvirt-schema", "libvirt-11.8-example", "seed-example", "gi-node-unknown-nodeset"
    )
    assert _keys(run, "libvirt-11.8-example") == {"passed"}
    assert _keys(run, "seed-example") == {"VERDICT-REJECTS-VALID"}
    # the schema cannot know which nodes exist: it accepts what the reference rejects
    assert _keys(run, "gi-node-unknown-nodeset") == {"RT-VERDICT-CHANGED"}


def test_virtinst_keeps_what_it_does_not_know(real_libvirt: Libvirt) -> None:
    if not (real_libvirt.root / VIRTINST_PATH.lstrip("/") / "virtinst").is_dir():
        pytest.skip("no virtinst in the chroot: run gi-conform libvirt setup")
    run = _check("virtinst", "seed-example", "mixed-dialects", "libvirt-11.8-example", "xml-root")
    assert run.info.name == "virtinst"
    assert run.info.version.startswith("5.")
    for kept in ("seed-example", "mixed-dialects", "libvirt-11.8-example"):
        assert _keys(run, kept) == {"passed"}, kept
    assert _ours(real_libvirt) == []


@pytest.mark.parametrize("impl", ["libvirt-xml", "libvirt-schema", "virtinst"])
def test_jobs_give_the_same_report(real_libvirt: Libvirt, impl: str) -> None:
    if impl == "virtinst" and not (real_libvirt.root / VIRTINST_PATH.lstrip("/")).is_dir():
        pytest.skip("no virtinst in the chroot: run gi-conform libvirt setup")
    patterns = ("seed-*", "mixed-*", "hmat-*", "gi-*", "xml-*")
    # virtinst keeps every corpus case: the frozen generated set holds its failures
    corpus = GENERATED_SET if impl == "virtinst" else None
    patterns = ("gen-*",) if impl == "virtinst" else patterns
    alone = _check(impl, *patterns, corpus=corpus)
    spread = _check(impl, *patterns, jobs=3, corpus=corpus)
    assert alone.count(Outcome.FAILED) > 0
    _assert_same_report(alone, spread)
