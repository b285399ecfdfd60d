"""Real libvirt (>= 11.8) as an implementation under test (``@pytest.mark.libvirt``).

The pure parts (document adjustments, output parsing, the GI reduction, setup safety)
always run. The rest needs a libvirt from ``gi-conform libvirt setup`` (a Debian sid
chroot, about a minute, as root) or a system libvirt >= 11.8, and skips, saying how to
get one, without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from gi_conform.argv.build import Profile, device_ids, is_user_alias
from gi_conform.argv.options import read_args_text
from gi_conform.cli import main as cli
from gi_conform.cli.main import main
from gi_conform.document.validate import parse
from gi_conform.libvirt.convert import (
    STABLE_UUID,
    LibvirtTimeout,
    convert,
    environment_reason,
    hugetlbfs_mount_points,
    leftover_processes,
    parse_virsh_output,
    prepare_document,
    reduce,
    system_paths,
)
from gi_conform.libvirt.install import Libvirt
from gi_conform.libvirt.lifecycle import LibvirtSetupError, _stub_host, setup, teardown
from gi_conform.oracle.model import Outcome
from gi_conform.oracle.runner import CheckOptions, run_check
from gi_conform.resources import cases_dir, reference_dir
from tests.helpers import run_cli

pytestmark = pytest.mark.libvirt

EXAMPLE = cases_dir() / "libvirt-11.8-example.xml"
EXAMPLE_ARGS = cases_dir() / "libvirt-11.8-example.libvirt.args"
BAD_BITMAP = cases_dir() / "gi-node-syntax-nodeset.xml"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


# ------------------------------------------------------------------- pure parts


def test_prepare_document_changes_only_host_specific_parts_in_place() -> None:
    original = EXAMPLE.read_bytes()
    document, changes = prepare_document(original)
    text = document.decode()
    assert "<domain type='qemu'>" in text
    assert "<cpu>" in text
    assert "host-passthrough" not in text
    assert f"<name>libvirt-example</name><uuid>{STABLE_UUID}</uuid>" in text
    assert len(changes) == 3
    # line numbers in libvirt's messages must stay those of the input
    assert document.count(b"\n") == original.count(b"\n")
    assert prepare_document(document) == (document, ())


def test_prepare_document_gives_usb_by_vendor_an_address() -> None:
    xml = (cases_dir() / "gi-device-not-pci.xml").read_bytes()
    document, changes = prepare_document(xml)
    assert b"<address bus='1' device='2'/></source>" in document
    assert any("USB" in change for change in changes)


def test_prepare_document_gives_usb_by_vendor_an_address_no_other_usb_device_has() -> None:
    """A device number the document already gives on bus 1 is skipped: libvirt refused the
    two as 'Hostdev already exists in the domain configuration' (generated document)."""
    by_address = (
        "<hostdev mode='subsystem' type='usb'><source>"
        "<address bus='{bus}' device='{device}'/></source></hostdev>"
    )
    by_vendor = (
        "<hostdev mode='subsystem' type='usb'><source><vendor id='0x0006'/>"
        "<product id='0x0001'/></source></hostdev>"
    )
    devices = (
        by_address.format(bus="1", device="2")
        + by_vendor
        + by_address.format(bus="0x1", device="0x3")
        + by_address.format(bus="2", device="4")
        + by_vendor.replace("0x0001", "0x0002")
    )
    xml = f"<domain type='qemu'><name>u</name><devices>{devices}</devices></domain>".encode()
    document, _ = prepare_document(xml)
    given = re.findall(rb"<product id='[^']*'/><address bus='1' device='(\d+)'/>", document)
    assert given == [b"4", b"5"]


@pytest.mark.parametrize("name", ["xml-malformed.xml", "xml-malformed-latin1.xml", "xml-root.xml"])
def test_prepare_document_leaves_what_libvirt_must_judge_alone(name: str) -> None:
    xml = (cases_dir() / name).read_bytes()
    assert prepare_document(xml) == (xml, ())


def test_parse_virsh_output_strips_the_environment() -> None:
    line = (
        "LC_ALL=C PATH=/usr/bin HOME=/var/lib/x /usr/bin/qemu-system-x86_64 -name "
        "guest=t,debug-threads=on -object "
        """'{"qom-type":"acpi-generic-initiator","id":"gi0","pci-dev":"hostdev0","node":1}'\n"""
    )
    environment, argv = parse_virsh_output(line)
    assert environment == ["LC_ALL=C", "PATH=/usr/bin", "HOME=/var/lib/x"]
    assert argv[0] == "/usr/bin/qemu-system-x86_64"
    assert argv[-1].startswith('{"qom-type"')


def test_reduce_keeps_the_gi_relevant_options_in_order() -> None:
    backend = '{"qom-type":"memory-backend-ram","id":"ram-node0","size":1048576}'
    unused = '{"qom-type":"memory-backend-ram","id":"pc.ram","size":1048576}'
    gpu = '{"driver":"vfio-pci","host":"0000:06:12.1","id":"hostdev0","bus":"pcie.0"}'
    gi = '{"qom-type":"acpi-generic-initiator","id":"gi0","pci-dev":"hostdev0","node":1}'
    full = [
        "/usr/bin/qemu-system-x86_64",
        "-S",
        "-object",
        '{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/k"}',
        "-object",
        unused,
        "-object",
        backend,
        "-numa",
        "node,nodeid=0,cpus=0,memdev=ram-node0",
        "-numa",
        "node,nodeid=1",
        "-device",
        '{"driver":"pcie-root-port","port":8,"chassis":1,"id":"pci.1","bus":"pcie.0"}',
        "-device",
        gpu,
        "-object",
        gi,
        "-device",
        '{"driver":"virtio-balloon-pci","id":"balloon0","bus":"pci.1","addr":"0x0"}',
    ]
    assert reduce(full) == [
        "-object",
        backend,
        "-numa",
        "node,nodeid=0,cpus=0,memdev=ram-node0",
        "-numa",
        "node,nodeid=1",
        "-device",
        gpu,
        "-object",
        gi,
    ]


@pytest.mark.parametrize(
    ("message", "environment"),
    [
        (
            "error: internal error: hugetlbfs filesystem is not mounted or disabled by "
            "administrator config",
            True,
        ),
        ("error: internal error: Unable to find any usable hugetlbfs mount for 16384 KiB", True),
        (
            "error: internal error: Advice from numad is needed in case of automatic numa "
            "placement",
            True,
        ),
        (
            "error: unsupported configuration: Emulator '/usr/bin/qemu-system-x86_64' does not "
            "support machine type 'pc-q35-2.0'",
            True,
        ),
        ("error: unsupported configuration: NUMA node 2 is unavailable", True),
        (
            "error: unsupported configuration: domain configuration does not support video "
            "model 'qxl'",
            True,
        ),
        # libvirt's own rules: verdicts on the document, never the environment's
        ("error: unsupported configuration: NUMA node 2 is not available", False),
        (
            "error: unsupported configuration: domain configuration does not support video "
            "model 'vga'",
            False,
        ),
        ("error: invalid argument: Failed to parse bitmap 'abc'", False),
        (
            "error: unsupported configuration: hugepages are not allowed with anonymous memory "
            "source",
            False,
        ),
        ("error: unsupported configuration: ACPI requires UEFI on this architecture", False),
    ],
)
def test_environment_reason_names_only_the_harness_s_environment(
    message: str, environment: bool
) -> None:
    reason = environment_reason(message)
    assert (reason is not None) is environment
    assert reason is None or reason.startswith("environment: ")


def test_hugetlbfs_mount_points_are_where_the_reference_expects_them() -> None:
    """The reference writes ``/dev/hugepages2M/...`` (libvirt's test host): mount there."""
    assert hugetlbfs_mount_points() == (("/dev/hugepages2M", "2M"), ("/dev/hugepages1G", "1G"))
    expected = read_args_text((cases_dir() / "memory-hugepages.libvirt.args").read_text())
    assert '"mem-path":"/dev/hugepages2M/libvirt/qemu/-1-huge"' in expected[1]


@pytest.mark.parametrize(
    ("alias", "kept"),
    [
        ("ua-gpu_1", True),
        ("ua-", True),
        ("ua-0", True),
        ("ua-a_b-C9", True),
        # each measured on libvirt 12.8: dropped silently, the device becomes hostdevN
        ("ua-gpu.x", False),
        ("ua-a:b", False),
        ("ua-a+b", False),
        ("ua-a/b", False),
        ("ua-\u00e9", False),
        ("UA-x", False),
        ("gpu0", False),
    ],
)
def test_user_alias_is_kept_exactly_as_libvirt_keeps_it(alias: str, kept: bool) -> None:
    assert is_user_alias(alias) is kept


def test_a_dropped_user_alias_shifts_every_later_hostdev() -> None:
    """Issue 26: ``ua-gpu.x`` is dropped -> ``hostdev0``, the later ones shift."""
    domain = parse((cases_dir() / "libvirt-user-alias-dropped.xml").read_bytes())
    assert list(device_ids(domain, Profile.LIBVIRT).values()) == [
        "hostdev0",
        "ua-gpu_1",
        "hostdev1",
        "hostdev2",
    ]
    # the seed profile keeps every alias: the seed's <pci-dev> names them
    assert list(device_ids(domain, Profile.SEED).values())[:3] == [
        "ua-gpu.x",
        "ua-gpu_1",
        "ua-gpu.2.b",
    ]


def test_host_stand_ins_include_the_hugetlbfs_mount_points_idempotently(tmp_path: Path) -> None:
    for _ in range(2):  # setup runs it on every call, also on a chroot made before
        _stub_host(tmp_path)
    for path, _size in hugetlbfs_mount_points():
        assert (tmp_path / path.lstrip("/")).is_dir()
    assert (tmp_path / "dev/vfio/vfio").is_file()


@as_root
def test_setup_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious").write_text("keep me")
    with pytest.raises(LibvirtSetupError, match="not made by gi-conform"):
        setup(tmp_path, use_system=False)
    with pytest.raises(LibvirtSetupError, match="not made by gi-conform"):
        teardown(tmp_path)
    assert (tmp_path / "precious").read_text() == "keep me"


@as_root
def test_teardown_of_nothing_and_status_without_setup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert teardown(tmp_path / "absent") is False
    assert run_cli("libvirt", "status", str(tmp_path / "absent")) == cli.EXIT_USAGE
    assert "gi-conform libvirt setup" in capsys.readouterr().out


# --------------------------------------------------------------- real libvirt


def test_libvirt_example_matches_libvirt_11_8_test_output(real_libvirt: Libvirt) -> None:
    result = convert(EXAMPLE.read_bytes(), libvirt=real_libvirt, timeout=60)
    assert result.accepted, result.message
    assert result.argv[0].endswith("qemu-system-x86_64")
    assert all("=" in word for word in result.environment)
    assert result.argv[result.argv.index("-uuid") + 1] == STABLE_UUID
    assert reduce(result.argv) == read_args_text(EXAMPLE_ARGS.read_text())


def test_rejection_carries_libvirts_exact_message(real_libvirt: Libvirt) -> None:
    result = convert(BAD_BITMAP.read_bytes(), libvirt=real_libvirt, timeout=60)
    assert not result.accepted
    assert result.argv == ()
    assert result.message == "error: invalid argument: Failed to parse bitmap 'abc'"


def test_fresh_process_per_call_and_parallel_roots(real_libvirt: Libvirt) -> None:
    """Ids restart at gi0 in every call (a long-lived libvirtd would not), in parallel."""
    xml = (cases_dir() / "two-gpus-nodeset.xml").read_bytes()
    results: list[tuple[str, ...]] = []
    drivers: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(3):
            result = convert(xml, libvirt=real_libvirt, timeout=60)
            with lock:
                results.append(result.argv)
                drivers.append(result.driver)

    threads = [threading.Thread(target=work) for _ in range(real_libvirt.drivers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 3 * real_libvirt.drivers
    # the whole argv is the same from every driver root: its own paths read as the
    # system driver's (system_paths)
    assert len(set(results)) == 1
    expected = read_args_text((cases_dir() / "two-gpus-nodeset.libvirt.args").read_text())
    assert all(reduce(argv) == expected for argv in results)
    if real_libvirt.drivers > 1:
        assert len(set(drivers)) > 1


@pytest.fixture
def cold_driver(real_libvirt: Libvirt) -> Iterator[int]:
    """A driver root whose capability cache is empty: the next call probes QEMU."""
    index = 97
    if not real_libvirt.in_chroot:
        pytest.skip("the cold-root check needs the chroot")
    root = real_libvirt.root / f"var/lib/gi-conform/embed-{index}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "cache/qemu/capabilities").mkdir(parents=True)
    yield index
    shutil.rmtree(root, ignore_errors=True)
    (real_libvirt.home / "locks" / f"embed-{index}.lock").unlink(missing_ok=True)


def test_timeout_leaves_no_process_behind(real_libvirt: Libvirt, cold_driver: int) -> None:
    assert leftover_processes(real_libvirt) == []
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for pid in leftover_processes(real_libvirt):
                with contextlib.suppress(OSError):
                    seen.add(Path(f"/proc/{pid}/comm").read_text().strip())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.monotonic()
    try:
        with pytest.raises(LibvirtTimeout):
            convert(EXAMPLE.read_bytes(), libvirt=real_libvirt, driver=cold_driver, timeout=0.3)
    finally:
        done.set()
        watcher.join()
    assert time.monotonic() - start < 5
    assert "virsh" in seen  # it was running when the deadline came
    assert leftover_processes(real_libvirt) == []


def _hugetlbfs_mounts_on_the_host() -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "hugetlbfs" in line]


@pytest.mark.parametrize(("page", "mount"), [("", "hugepages2M"), ("1G", "hugepages1G")])
def test_hugepage_documents_measure_libvirt_not_the_chroot(
    real_libvirt: Libvirt, page: str, mount: str
) -> None:
    """Each conversion mounts a hugetlbfs per page size in its own namespace (issue 21)."""
    if not real_libvirt.in_chroot:
        pytest.skip("the system libvirt's hugetlbfs is the host's configuration")
    xml = (cases_dir() / "memory-hugepages.xml").read_bytes()
    if page:
        xml = xml.replace(b"<hugepages/>", b"<hugepages><page size='1' unit='G'/></hugepages>")
    before = _hugetlbfs_mounts_on_the_host()
    result = convert(xml, libvirt=real_libvirt, timeout=60)
    assert result.accepted, result.message
    backends = [word for word in result.argv if '"ram-node0"' in word]
    assert f'"mem-path":"/dev/{mount}/libvirt/qemu/-1-' in backends[0]
    assert _hugetlbfs_mounts_on_the_host() == before  # nothing left mounted on the host
    odd = xml.replace(b"<hugepages/>", b"<hugepages><page size='16' unit='M'/></hugepages>")
    if not page:  # a page size x86 has no hugetlbfs for: the environment, not libvirt
        refused = convert(odd, libvirt=real_libvirt, timeout=60)
        assert not refused.accepted
        assert environment_reason(refused.message) is not None


def test_every_golden_case_gets_a_verdict(real_libvirt: Libvirt) -> None:
    """No case makes libvirt fail without a verdict (the chroot stand-ins suffice)."""
    index = json.loads((cases_dir() / "index.json").read_text())
    verdicts = {}
    for case in index["cases"]:
        xml = (cases_dir() / f"{case['id']}.xml").read_bytes()
        result = convert(xml, libvirt=real_libvirt, timeout=60)
        verdicts[case["id"]] = result.accepted
        if not result.accepted:
            assert result.message.startswith("error: "), case["id"]
            assert "failed to connect" not in result.message
    assert verdicts["libvirt-11.8-example"] is True
    assert verdicts["gi-node-syntax-nodeset"] is False


def test_cli_argv_prints_the_reduced_argv_and_exit_codes(
    real_libvirt: Libvirt, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("libvirt", "argv", str(EXAMPLE)) == 0
    assert capsys.readouterr().out == EXAMPLE_ARGS.read_text()
    assert run_cli("libvirt", "argv", str(BAD_BITMAP)) == cli.EXIT_REJECTED
    assert "error: invalid argument: Failed to parse bitmap 'abc'" in capsys.readouterr().err
    assert run_cli("libvirt", "argv", "/nonexistent.xml") == cli.EXIT_USAGE
    assert run_cli("libvirt", "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["ready"] is True
    assert status["libvirt"] == real_libvirt.version


# --------------------------------------------------- the oracle's libvirt adapter


def test_check_impl_libvirt_over_the_corpus(real_libvirt: Libvirt) -> None:
    """`gi-conform check --impl libvirt`: libvirt 12.8's measured agreements and gaps."""

    results = {r.case.id: r for r in run_check(CheckOptions(impl="libvirt", generated=0)).results}
    assert results["libvirt-11.8-example"].outcome is Outcome.PASSED
    assert results["two-gpus-nodeset"].outcome is Outcome.PASSED
    assert results["numa-distances"].outcome is Outcome.PASSED
    # Seed elements are not libvirt's dialect: skipped, not failed.
    assert results["seed-example"].outcome is Outcome.SKIPPED
    # hugetlbfs is mounted for libvirt: hugepage documents measure libvirt (issue 21) ...
    assert results["memory-hugepages"].outcome is Outcome.PASSED
    # libvirt's rules of issue 26, with its messages, and its user-alias naming
    assert results["libvirt-user-alias-dropped"].outcome is Outcome.PASSED
    assert results["numa-no-memory-element"].outcome is Outcome.PASSED  # the cells' sum
    # ramfb='on': libvirt writes vfio-pci-nohotplug, and the initiators still name it
    assert results["hostdev-ramfb"].outcome is Outcome.PASSED
    for case, message in (
        ("memory-hugepages-anonymous", "hugepages are not allowed with anonymous memory source"),
        ("iommufd-fdgroup-disabled", "Setting 'fdgroup' when 'iommufd' is disabled"),
        ("hostdev-mdev-display-graphics", "graphics device is needed for attribute value"),
        ("pci-controller-model-missing", "PCI controller model was not set correctly"),
        ("numatune-memory-nodeset-empty", "Invalid value of 'nodeset': 0,^0"),
        ("numatune-memory-nodeset-missing", "nodeset for NUMA memory tuning must be set"),
        ("numatune-memnode-no-cells", "Element 'memnode' is invalid without any guest NUMA"),
        ("hostdev-source-duplicate", "Hostdev already exists in the domain configuration"),
        ("hostdev-ramfb-multiple", "Only one vgpu device can have 'ramfb' enabled"),
        ("hostdev-switch-syntax", "Invalid value for attribute 'ramfb' in element 'hostdev'"),
        ("pci-controller-root-model", "The PCI controller with index='0' must be"),
        ("pci-bus-plug", "It requires a controller that accepts a PCI Express device."),
        ("pci-bus-plug-controller", "It requires a controller that accepts a pcie-expander-bus."),
        ("hostdev-zpci-arch", "This QEMU binary doesn't support zPCI"),
        ("pci-controller-model-unknown", "Unknown model type 'pcie-root-port '"),
    ):
        assert results[case].outcome is Outcome.PASSED
        assert message in results[case].answer.message
    # ... and what fails only for the chroot's sake is a skip that says so.
    numad = results["numatune-placement-auto"]
    assert numad.outcome is Outcome.SKIPPED
    assert numad.reason.startswith("environment: ")
    # Gaps proven by real QEMU (docs/howto/real-libvirt.md, the findings ledger):
    # libvirt accepts what QEMU refuses ...
    assert "GI-NODE-UNKNOWN" in results["gi-node-unknown-nodeset"].keys
    assert "NUMA-NO-MEMORY" in results["numa-no-memory"].keys
    # ... and drops an mdev device's initiators.
    assert "FACT-GI-PAIRS" in results["mdev-nodeset"].keys
    # Rejections agree where libvirt has the rule.
    assert results["gi-node-syntax-nodeset"].outcome is Outcome.PASSED
    assert "Failed to parse bitmap 'abc'" in results["gi-node-syntax-nodeset"].answer.message


def test_check_impl_libvirt_without_libvirt_is_a_usage_error(tmp_path: Path) -> None:

    assert main(["check", "--impl", f"libvirt:{tmp_path}", "--generated", "0"]) == 2


def test_published_libvirt_report_follows_the_report_schema() -> None:

    schema = json.loads((reference_dir() / "report.schema.json").read_text())
    report = json.loads((reference_dir() / "implementations" / "libvirt-12.8.json").read_text())
    jsonschema.validate(report, schema)
    assert report["implementation"]["version"].startswith("12.8")


def test_reduce_keeps_hmat_and_the_machine_that_enables_it() -> None:
    full = [
        "/usr/bin/qemu-system-x86_64",
        "-machine",
        "pc-q35-11.1,usb=off,hmat=on,acpi=on",
        "-numa",
        "node,nodeid=0,cpus=0,initiator=0",
        "-numa",
        "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=5",
        "-numa",
        "hmat-cache,node-id=0,size=10K,level=1,associativity=direct,policy=write-back,line=8",
        "-uuid",
        "c7a5fdbd-edaf-9455-926a-d65c16db1809",
    ]
    assert reduce(full) == full[1:9]
    assert reduce(["qemu", "-machine", "pc-q35-11.1,usb=off", "-numa", "node,nodeid=0"]) == [
        "-numa",
        "node,nodeid=0",
    ]


def test_the_embedded_drivers_paths_read_as_the_system_drivers() -> None:
    """Measured: 12.8's embedded driver writes mem-path under its own root; libvirt's
    system driver (and its test suite) under /var/lib/libvirt/qemu and libvirt/qemu."""
    argv = [
        '{"mem-path":"/var/lib/gi-conform/embed-3/lib/qemu/ram/-1-g/ram-node0"}',
        '{"mem-path":"/dev/hugepages2M/libvirt/qemu-embed-a77e9dfe/-1-huge"}',
        '{"mem-path":"/srv/qemu-embed-zz/x"}',
    ]
    assert system_paths(argv) == [
        '{"mem-path":"/var/lib/libvirt/qemu/ram/-1-g/ram-node0"}',
        '{"mem-path":"/dev/hugepages2M/libvirt/qemu/-1-huge"}',
        '{"mem-path":"/srv/qemu-embed-zz/x"}',
    ]
