"""The differential run against real libvirt, smaller (issue 26): every failure classified.

``gi-conform check --impl libvirt --no-corpus --generated 1000 --seed 99`` is the full
run (``docs/howto/real-libvirt.md``, "The differential run"); this runs ``_DOCUMENTS``
generated documents with the same seed (another set: the count is part of the
generation) and holds every failure to a class with a reason: a libvirt gap proven in
QEMU by ``gi-conform libvirt prove``, libvirt laxer with no visible difference, or a
listed libvirt rule the reference does not adopt. A failure outside these classes is a
rule the reference has not modelled (or a new libvirt bug): the test names it.
"""

from __future__ import annotations

import pytest

from gi_conform.libvirt.install import Libvirt
from gi_conform.model import Hostdev, HostdevKind
from gi_conform.oracle.cases import document_case
from gi_conform.oracle.model import (
    Answer,
    CaseResult,
    CheckOptions,
    Failure,
    FailureKind,
    Outcome,
    Verdict,
)
from gi_conform.oracle.runner import run_check
from gi_conform.resources import cases_dir

pytestmark = pytest.mark.libvirt

_DOCUMENTS = 150
_SEED = 99

PROVEN_GAPS = frozenset(
    {
        # libvirt accepts, QEMU refuses its argv (gi-conform libvirt prove: qemu-refuses)
        "GI-NODE-UNKNOWN",
        "GI-NODE-SYNTAX",
        "NUMA-TOO-MANY-CELLS",
        "NUMA-NO-MEMORY",
        "HMAT-CACHE-WITHOUT-LB",
        "HMAT-VALUE",
        "HMAT-CACHE-LEVELS",
        "HOSTDEV-ADDRESS-SYNTAX",
        "INV-HMAT",
        # libvirt accepts, the guest's SRAT lacks the initiators (srat-missing)
        "GI-NO-NUMA",
        "GI-DEVICE-NOT-PCI",
        # libvirt writes acpi=off: no SRAT at all (finding libvirt-acpi-off, srat-missing)
        "GI-ACPI-DISABLED",
    }
)
"""Reference rules libvirt 12.8 does not enforce, each proven a gap in real QEMU."""

MDEV_GAP = frozenset({"FACT-GI-PAIRS", "FACT-GI-IDS", "INV-GI-PAIRS"})
"""libvirt accepts ``<acpi nodeset>`` on an mdev and writes no initiator (srat-missing):
counted apart, and only ever on a document with an mdev nodeset."""

STRICTER_BY_DESIGN = frozenset(
    {
        "DEVICE-ALIAS-SYNTAX",
        "DEVICE-ALIAS-RESERVED",
        "XML-FORBIDDEN",
        "XML-TOO-LARGE",
        "NUMA-CELL-ID-DUPLICATE",
        "HOSTDEV-MULTIFUNCTION",
        "HOSTDEV-ADDRESS-RESERVED",
        "MEMORY-BACKING-SYNTAX",
        "HOSTDEV-IOMMUFD-SYNTAX",
    }
)
"""libvirt laxer, QEMU runs its argv and the guest sees every initiator asked for
(``prove``: no-visible-difference): the reference stricter by design
(``docs/howto/real-libvirt.md``); HOSTDEV-ADDRESS-RESERVED where libvirt moves the device itself."""

LIBVIRT_STRICTER = {
    "ACPI requires UEFI on this architecture": "aarch64 without UEFI (issue 25)",
    "Link already defined": "asymmetric HMAT links: the reference follows QEMU",
    "NUMA nodes without CPUs can't be initiator": "a GI node as HMAT initiator: as QEMU",
    "a PCIe slot is needed to connect a PCI controller": "libvirt's root-port capacity",
}
"""libvirt rejections the reference does not adopt, each with its reason."""

MODELLED = (
    "hugepages are not allowed with anonymous memory source",
    "Setting 'fdgroup' when 'iommufd' is disabled is not supported",
    "No PCI buses available",
    "USB is disabled",
    "setting ACPI S3/S4 not supported",
    "ps2 is not supported",
    "hugetlbfs filesystem is not mounted",
)
"""Issue 26's rules: modelled, kept out of the strategies, or the environment's."""


