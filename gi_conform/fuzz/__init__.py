"""Fuzzing every surface that reads untrusted bytes, for atheris, HypoFuzz or the
pure-Python engine.

Targets (``python -m gi_conform.fuzz --target NAME``): ``xml`` (the whole pipeline, the
default), ``argv`` (any implementation's command line), ``protocol`` (``jsonl:`` replies),
``acpi`` (tables from QEMU or a guest) and ``serial`` (a guest's console). Each target's
``fuzz_one_input(data)`` raises :class:`ContractBreach` when the surface breaks its
documented contract; any other exception escaping it is a crash, i.e. a bug.
:func:`fuzz_one_input` is the xml target's. The property tests
(``tests/strategies/test_properties.py``) are Hypothesis tests, so HypoFuzz can run them as
they are.
"""

from __future__ import annotations

from gi_conform.fuzz.cli import main
from gi_conform.fuzz.contract import ContractBreach
from gi_conform.fuzz.engine import CampaignResult, mutate, run_campaign
from gi_conform.fuzz.targets import TARGETS, Target
from gi_conform.fuzz.xml import fuzz_one_input

__all__ = [
    "TARGETS",
    "CampaignResult",
    "ContractBreach",
    "Target",
    "fuzz_one_input",
    "main",
    "mutate",
    "run_campaign",
]
