"""The reference against libvirt's own goldens (``reference/libvirt-goldens/``).

Each upstream test input, re-stated as the reference reads it (``NAME.xml``, written by
gi-conform's formatter), runs through the reference; its GI-relevant lines are compared,
feature by feature, with libvirt's expected output (``NAME.<arch>-latest.args``: only the
GI-relevant options, in libvirt's order and values) or its expected error (``NAME.err``).
The upstream file each re-states and the commit it was read at are in ``MANIFEST.toml``,
with, for each input, the upstream file's git blob id (``git rev-parse COMMIT:PATH``
checks it) and the SHA-256 of its GI-relevant content (:func:`gi_extract`): a re-stated
input that lost something the upstream file says (the reference read less of it when it
was re-stated) fails ``test_each_input_says_what_its_upstream_file_says``. ``python
tests/argv/test_libvirt_goldens.py restate DIR`` re-states every input again from the
upstream files in DIR (read at the recorded commits) and records both digests.

A feature the reference does not model is *out of scope*: its comparison still runs and
must still disagree (``xfail(strict=True)``, with the reason), so a fix shows up here and
nothing is skipped silently. ``python tests/argv/test_libvirt_goldens.py`` prints the
agreement per feature (``docs/explanation/oracle.md``, "libvirt's own goldens").

Every feature fails on a line either side lacks. The lines compared are the GI-relevant
ones, chosen from the *document*, never from the reference's answer (so a line the
reference fails to write cannot drop out of the comparison): for the PCI controllers, the
buses the document declares or names (``pci.N`` for each such index, libvirt's ids) and an
``arm-smmuv3`` for each ``<iommu model='smmuv3'>`` with a ``pciBus``; root ports libvirt
adds for its own default devices (q35's USB controller, the balloon) take higher indices
and are not compared. One normalisation, a documented convention of the reference rather
than a difference in meaning: libvirt's ``.err`` prefixes (``XML error: ``,
``unsupported configuration: ``) are dropped before looking for the message in the
reference's diagnostics. A hostdev without a guest address is compared with the
``bus``/``addr`` libvirt gives it (the reference models that placement, issue 23).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from gi_conform.argv.build import Option, Profile, build_argv, flatten
from gi_conform.argv.options import json_object
from gi_conform.argv.read import VFIO_PCI_DRIVERS
from gi_conform.bitmap import BitmapError, format_bitmap, parse_bitmap
from gi_conform.document.format import format_xml
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
            keep = (feature == "vfio-pci" and driver in VFIO_PCI_DRIVERS) or (
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


def document_ids(domain: Domain) -> set[str]:
    """The ids of the PCI controllers and smmuv3s the document declares or names, as libvirt
    spells them: what the PCI feature compares, on both sides. libvirt also adds root ports
    for its own default devices (q35's USB controller, the balloon) at higher indices,
    which the reference leaves to libvirt."""
    indices = {c.index for c in domain.pci_controllers if c.index is not None and c.index > 0}
    named = [h.guest_address.bus for h in domain.hostdevs if h.guest_address is not None]
    named += [c.address.bus for c in domain.pci_controllers if c.address is not None]
    indices |= set(range(1, max(named, default=0) + 1))
    smmus = {
        f"iommu{number}"
        for number, iommu in enumerate(domain.iommus)
        if iommu.model == "smmuv3" and iommu.pci_bus is not None
    }
    return {f"pci.{index}" for index in indices} | smmus


def path_ids(argv: list[str]) -> set[str]:
    """The buses between the root and each ``vfio-pci`` (or ``-nohotplug``) device of
    libvirt's argv: the controllers libvirt added for a hostdev the document gives no guest
    address, which decide the PCI path a Generic Initiator names (taken from libvirt's
    side)."""
    parent: dict[str, str] = {}
    starts: list[str] = []
    for flag, value in _options(argv):
        props = _qom(value) if flag == "-device" else None
        if props is None or not isinstance(props.get("bus"), str):
            continue
        parent[str(props.get("id", ""))] = str(props["bus"])
        if props.get("driver") in VFIO_PCI_DRIVERS:
            starts.append(str(props["bus"]))
    found: set[str] = set()
    for start in starts:
        bus = start
        while bus in parent and bus not in found:
            found.add(bus)
            bus = parent[bus]
    return found


def compared_ids(golden: Golden, domain: Domain) -> set[str]:
    """The buses whose controllers the PCI feature compares: those the document declares
    or names, and those on the path libvirt's argv gives each ``vfio-pci``."""
    return document_ids(domain) | path_ids(_libvirt_argv(golden.expected))


def _with_ids(lines: list[str], ids: set[str]) -> list[str]:
    return [line for line in lines if json.loads(line.split(" ", 1)[1]).get("id") in ids]


def _split(text: str) -> list[str]:
    return shlex.split(text.replace("\\\n", " "))


def _libvirt_argv(path: Path) -> list[str]:
    return _split(path.read_text())


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
    theirs = feature_lines(_libvirt_argv(golden.expected), feature)
    if feature == "pci-controllers":
        ids = compared_ids(golden, report.domain)
        ours = _with_ids(_topology_lines(report.domain), ids)
        theirs = _with_ids(theirs, ids)
    else:
        ours = feature_lines(flatten(build_argv(report.domain, Profile.LIBVIRT)), feature)
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
    assert listed == {p.name for p in GOLDENS.iterdir()} - {"MANIFEST.toml", "SCOPE.toml"}
    for entry in manifest["file"]:
        assert entry["upstream"].startswith("tests/qemuxml")
        assert len(entry["commit"]) == 40
    for golden in goldens():
        assert golden.xml.exists(), golden.name
        assert golden.expected.exists(), golden.name


SCOPE = GOLDENS / "SCOPE.toml"
"""libvirt's NUMA and hostdev tests, each re-stated here or out of scope with its reason."""
MOST_OUT_OF_SCOPE = 8


def scope() -> list[dict[str, str]]:
    tests: list[dict[str, str]] = tomllib.loads(SCOPE.read_text())["test"]
    return tests


def out_of_scope() -> dict[str, str]:
    """Each test of the scope that is not fully compared, and why: not re-stated (its
    ``out`` reason), or re-stated with a feature out of scope (:data:`OUT_OF_SCOPE`)."""
    out = {test["name"]: test["out"] for test in scope() if "out" in test}
    for (name, feature), reason in OUT_OF_SCOPE.items():
        out.setdefault(name, f"{feature}: {reason}")
    return out


def test_libvirts_numa_and_hostdev_tests_are_in_scope() -> None:
    """Every test of the scope is a golden here, or out of scope with a reason; at most
    eight are out, and README names each with its reason."""
    names = {golden.name for golden in goldens()}
    listed = [test["name"] for test in scope()]
    assert len(listed) == len(set(listed))
    for test in scope():
        assert ("out" in test) != (test["name"] in names), test["name"]
        assert test.get("out", "x").strip(), test["name"]
    out = out_of_scope()
    assert len(out) <= MOST_OUT_OF_SCOPE, sorted(out)
    readme = (GOLDENS.parents[1] / "README.md").read_text()
    assert [name for name in out if f"`{name}`" not in readme] == []


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


# ------------------------------------------------------------ re-stated inputs vs upstream

GI_PATHS = (
    "os/type",
    "vcpu",
    "memory",
    "cpu/numa",
    "numatune",
    "memoryBacking",
    "devices/controller[@type='pci']",
    "devices/hostdev",
    "devices/iommu",
)
"""The GI-relevant elements of a domain (with everything inside them)."""
_NOT_COMPARED = {("controller", "model")}
"""A controller's ``<model name>``: QEMU's device for its model (the goldens give the default)."""
_NUMBER = re.compile(r"(0x[0-9a-fA-F]+|[0-9]+)\Z")
_UNITS = {"b": 1, "bytes": 1, "kb": 1000, "k": 1024, "kib": 1024, "mb": 10**6, "m": 1 << 20}
_UNITS |= {"mib": 1 << 20, "gb": 10**9, "g": 1 << 30, "gib": 1 << 30}


def _value(text: str) -> str:
    text = text.strip()
    if _NUMBER.match(text):
        return str(int(text, 16) if text.lower().startswith("0x") else int(text))
    return text


_BITMAPS = frozenset({"nodeset", "cpus"})
"""Attributes that are libvirt bitmaps: ``0-2,^1`` and ``0,2`` say the same."""
_NOT_GI_ATTRIBUTES = {("vcpu", "cpuset"), ("driver", "name"), ("driver", "model")}
"""Read by libvirt, never on the GI lines: the vCPU threads' host affinity, a hostdev's
backend (``vfio``, the only one QEMU has) and its host-side variant driver."""


def _bitmap(text: str) -> str:
    try:
        return format_bitmap(parse_bitmap(text, limit=1 << 16))
    except BitmapError:
        return text


def _attributes(element: etree._Element, position: int) -> dict[str, str]:
    values = {
        str(k): _bitmap(str(v)) if k in _BITMAPS else _value(str(v))
        for k, v in element.attrib.items()
        if (element.tag, k) not in _NOT_GI_ATTRIBUTES
    }
    if element.tag in ("cell", "page", "memory"):
        scale = _UNITS.get(values.pop("unit", "KiB").lower(), 1024)
        for key in ("memory", "size"):
            if values.get(key, "").isdigit():
                values[key] = str(int(values[key]) * scale)
    if element.tag == "cell":
        values.setdefault("id", str(position))
    if element.tag == "address" and values.get("type") == "pci":
        for name in ("domain", "bus", "slot", "function"):
            values.setdefault(name, "0")
    elif element.tag == "address":
        values = {"type": values.get("type", "")}  # a drive address's fields are not read
    return values


def _lines(element: etree._Element, depth: int, position: int, out: list[str]) -> None:
    text = _value(element.text or "")
    if element.tag == "memory" and depth == 0 and text.isdigit():
        text = str(int(text) * _UNITS.get(str(element.get("unit", "KiB")).lower(), 1024))
    attributes = " ".join(f"{k}={v}" for k, v in sorted(_attributes(element, position).items()))
    out.append(f"{'  ' * depth}{element.tag} {attributes} {text}".rstrip())
    kids = [
        k for k in element if isinstance(k.tag, str) and (element.tag, k.tag) not in _NOT_COMPARED
    ]
    # a hostdev's <driver name='vfio'/>: nothing GI-relevant is left of it
    kids = [k for k in kids if k.tag != "driver" or len(k) or _attributes(k, 0)]
    if element.tag == "numatune":  # libvirt writes <memory> first, then memnodes by cell
        kids.sort(key=lambda k: (k.tag != "memory", int(_value(str(k.get("cellid", "0"))) or 0)))
    for index, kid in enumerate(kids):
        _lines(kid, depth + 1, index, out)


def gi_extract(data: bytes) -> str:
    """What a domain document says about GI, independent of the reference's parser: every
    attribute and text of :data:`GI_PATHS`, with libvirt's spelling equivalences made one
    (numbers in any base, sizes in bytes, an absent cell id is its position, an absent PCI
    address field 0, ``<vcpu placement='auto'>`` as numatune's placement, numatune's mode
    ``strict`` by default). A re-statement must say all of it."""
    root = etree.fromstring(data)
    vcpu = root.find("vcpu")
    auto = vcpu is not None and vcpu.get("placement") == "auto"
    if vcpu is not None and "placement" in vcpu.attrib:
        del vcpu.attrib["placement"]
    memory = root.find("numatune/memory")
    if memory is not None:
        if auto and memory.get("placement") is None:
            memory.set("placement", "auto")
        if memory.get("mode") is None:
            memory.set("mode", "strict")
    out: list[str] = []
    for path in GI_PATHS:
        for element in root.xpath(path):
            _lines(element, 0, 0, out)
    return "\n".join(out) + "\n"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def restate(upstream: bytes) -> str:
    """An upstream input as the reference reads it, written back by its formatter."""
    domain = validate(upstream).domain
    assert domain is not None
    return format_xml(domain)


def _manifest() -> list[dict[str, str]]:
    files: list[dict[str, str]] = tomllib.loads((GOLDENS / "MANIFEST.toml").read_text())["file"]
    return files


def test_each_input_says_what_its_upstream_file_says() -> None:
    """Each NAME.xml is the re-statement of its upstream file: it says everything GI-relevant
    the upstream file says (the digest recorded from it), and is written as the formatter
    writes what the reference reads of it."""
    inputs = [entry for entry in _manifest() if entry["name"].endswith(".xml")]
    assert len(inputs) == len(goldens())
    for entry in inputs:
        data = (GOLDENS / entry["name"]).read_bytes()
        assert len(entry["upstream_blob"]) == 40, entry["name"]
        assert _sha256(gi_extract(data)) == entry["gi_sha256"], (
            f"{entry['name']} no longer says what {entry['upstream']} at {entry['commit']} "
            f"says; re-state it: python {Path(__file__).name} restate DIR\n{gi_extract(data)}"
        )
        assert restate(data) == data.decode(), entry["name"]


def test_a_stale_restatement_is_caught() -> None:
    """The input before it was re-stated again lost its root ports' addresses."""
    entry = next(e for e in _manifest() if e["name"] == "acpi-generic-initiator.xml")
    text = (GOLDENS / entry["name"]).read_text()
    stale = re.sub(
        r"<controller type='pci' index='(\d)' model='pcie-root-port'>.*?</controller>",
        r"<controller type='pci' index='\1' model='pcie-root-port'/>",
        text,
        flags=re.DOTALL,
    )
    assert stale != text
    assert _sha256(gi_extract(stale.encode())) != entry["gi_sha256"]


def _write_manifest(entries: list[dict[str, str]]) -> None:
    path = GOLDENS / "MANIFEST.toml"
    header = path.read_text().split("[[file]]", 1)[0]
    blocks = [
        "[[file]]\n" + "".join(f'{key} = "{value}"\n' for key, value in entry.items())
        for entry in entries
    ]
    path.write_text(header + "\n".join(blocks))


def restate_all(upstream_dir: Path) -> None:  # pragma: no cover - run by hand
    """Re-state every input from ``upstream_dir/<upstream file name>`` (the file at the
    recorded commit) and record its blob id and GI digest in the manifest."""
    entries = _manifest()
    for entry in entries:
        if not entry["name"].endswith(".xml"):
            continue
        data = (upstream_dir / Path(entry["upstream"]).name).read_bytes()
        blob = _git_blob(data)
        if entry.get("upstream_blob", blob) != blob:
            raise SystemExit(f"{entry['name']}: upstream blob {blob}, manifest says otherwise")
        (GOLDENS / entry["name"]).write_text(restate(data))
        entry["upstream_blob"] = blob
        entry["gi_sha256"] = _sha256(gi_extract(data))
        print(f"{entry['name']}: blob {blob}")
    _write_manifest(entries)


def gi_options(argv: list[str]) -> list[tuple[str, str]]:
    """The GI-relevant options of an argv, in its order: every option some feature
    compares (``-numa``, the cells' backends and thread contexts, ``vfio-pci``, initiators)
    and every PCI controller and ``arm-smmuv3`` (the comparison picks the buses it needs)."""
    kept: list[tuple[str, str]] = []
    for flag, value in _options(argv):
        if any(feature_lines([flag, value], feature) for feature in FEATURES):
            kept.append((flag, value))
    return kept


def render_args(options: list[tuple[str, str]]) -> str:
    """Options as libvirt's ``.args`` files write them: one per line, shell-quoted."""
    return " \\\n".join(f"{flag} {shlex.quote(value)}" for flag, value in options) + "\n"


def add_goldens(upstream_dir: Path, names: list[str]) -> None:  # pragma: no cover - by hand
    """Add upstream tests to the goldens: ``upstream_dir`` holds each test's ``NAME.xml``
    and its expected ``NAME.<arch>-latest.args`` (or the older ``NAME.args``) or
    ``NAME.x86_64-latest.err``, as read upstream, and a ``PATHS`` file
    (``FILE<TAB>REPO<TAB>UPSTREAM PATH<TAB>COMMIT`` per line: where each was read)."""
    paths = {
        fields[0]: fields[1:4]
        for line in (upstream_dir / "PATHS").read_text().splitlines()
        if len(fields := line.split("\t")) >= 4
    }
    entries = _manifest()
    for name in names:
        outputs = [f"{name}.{arch}-latest.args" for arch in ("x86_64", "aarch64")]
        outputs += [f"{name}.args", f"{name}.x86_64-latest.err"]
        output = next(o for o in outputs if (upstream_dir / o).exists())
        data = (upstream_dir / f"{name}.xml").read_bytes()
        (GOLDENS / f"{name}.xml").write_text(restate(data))
        expected = (upstream_dir / output).read_text()
        if output.endswith(".err"):
            target = f"{name}.err"
            (GOLDENS / target).write_text(expected)
        else:
            target = output if "-latest." in output else f"{name}.x86_64-latest.args"
            (GOLDENS / target).write_text(render_args(gi_options(_split(expected))))
        for file, read in ((target, output), (f"{name}.xml", f"{name}.xml")):
            repo, upstream, commit = paths[read]
            entries = [e for e in entries if e["name"] != file]
            entry = {"name": file, "upstream": upstream, "commit": commit}
            if repo != "libvirt/libvirt":
                entry["repo"] = repo  # a copy of libvirt's tests (Debian's packaging)
            if file.endswith(".xml"):
                entry["upstream_blob"] = _git_blob(data)
                entry["gi_sha256"] = _sha256(gi_extract(data))
            entries.append(entry)
        print(f"{name}: {target}")
    _write_manifest(sorted(entries, key=lambda entry: entry["name"]))


if __name__ == "__main__":  # pragma: no cover - the agreement per feature
    if sys.argv[1:2] == ["restate"]:
        restate_all(Path(sys.argv[2]))
        sys.exit(0)
    if sys.argv[1:2] == ["add"]:
        add_goldens(Path(sys.argv[2]), sys.argv[3:])
        sys.exit(0)
    for name, (agree, compared, out) in agreement().items():
        print(f"{name:16} {agree}/{compared}" + (f" ({out} out of scope)" if out else ""))
    sys.exit(0)


def _agrees(golden: Golden, feature: str) -> bool:
    result = compare(golden, feature)
    return result is not None and result[0]


def _golden(name: str) -> Golden:
    return next(golden for golden in goldens() if golden.name == name)


@pytest.mark.parametrize("name", ["acpi-generic-initiator", "pcie-expander-bus"])
def test_a_controller_the_reference_drops_fails(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways: the lines compared come from the document, not from the reference."""
    golden = _golden(name)
    assert _agrees(golden, "pci-controllers")
    lines = _topology_lines
    monkeypatch.setattr(sys.modules[__name__], "_topology_lines", lambda d: lines(d)[:-1])
    result = compare(golden, "pci-controllers")
    assert result is not None
    assert not result[0]


@pytest.mark.parametrize("name", ["acpi-generic-initiator", "pcie-expander-bus"])
def test_a_controller_libvirt_lacks_fails(name: str, tmp_path: Path) -> None:
    golden = _golden(name)
    argv = golden.expected.read_text().split(" \\\n")
    dropped = [line for line in argv if "pcie-root-port" not in line or "pci.2" not in line]
    assert len(dropped) == len(argv) - 1
    expected = tmp_path / golden.expected.name
    expected.write_text(" \\\n".join(dropped))
    result = compare(Golden(name, golden.xml, expected), "pci-controllers")
    assert result is not None
    assert not result[0]


def test_an_address_the_reference_drops_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reference that drops a device's bus/addr fails (no normalisation hides it)."""
    golden = _golden("acpi-generic-initiator")
    lines = feature_lines

    def unplaced(argv: list[str], feature: str) -> list[str]:
        return [line.replace(',"bus":"pcie.0","addr":"0x2"', "") for line in lines(argv, feature)]

    monkeypatch.setattr(sys.modules[__name__], "feature_lines", unplaced)
    assert _agrees(golden, "vfio-pci")  # stripped on both sides: the same
    monkeypatch.setattr(sys.modules[__name__], "feature_lines", lines)
    ours = build_argv
    monkeypatch.setattr(
        sys.modules[__name__],
        "build_argv",
        lambda d, p: tuple(
            Option(o.flag, o.value.replace(',"bus":"pcie.0","addr":"0x2"', "")) for o in ours(d, p)
        ),
    )
    result = compare(golden, "vfio-pci")
    assert result is not None
    assert not result[0]
