"""gi-conform: reference implementation and conformance harness for ACPI Generic Initiators.

This module is the pipeline's API (``__all__``). Other public surfaces are the modules
the Python API reference names (``docs/reference/python-api.md``), each public through
its own ``__all__``: the model, ``semantics``, ``strategies``,
``argv.read``/``options``/``facts``/``invariants``, ``fuzz``, ``oracle`` and the
ground-truth and libvirt modules. Names outside an
``__all__``, and modules whose name starts with ``_``, are private and may change.
"""

from __future__ import annotations

from gi_conform.argv.build import Option, Profile, build_argv, default_profile, flatten, render_args
from gi_conform.bitmap import BitmapError, format_bitmap, parse_bitmap
from gi_conform.document.format import format_xml
from gi_conform.document.validate import InvalidDocument, Report, parse, validate
from gi_conform.model import (
    Cell,
    CellCache,
    Dialect,
    Domain,
    Hostdev,
    HostdevKind,
    Initiator,
    Interconnect,
    MdevSource,
    MemNode,
    MemoryBacking,
    Numatune,
    PciAddress,
    ScsiSource,
    UsbSource,
)
from gi_conform.resources import cases_dir, reference_dir
from gi_conform.rules import Rule, Severity, Violation, catalogue

__version__ = "0.1.0"

__all__ = [
    "BitmapError",
    "Cell",
    "CellCache",
    "Dialect",
    "Domain",
    "Hostdev",
    "HostdevKind",
    "Initiator",
    "Interconnect",
    "InvalidDocument",
    "MdevSource",
    "MemNode",
    "MemoryBacking",
    "Numatune",
    "Option",
    "PciAddress",
    "Profile",
    "Report",
    "Rule",
    "ScsiSource",
    "Severity",
    "UsbSource",
    "Violation",
    "__version__",
    "build_argv",
    "cases_dir",
    "catalogue",
    "default_profile",
    "flatten",
    "format_bitmap",
    "format_xml",
    "parse",
    "parse_bitmap",
    "reference_dir",
    "render_args",
    "validate",
]
