"""The measurements ``tests/document/test_numa_refusals.py`` holds the reference to, taken
again on real libvirt 12.8: each document converts, or is refused with its message (for
the row's rule, or for the host: numad's advice that domxml-to-native cannot get)."""

from __future__ import annotations

import pytest

from gi_conform.libvirt.convert import convert
from gi_conform.libvirt.install import Libvirt
from tests.document.test_numa_refusals import ROWS
from tests.helpers import Measured


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_libvirt_12_8_answers_as_recorded(real_libvirt: Libvirt, row: Measured) -> None:
    result = convert(row.xml.encode(), libvirt=real_libvirt, timeout=60)
    said = row.refusal or row.host
    if said is None:
        assert result.accepted, result.message
    else:
        assert not result.accepted, f"libvirt converts it: {row.name}"
        assert said in result.message
