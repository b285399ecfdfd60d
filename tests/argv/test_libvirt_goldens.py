"""The reference against libvirt's own goldens (``reference/libvirt-goldens/``).

Each upstream test input, re-stated as the reference reads it (``NAME.xml``, written by
gi-conform's formatter), runs through the reference; its GI-relevant lines are compared,
feature by feature, with libvirt's expected output (``NAME.<arch>-latest.args``: only the
GI-relevant options, in libvirt's order and values) or its expected error (``NAME.err``).
The upstream file each re-states and the commit it was read at are in ``MANIFEST.toml``.

A feature the README says is not modelled is *out of scope*: its comparison still runs and
must still disagree (``xfail(strict=True)``, with the reason), so a fix shows up here and
nothing is skipped silently. ``python tests/argv/test_libvirt_goldens.py`` prints the
agreement per feature (the README's figures).

Normalisations, each a documented convention of the reference rather than a difference in
meaning: a hostdev without a guest address gets no ``bus``/``addr`` from the reference (libvirt
assigns one; guest PCI placement is not modelled), and libvirt's ``.err`` prefixes (``XML
error: ``, ``unsupported configuration: ``) are dropped before looking for the message in the
reference's diagnostics.
"""

from __future__ import annotations

import json
import shlex
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gi_conform.argv.build import Option, Profile, build_argv, flatten
from gi_conform.argv.options import json_object
from gi_conform.document.validate import validate
from gi_conform.model import Domain
from gi_conform.pcitopology import DEVICE_DRIVERS, controller_props, pci_topology, smmuv3_props

GOLDENS = Path(__file__).resolve().parents[2] / "reference" / "libvirt-goldens"

FEATURES = (
    "numa-nodes",
    "distances",
    "memory-backends",
    "vfio-pci",
    "initiators",
    "pci-controllers",
    "verdict",
)

OUT_OF_SCOPE: dict[tuple[str, str], str] = {
    ("numatune-auto-prefer", "memory-backends"): (
        "placement auto: the host nodes are numad's answer when the domain starts (host "
        "state; the golden's [0,1,2,3] is the test suite's numad mock), so the reference "
        "writes no host-nodes/policy (NUMATUNE-PLACEMENT-AUTO)"
    ),
}
"""(golden, feature) pairs that disagree because the feature is not modelled, and why."""

STRICTER: dict[str, str] = {
    "acpi-generic-initiator": "GI-ACPI-DISABLED",
}
"""Goldens libvirt accepts and the reference rejects on purpose, by the one rule it
reports: libvirt's own GI input has no ``<features>``, so its expected args carry
``acpi=off`` and the initiators reach no guest. Their verdict must disagree (``xfail``,
strict); every other feature is still compared, on the model the reference read."""


@dataclass(frozen=True)
class Golden:
    name: str
    xml: Path
    expected: Path

    @property
    def rejected(self) -> bool:
        return self.expected.suffix == ".err"


def goldens() -> list[Golden]:
    manifest = tomllib.loads((GOLDENS / "MANIFEST.toml").read_text())
    names = sorted({f["name"].split(".")[0] for f in manifest["file"]})
    found: list[Golden] = []
    for name in names:
        args = [GOLDENS / f"{name}.{arch}-latest.args" for arch in ("x86_64", "aarch64")]
        expected = next((path for path in args if path.exists()), GOLDENS / f"{name}.err")
        found.append(Golden(name, GOLDENS / f"{name}.xml", expected))
    return found


def _options(argv: list[str]) -> Iterator[tuple[str, str]]:
    for index, token in enumerate(argv[:-1]):
        if token.startswith("-") and not argv[index + 1].startswith("-"):
            yield token, argv[index + 1]


def _qom(value: str) -> dict[str, object] | None:
    if not value.startswith("{"):
        return None
    loaded = json.loads(value)
    return loaded if isinstance(loaded, dict) else None


def feature_lines(argv: list[str], feature: str) -> list[str]:
    """The lines of one feature in an argv, in order, as ``FLAG VALUE``."""
    lines: list[str] = []
    for flag, value in _options(argv):
        props = _qom(value)
        keep = False
        if flag == "-numa":
            keep = (feature == "numa-nodes" and value.startswith("node,")) or (
                feature == "distances" and value.startswith("dist,")
            )
        elif flag == "-object" and props is not None:
            qom = str(props.get("qom-type", ""))
            keep = (
                feature == "memory-backends"
                and (qom.startswith("memory-backend-") or qom == "thread-context")
                and str(props.get("id", "")).startswith(("ram-node", "tc-ram-node"))
            ) or (feature == "initiators" and qom == "acpi-generic-initiator")
        elif flag == "-device" and props is not None:
            driver = props.get("driver")
            keep = (feature == "vfio-pci" and driver == "vfio-pci") or (
                feature == "pci-controllers" and driver in _TOPOLOGY_DRIVERS
            )
        if keep:
            lines.append(f"{flag} {value}")
    return lines


_TOPOLOGY_DRIVERS = frozenset({*DEVICE_DRIVERS.values(), "arm-smmuv3"})


def _topology_lines(domain: Domain) -> list[str]:
    """Every controller the reference places and every smmuv3 on a bus, as libvirt writes
    them: the placement a GI device's path is taken from (the argv writes only paths)."""
    options = [
        Option("-device", json_object(controller_props(domain, controller)))
        for controller in pci_topology(domain).values()
        if controller.driver is not None
    ]
    options += [
        Option("-device", json_object(smmuv3_props(domain, number, iommu.pci_bus, iommu.options)))
        for number, iommu in enumerate(domain.iommus)
        if iommu.model == "smmuv3" and iommu.pci_bus is not None
    ]
    return feature_lines(flatten(options), "pci-controllers")


