"""The real QEMU the ground-truth tests run, or a skip that says how to get one."""

from __future__ import annotations

import pytest

from gi_conform.groundtruth.qemu import QemuBinary, QemuUnavailable, find_qemu


@pytest.fixture(scope="session")
def qemu_binary() -> QemuBinary:
    try:
        return find_qemu()
    except QemuUnavailable as error:
        pytest.skip(f"needs QEMU >= 9.2: {error}")
