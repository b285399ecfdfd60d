"""The real libvirt the libvirt tests run, or a skip that says how to get one."""

from __future__ import annotations

import pytest

from gi_conform.libvirt.install import Libvirt, LibvirtUnavailable, locate


@pytest.fixture(scope="session")
def real_libvirt() -> Libvirt:
    try:
        return locate()
    except LibvirtUnavailable as error:
        pytest.skip(f"no real libvirt: {error}")