def _known_ids(lines: list[str], reference: list[str]) -> list[str]:
    """libvirt's controller lines for the buses the reference knows: libvirt also adds root
    ports for its own default devices (q35's USB controller), which the reference leaves
    to libvirt."""
    ids = {json.loads(line.split(" ", 1)[1]).get("id") for line in reference}
    return [line for line in lines if json.loads(line.split(" ", 1)[1]).get("id") in ids]


def _without_placement(lines: list[str], reference: list[str]) -> list[str]:
    """libvirt's vfio-pci lines without bus/addr where the reference has none (a hostdev
    without a guest address: libvirt places it, the reference does not model placement)."""
    devices = [json.loads(line.split(" ", 1)[1]) for line in reference]
    placed = {props.get("id"): "bus" in props for props in devices}
    out: list[str] = []
    for line in lines:
        flag, value = line.split(" ", 1)
        props = json.loads(value)
        if not placed.get(props.get("id"), True):
            props.pop("bus", None)
            props.pop("addr", None)
        out.append(f"{flag} {json.dumps(props, separators=(',', ':'))}")
    return out


def _libvirt_argv(path: Path) -> list[str]:
    return shlex.split(path.read_text().replace("\\\n", " "))


def _libvirt_error(path: Path) -> str:
    text = path.read_text().strip()
    for prefix in ("XML error: ", "unsupported configuration: ", "internal error: "):
        text = text.removeprefix(prefix)
    return text


def compare(golden: Golden, feature: str) -> tuple[bool, str] | None:
    """Whether the reference agrees with the golden on a feature (``None``: the golden has
    nothing of that feature and neither has the reference), and what differs."""
    report = validate(golden.xml.read_bytes())
    if golden.rejected or feature == "verdict":
        if feature != "verdict":
            return None
        if not golden.rejected:
            return (report.accepted, "" if report.accepted else report.text())
        message = _libvirt_error(golden.expected)
        found = any(message in v.text() for v in report.errors)
        return (
            not report.accepted and found,
            f"libvirt: {message!r}; reference: {report.text()!r}",
        )
    stricter = STRICTER.get(golden.name)
    if not report.accepted and {v.rule for v in report.errors} != {stricter}:
        return (False, f"the reference rejects it: {report.text()}")
    assert report.domain is not None
    if feature == "pci-controllers":
        ours = _topology_lines(report.domain)
        theirs = _known_ids(feature_lines(_libvirt_argv(golden.expected), feature), ours)
    else:
        ours = feature_lines(flatten(build_argv(report.domain, Profile.LIBVIRT)), feature)
        theirs = feature_lines(_libvirt_argv(golden.expected), feature)
    if feature == "vfio-pci":
        theirs = _without_placement(theirs, ours)
    if not ours and not theirs:
        return None
    return (ours == theirs, "\n".join(["libvirt:", *theirs, "reference:", *ours]))


def _params() -> list[object]:
    params: list[object] = []
    for golden in goldens():
        for feature in FEATURES:
            reason = OUT_OF_SCOPE.get((golden.name, feature))
            if feature == "verdict" and golden.name in STRICTER:
                reason = f"the reference is stricter on purpose: {STRICTER[golden.name]}"
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            params.append(pytest.param(golden, feature, id=f"{golden.name}-{feature}", marks=marks))
    return params


def test_the_manifest_lists_every_file_with_its_commit() -> None:
    manifest = tomllib.loads((GOLDENS / "MANIFEST.toml").read_text())
    listed = {f["name"] for f in manifest["file"]}
    assert listed == {p.name for p in GOLDENS.iterdir()} - {"MANIFEST.toml"}
    for entry in manifest["file"]:
        assert entry["upstream"].startswith("tests/qemuxml")
        assert len(entry["commit"]) == 40
    for golden in goldens():
        assert golden.xml.exists(), golden.name
        assert golden.expected.exists(), golden.name


def test_out_of_scope_entries_name_real_goldens() -> None:
    names = {golden.name for golden in goldens()}
    assert {name for name, _ in OUT_OF_SCOPE} <= names
    assert set(STRICTER) <= names


def test_stricter_goldens_are_rejected_by_that_rule_alone() -> None:
    """The deliberate disagreement is exactly the named rule, on libvirt's unchanged input."""
    for name, rule in STRICTER.items():
        report = validate((GOLDENS / f"{name}.xml").read_bytes())
        assert [v.rule for v in report.errors] == [rule], report.text()


@pytest.mark.parametrize(("golden", "feature"), _params())
def test_reference_agrees_with_libvirts_golden(golden: Golden, feature: str) -> None:
    result = compare(golden, feature)
    if result is None:
        return  # neither side has the feature: nothing to compare
    agrees, detail = result
    assert agrees, detail


def agreement() -> dict[str, tuple[int, int, int]]:
    """Per feature: (goldens agreeing, goldens compared, of those out of scope)."""
    table: dict[str, tuple[int, int, int]] = {}
    for feature in FEATURES:
        agree = compared = out = 0
        for golden in goldens():
            result = compare(golden, feature)
            if result is None:
                continue
            compared += 1
            agree += result[0]
            out += (golden.name, feature) in OUT_OF_SCOPE or (
                feature == "verdict" and golden.name in STRICTER
            )
        table[feature] = (agree, compared, out)
    return table


if __name__ == "__main__":  # pragma: no cover - the README's figures
    for name, (agree, compared, out) in agreement().items():
        print(f"{name:16} {agree}/{compared}" + (f" ({out} out of scope)" if out else ""))
    sys.exit(0)
