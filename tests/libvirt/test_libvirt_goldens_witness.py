"""libvirt's own goldens, witnessed by the libvirt 12.8 that runs here.

``reference/libvirt-goldens`` re-states libvirt's test inputs as the reference reads them and
keeps the GI-relevant lines of libvirt's expected output (upstream's tests run at upstream's
head). Real libvirt 12.8 converts each *re-stated* input here: its GI-relevant lines must be
the golden's, so a re-statement that lost something libvirt places by (a disk that takes a
slot, a controller), or a line mis-copied from upstream, fails without trusting the
reference's parser. A rejected golden must be rejected with libvirt's message.
"""

from __future__ import annotations

import pytest

from gi_conform.libvirt.convert import convert, environment_reason
from gi_conform.libvirt.install import Libvirt
from tests.argv.test_libvirt_goldens import (
    FEATURES,
    Golden,
    _libvirt_argv,
    _libvirt_error,
    _with_ids,
    compared_ids,
    feature_lines,
    goldens,
)
from tests.helpers import model

pytestmark = pytest.mark.libvirt


def _lines(argv: list[str], feature: str, ids: set[str]) -> list[str]:
    lines = feature_lines(argv, feature)
    return _with_ids(lines, ids) if feature == "pci-controllers" else lines


@pytest.mark.parametrize("golden", goldens(), ids=lambda golden: golden.name)
def test_libvirt_12_8_writes_each_goldens_lines(real_libvirt: Libvirt, golden: Golden) -> None:
    result = convert(golden.xml.read_bytes(), libvirt=real_libvirt)
    if golden.rejected:
        assert not result.accepted, "libvirt 12.8 accepts what upstream's test rejects"
        assert _libvirt_error(golden.expected) in result.message
        return
    reason = None if result.accepted else environment_reason(result.message)
    if reason is not None:
        pytest.skip(f"{reason} (this QEMU cannot run the golden as written)")
    assert result.accepted, result.message
    ids = compared_ids(golden, model(golden.xml.read_text()))
    theirs = _libvirt_argv(golden.expected)
    differing = []
    for feature in FEATURES[:-1]:
        written = _lines(list(result.argv), feature, ids)
        expected = _lines(theirs, feature, ids)
        if written != expected:
            differing.append(
                "\n".join([f"{feature}: libvirt 12.8:", *written, "golden:", *expected])
            )
    assert not differing, "\n\n".join(differing)


def test_a_golden_line_libvirt_does_not_write_is_caught(real_libvirt: Libvirt) -> None:
    """The witness can fail: a vfio-pci moved to another slot in the golden differs."""
    golden = next(g for g in goldens() if g.name == "hostdev-pci-address-unassigned")
    result = convert(golden.xml.read_bytes(), libvirt=real_libvirt)
    theirs = _libvirt_argv(golden.expected)
    moved = [token.replace('"addr":"0x3"', '"addr":"0x7"') for token in theirs]
    assert moved != theirs
    assert feature_lines(list(result.argv), "vfio-pci") == feature_lines(theirs, "vfio-pci")
    assert feature_lines(list(result.argv), "vfio-pci") != feature_lines(moved, "vfio-pci")
