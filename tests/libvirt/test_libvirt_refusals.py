"""The measurements ``tests/document/test_libvirt_refusals.py`` and
``tests/document/test_libvirt_hostdev_pci.py`` hold the reference to, taken again on real
libvirt 12.8: each document converts (with the recorded ``-device`` line where one is
recorded), or is refused with its message."""

from __future__ import annotations

import pytest

from gi_conform.libvirt.convert import convert
from gi_conform.libvirt.install import Libvirt
from tests.document import test_libvirt_hostdev_pci as hostdev_pci
from tests.document.test_libvirt_refusals import ROWS, document
from tests.helpers import Measured

ALL_ROWS = ROWS + hostdev_pci.ROWS


@pytest.mark.parametrize("row", ALL_ROWS, ids=lambda row: row.name)
def test_libvirt_12_8_answers_as_recorded(real_libvirt: Libvirt, row: Measured) -> None:
    result = convert(document(row).encode(), libvirt=real_libvirt, timeout=60)
    if row.refusal is None:
        assert result.accepted, result.message
    else:
        assert not result.accepted, f"libvirt converts it: {row.name}"
        assert row.refusal in result.message


@pytest.mark.parametrize("row", hostdev_pci.ARGV_ROWS, ids=lambda row: row[0])
def test_libvirt_12_8_writes_the_recorded_device_line(
    real_libvirt: Libvirt, row: tuple[str, str, str]
) -> None:
    result = convert(row[1].encode(), libvirt=real_libvirt, timeout=60)
    assert result.accepted, result.message
    assert [a for a in result.argv if a.startswith('{"driver":"vfio-pci')] == [row[2]]