def classify(result: CaseResult) -> str:
    """The class of one libvirt result: passed, skipped, or why it failed ('' unknown)."""
    if result.outcome is Outcome.PASSED:
        return "passed"
    if result.outcome is Outcome.SKIPPED:
        return "environment" if result.reason.startswith("environment: ") else "dialect"
    if result.outcome is not Outcome.FAILED:
        return ""
    keys = set(result.keys)
    if result.answer.verdict is Verdict.REJECTED:
        if keys != {"VERDICT-REJECTS-VALID"}:
            return ""
        message = result.answer.message
        if any(text in message for text in MODELLED):
            return ""
        return next(
            (
                f"libvirt-stricter: {why}"
                for text, why in LIBVIRT_STRICTER.items()
                if text in message
            ),
            "",
        )
    if keys & MDEV_GAP:
        mdev = any(h.kind is HostdevKind.MDEV and h.nodeset for h in _hostdevs(result))
        return "mdev-gap" if mdev and keys <= MDEV_GAP else ""
    if keys <= PROVEN_GAPS:
        return "proven-gap"
    if keys <= PROVEN_GAPS | STRICTER_BY_DESIGN:
        return "stricter-by-design"
    return ""


def _hostdevs(result: CaseResult) -> tuple[Hostdev, ...]:
    domain = result.case.expectation.domain
    return domain.hostdevs if domain is not None else ()


def test_differential_run_leaves_only_classified_failures(real_libvirt: Libvirt) -> None:
    run = run_check(
        CheckOptions(impl="libvirt", use_corpus=False, generated=_DOCUMENTS, seed=_SEED, jobs=2)
    )
    classes = {result.case.id: classify(result) for result in run.results}
    unknown = {
        result.case.id: (result.keys, result.answer.message[:200])
        for result in run.results
        if not classes[result.case.id]
    }
    assert unknown == {}, "failures no class explains (a new libvirt rule or bug?)"
    assert all("FACT-DEVICE-IDS" not in result.keys for result in run.results)
    assert list(classes.values()).count("passed") > _DOCUMENTS // 3


# ------------------------------------------- the classifier catches what it must


def _result(case: str, verdict: Verdict, keys: tuple[str, ...], message: str = "") -> CaseResult:
    xml = (cases_dir() / f"{case}.xml").read_bytes()
    failures = tuple(Failure(FailureKind.VERDICT, key, key) for key in keys)
    return CaseResult(
        document_case(case, xml),
        Outcome.FAILED,
        Answer(verdict, message=message),
        failures=failures,
    )


@pytest.mark.parametrize(
    ("case", "verdict", "keys", "message", "expected"),
    [
        # a libvirt rule the reference forgot again: never explained away
        (
            "memory-hugepages",
            Verdict.REJECTED,
            ("VERDICT-REJECTS-VALID",),
            "error: unsupported configuration: hugepages are not allowed with anonymous "
            "memory source",
            "",
        ),
        # a libvirt rejection nobody listed: unknown
        ("two-gpus-nodeset", Verdict.REJECTED, ("VERDICT-REJECTS-VALID",), "error: new", ""),
        # a renamed device is never a class
        ("two-gpus-nodeset", Verdict.ACCEPTED, ("FACT-DEVICE-IDS",), "", ""),
        # missing initiators on a PCI GPU are no mdev gap
        ("two-gpus-nodeset", Verdict.ACCEPTED, ("FACT-GI-PAIRS",), "", ""),
        ("mdev-nodeset", Verdict.ACCEPTED, ("FACT-GI-PAIRS", "INV-GI-PAIRS"), "", "mdev-gap"),
        ("gi-node-unknown-nodeset", Verdict.ACCEPTED, ("GI-NODE-UNKNOWN",), "", "proven-gap"),
        (
            "two-gpus-nodeset",
            Verdict.REJECTED,
            ("VERDICT-REJECTS-VALID",),
            "error: unsupported configuration: ACPI requires UEFI on this architecture",
            "libvirt-stricter: aarch64 without UEFI (issue 25)",
        ),
    ],
)
def test_classify_leaves_unmodelled_rules_and_renamed_devices_unexplained(
    case: str, verdict: Verdict, keys: tuple[str, ...], message: str, expected: str
) -> None:
    assert classify(_result(case, verdict, keys, message)) == expected
