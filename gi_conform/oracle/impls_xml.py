"""The XML-layer implementations ``libvirt-xml[:DIR]`` and ``libvirt-schema[:DIR]``.

Round-trip adapters over :mod:`gi_conform.libvirt.xmllayer`: one fresh process per case
(libvirt's parse + format through the test driver, or its RelaxNG schema). ``virtinst``
is a ``jsonl:`` server and is opened by :func:`gi_conform.oracle.impls.open_implementation`.
"""

from __future__ import annotations

import time
from pathlib import Path

from gi_conform.libvirt.convert import LibvirtError, LibvirtTimeout
from gi_conform.libvirt.install import locate
from gi_conform.libvirt.xmllayer import define_dumpxml, schema_validate
from gi_conform.oracle.model import Answer, CheckCase, ErrorKind, ImplInfo, Mode, Verdict

__all__ = ["XmlLayer", "open_xml_layer"]


class XmlLayer:
    """``libvirt-xml`` (the document written back) or ``libvirt-schema`` (a verdict).

    Raises ``LibvirtUnavailable`` when no libvirt is set up.
    """

    def __init__(self, kind: str, target: str, *, memory_limit: int | None = None) -> None:
        if kind not in ("libvirt-xml", "libvirt-schema"):
            raise ValueError(f"not an XML-layer implementation: {kind}")
        self._kind = kind
        self._memory_limit = memory_limit
        self._libvirt = locate(Path(target) if target else None)
        what = "XML layer" if kind == "libvirt-xml" else "schema"
        self._info = ImplInfo(
            f"libvirt {what}",
            self._libvirt.version,
            language="c",
            modes=(Mode.ROUNDTRIP,),
        )

    @property
    def info(self) -> ImplInfo:
        return self._info

    def run(self, case: CheckCase, timeout: float) -> Answer:
        start = time.monotonic()
        tool = define_dumpxml if self._kind == "libvirt-xml" else schema_validate
        try:
            result = tool(
                case.data, libvirt=self._libvirt, timeout=timeout, memory_limit=self._memory_limit
            )
        except LibvirtTimeout as error:
            return Answer(
                Verdict.ERRORED,
                context=str(error),
                error_kind=ErrorKind.TIMEOUT,
                elapsed=time.monotonic() - start,
            )
        except (LibvirtError, OSError) as error:
            return Answer(
                Verdict.ERRORED,
                context=str(error) or type(error).__name__,
                error_kind=ErrorKind.CRASH,
                elapsed=time.monotonic() - start,
            )
        if not result.accepted:
            return Answer(Verdict.REJECTED, message=result.message, elapsed=result.seconds)
        xml = result.xml if self._kind == "libvirt-xml" else None
        return Answer(Verdict.ACCEPTED, xml=xml, elapsed=result.seconds)

    def close(self) -> None:
        return None


def open_xml_layer(kind: str, target: str, *, memory_limit: int | None = None) -> XmlLayer:
    """The adapter of ``kind`` (``libvirt-xml`` or ``libvirt-schema``)."""
    return XmlLayer(kind, target, memory_limit=memory_limit)
