"""Fuzzing: one entry point for atheris and HypoFuzz, and a pure-Python fallback loop.

``fuzz_one_input(data)`` drives the whole pipeline (validate, parse, both argv profiles,
the invariants, the ``.args`` text, the XML round trip) and raises
:class:`ContractBreach` when an outcome is not one the API documents; any other
exception escaping it is a crash, i.e. a bug.

Run a campaign::

    python -m gi_conform.fuzz --runs 100000              # atheris if installed, else Python
    python -m gi_conform.fuzz --engine python --runs 1000000 --seed 7 --artifacts out/
    python -m gi_conform.fuzz --engine atheris --runs 0 -- -max_total_time=3600 -jobs=2
    python -m gi_conform.fuzz out/failure-*.xml            # replay saved inputs

The Python engine mutates the golden corpus (``cases/*.xml``) with byte-level and
XML-aware mutations and keeps inputs that reach a new verdict as further seeds. The
property tests (``tests/test_properties.py``) are Hypothesis tests, so HypoFuzz can run
them as they are, and ``test.hypothesis.fuzz_one_input`` drives any of them from bytes.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib
import importlib.util
import json
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gi_conform.argv.build import Profile, build_argv, flatten, render_args
from gi_conform.argv.invariants import check_invariants
from gi_conform.argv.options import read_args_text
from gi_conform.document.format import format_xml
from gi_conform.document.parse import MAX_NODE
from gi_conform.document.validate import InvalidDocument, Report, parse, validate
from gi_conform.model import Domain, PciAddress
from gi_conform.resources import cases_dir
from gi_conform.rules import catalogue

__all__ = ["CampaignResult", "ContractBreach", "fuzz_one_input", "main", "mutate", "run_campaign"]


class ContractBreach(AssertionError):
    """Raised by :func:`fuzz_one_input` for an outcome the documented API does not allow."""


def _check_report(report: Report) -> None:
    rules = catalogue()
    for violation in report.violations:
        rule = rules.get(violation.rule)
        if rule is None:
            raise ContractBreach(f"unknown rule id {violation.rule!r}")
        if violation.severity is not rule.severity:
            raise ContractBreach(f"{violation.rule} reported as {violation.severity}")
        json.dumps(violation.as_json())
    if list(report.violations) != sorted(report.violations):
        raise ContractBreach("violations are not in line and catalogue order")
    if report.domain is None and not report.errors:
        raise ContractBreach("no model and no error")
    report.text()


def _difference(old: object, new: object, path: str = "domain") -> tuple[str, object, object]:
    """The first place two models differ, as ``(path, old value, new value)``."""
    if type(old) is type(new) and dataclasses.is_dataclass(old):
        for field in dataclasses.fields(old):
            if field.compare and getattr(old, field.name) != getattr(new, field.name):
                return _difference(
                    getattr(old, field.name), getattr(new, field.name), f"{path}.{field.name}"
                )
    if isinstance(old, tuple) and isinstance(new, tuple) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                return _difference(a, b, f"{path}[{index}]")
    return path, old, new


_PCI_LIMITS = {"domain": 0xFFFF, "bus": 0xFF, "slot": 0x1F, "function": 7}


def _check_model(domain: Domain) -> None:
    """An accepted model holds only values in their documented ranges."""
    cells = {cell.id for cell in domain.cells}
    for cell in domain.cells:
        if cell.id is None or not 0 <= cell.id <= MAX_NODE or cell.memory is None:
            raise ContractBreach(f"accepted cell {cell!r}")
        if cell.cpus is None or any(not 0 <= cpu < (domain.vcpus or 0) for cpu in cell.cpus):
            raise ContractBreach(f"accepted cell {cell.id} with vCPUs {cell.cpus!r}")
    for hostdev in domain.hostdevs:
        for address in (hostdev.source, hostdev.guest_address):
            if isinstance(address, PciAddress) and not all(
                0 <= getattr(address, name) <= limit for name, limit in _PCI_LIMITS.items()
            ):
                raise ContractBreach(f"accepted PCI address out of range: {address!r}")
        if any(node not in cells for node in hostdev.nodeset or ()):
            raise ContractBreach(f"accepted nodeset {hostdev.nodeset!r}")
    for initiator in domain.initiators:
        target = domain.hostdev(initiator.device or "")
        if initiator.node not in cells or target is None or not target.kind.is_pci:
            raise ContractBreach(f"accepted initiator {initiator!r}")


def _check_accepted(domain: Domain) -> None:
    _check_model(domain)
    for profile in Profile:
        options = build_argv(domain, profile)
        argv = flatten(options)
        broken = check_invariants(domain, argv, profile)
        if broken:
            raise ContractBreach(f"{profile} argv breaks {broken[0].text()}")
        if read_args_text(render_args(options)) != argv:
            raise ContractBreach(f"{profile} .args text does not read back as the argv")
    canonical = format_xml(domain)
    again = validate(canonical)
    if not again.accepted:
        first = again.errors[0].text() if again.errors else "no model"
        raise ContractBreach(f"format_xml output is rejected: {first}")
    if again.domain != domain:
        where, before, after = _difference(domain, again.domain)
        raise ContractBreach(f"parse(format_xml(d)) != d at {where}: {before!r} -> {after!r}")
    if format_xml(again.domain) != canonical:
        raise ContractBreach("format_xml is not idempotent")


def fuzz_one_input(data: bytes) -> None:
    """Check every documented outcome for one input; raise on anything else.

    The contract: ``validate`` returns a :class:`Report` for any bytes, with catalogue
    rules in order; ``parse`` returns that report's model or raises
    :class:`InvalidDocument`, nothing else; an accepted model yields both argv profiles,
    which satisfy every invariant and survive the ``.args`` text, and its XML round trips;
    an accepted model holds values in range only.
    """
    _fuzz(data)


def _fuzz(data: bytes) -> Report:
    report = validate(data)
    _check_report(report)
    try:
        domain = parse(data)
    except InvalidDocument as error:
        if report.accepted:
            raise ContractBreach("parse raised on a document validate accepts") from error
        if error.report != report:
            raise ContractBreach("parse and validate disagree on the violations") from error
        return report
    if not report.accepted or domain != report.domain:
        raise ContractBreach("parse returned a model for a document validate rejects")
    _check_accepted(domain)
    return report


# ---------------------------------------------------------------------------------------
# The pure-Python engine.

_TOKENS: tuple[bytes, ...] = (
    b"<cell id='0' memory='0'/>",
    b"<cell cpus='0-3' memory='1' unit='GiB'/>",
    b"<acpi nodeset='1-3'/>",
    b"<acpi-generic-initiator><pci-dev>hostdev0</pci-dev><numa-node>1</numa-node>"
    b"</acpi-generic-initiator>",
    b"<alias name='gi0'/>",
    b"<alias name='ram-node0'/>",
    b"<hostdev mode='subsystem' type='pci'><source><address bus='0x06' slot='0x12'"
    b" function='0x1'/></source></hostdev>",
    b"<hostdev mode='subsystem' type='mdev'><source><address"
    b" uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>",
    b"<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/></source></hostdev>",
    b"<features/>",
    b"<features><acpi/></features>",
    b"<vcpu>0</vcpu>",
    b"<numa/>",
    b"</numa>",
    b"</devices>",
    b"<!DOCTYPE domain>",
    b"<!ENTITY x 'y'>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version='1.0' encoding='UTF-16'?>",
    b"&amp;",
    b"&#0;",
    b"&#x10FFFF;",
    b"&x;",
    b"'",
    b'"',
    b"<",
    b">",
    b"/>",
    b"^",
    b",",
    b"-",
    b"0x",
    b"unit='GiB'",
    b"unit='KB'",
    b"unit='EiB'",
    b"type='usb'",
    b"type='scsi'",
    b"type='mdev'",
    b"mode='capabilities'",
    b"\xff",
    b"\x00",
    b"\xc3\xa9",
    b"\xef\xbb\xbf",
    b"\xed\xa0\x80",
    b"\t",
    b"\n",
    b"\r",
)
_NUMBERS: tuple[bytes, ...] = (
    b"0",
    b"1",
    b"-1",
    b"7",
    b"8",
    b"127",
    b"128",
    b"129",
    b"255",
    b"256",
    b"16383",
    b"16384",
    b"4294967295",
    b"4294967296",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9" * 31,
    b"0x100",
    b"0xffff",
    b"010",
    b"09",
    b"1_0",
    b"+1",
    b" 1 ",
    b"",
)
_DIGITS = re.compile(rb"[0-9]+")
_ELEMENT = re.compile(
    rb"<(cell|hostdev|acpi-generic-initiator|acpi|alias|address|source)\b.*?(?:/>|</\1>)", re.S
)
_VALUE_TOKENS: tuple[bytes, ...] = (
    b"&#13;",
    b"&#10;",
    b"&#9;",
    b"a&#13;b",
    b"&apos;",
    b"&quot;",
    b"&lt;",
    b"\xc3\xa9",
    b" ",
    b"",
)


def _span(data: bytes, rng: random.Random) -> tuple[int, int]:
    start = rng.randrange(len(data) + 1)
    return start, min(len(data), start + rng.randint(1, 64))


def mutate(data: bytes, rng: random.Random, pool: Sequence[bytes], max_len: int) -> bytes:
    """One to four random mutations: bytes, XML tokens, interesting numbers, splices."""
    out = bytearray(data)
    for _ in range(1 if rng.random() < 0.5 else rng.randint(2, 4)):
        choice = rng.randrange(13)
        position = rng.randrange(len(out) + 1)
        if choice == 0 and out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif choice == 1 and out:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif choice == 2:
            out[position:position] = rng.randbytes(rng.randint(1, 8))
        elif choice == 3 and out:
            start, end = _span(bytes(out), rng)
            del out[start:end]
        elif choice == 4 and out:
            start, end = _span(bytes(out), rng)
            out[position:position] = out[start:end] * rng.randint(1, 4)
        elif choice == 5:
            out[position:position] = rng.choice(_TOKENS)
        elif choice == 6:
            numbers = list(_DIGITS.finditer(bytes(out)))
            if numbers:
                match = rng.choice(numbers)
                out[match.start() : match.end()] = rng.choice(_NUMBERS)
        elif choice == 7 and pool:
            other = rng.choice(pool)
            cut = rng.randrange(len(other) + 1)
            out = out[:position] + other[cut:]
        elif choice == 8:
            del out[position:]
        elif choice in (9, 10):
            elements = list(_ELEMENT.finditer(bytes(out)))
            if elements:
                match = rng.choice(elements)
                if choice == 9:
                    out[match.end() : match.end()] = match.group(0)
                else:
                    del out[match.start() : match.end()]
        elif choice == 11:
            texts = [m.start() + 1 for m in re.finditer(rb">[^<>]+<", bytes(out))]
            if texts:
                start = rng.choice(texts)
                out[start:start] = rng.choice(_VALUE_TOKENS)
        else:
            quotes = [m.start() for m in re.finditer(rb"'[^'<>]*'", bytes(out))]
            if quotes:
                start = rng.choice(quotes)
                end = out.index(b"'", start + 1)
                out[start + 1 : end] = rng.choice(_NUMBERS + _VALUE_TOKENS)
    return bytes(out[:max_len])


@dataclass(frozen=True)
class CampaignResult:
    """What a campaign did: counts, time, and the failures' distinct signatures."""

    inputs: int
    failures: int
    signatures: tuple[str, ...]
    seconds: float
    slowest_seconds: float
    slowest_input: bytes
    accepted: int


def _signature(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    if isinstance(error, ContractBreach):
        return f"ContractBreach: {str(error).split(':')[0]}"
    return f"{type(error).__name__} at {where}"


def _verdict(report: Report) -> tuple[bool, frozenset[str]]:
    return report.accepted, frozenset(v.rule for v in report.violations)


def run_campaign(
    seeds: Sequence[bytes],
    *,
    runs: int,
    seed: int = 0,
    max_len: int = 16384,
    timeout: float = 5.0,
    artifacts: Path | None = None,
    progress: Callable[[str], None] | None = None,
    every: int = 10000,
) -> CampaignResult:
    """Run ``runs`` inputs through :func:`fuzz_one_input`: the seeds, then mutants.

    An input whose verdict (accepted, rule set) is new joins the pool of parents, a
    cheap stand-in for coverage feedback; half the parents are accepted inputs, since
    only those reach the formatters and the invariants. An input slower than ``timeout``
    seconds counts as a failure (a hang, measured after the fact). Failing inputs are
    saved under ``artifacts``.
    """
    rng = random.Random(seed)
    pool = [s[:max_len] for s in seeds] or [b"<domain/>"]
    seen = {_verdict(validate(s)) for s in pool}
    valid = [s for s in pool if validate(s).accepted]
    failures = 0
    accepted = 0
    signatures: dict[str, bytes] = {}
    slowest = 0.0
    slowest_input = b""
    start = time.perf_counter()

    def failed(signature: str, data: bytes) -> None:
        nonlocal failures
        failures += 1
        if signature in signatures:
            return
        signatures[signature] = data
        if progress is not None:
            progress(f"FAILURE #{failures} {signature}\n  input: {data[:200]!r}")
        if artifacts is not None:
            artifacts.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha1(data).hexdigest()[:16]
            (artifacts / f"failure-{name}.xml").write_bytes(data)

    for index in range(runs):
        if index < len(pool):
            data = pool[index]
        else:
            parents = valid if valid and rng.random() < 0.5 else pool
            data = mutate(rng.choice(parents), rng, pool, max_len)
        began = time.perf_counter()
        signature: str | None = None
        try:
            report = _fuzz(data)
        except Exception as error:  # a crash is what the campaign is looking for
            signature = _signature(error)
        else:
            verdict = _verdict(report)
            accepted += verdict[0]
            if verdict not in seen and len(pool) < 5000:
                seen.add(verdict)
                pool.append(data)
            if report.accepted and index >= len(seeds) and len(valid) < 5000 and rng.random() < 0.1:
                valid.append(data)
        elapsed = time.perf_counter() - began
        if signature is None and elapsed > timeout:
            signature = f"slow input (over {timeout:g} s)"
        if signature is not None:
            failed(signature, data)
        if elapsed > slowest:
            slowest, slowest_input = elapsed, data
        if progress is not None and every and (index + 1) % every == 0:
            rate = (index + 1) / (time.perf_counter() - start)
            progress(f"#{index + 1} inputs, {failures} failures, pool {len(pool)}, {rate:.0f}/s")
    return CampaignResult(
        inputs=runs,
        failures=failures,
        signatures=tuple(signatures),
        seconds=time.perf_counter() - start,
        slowest_seconds=slowest,
        slowest_input=slowest_input,
        accepted=accepted,
    )


def _corpus(folder: Path) -> list[bytes]:
    return [path.read_bytes() for path in sorted(folder.glob("*.xml"))]


def _run_atheris(args: argparse.Namespace, extra: list[str]) -> int:
    """libFuzzer through atheris: coverage-guided, on a copy of the corpus."""
    atheris = importlib.import_module("atheris")
    workdir = Path(tempfile.mkdtemp(prefix="gi-conform-fuzz-"))
    corpus = workdir / "corpus"
    shutil.copytree(
        args.corpus, corpus, ignore=shutil.ignore_patterns("*.args", "*.err", "*.json", "*.md")
    )
    counts = {"inputs": 0, "failures": 0}
    start = time.perf_counter()

    def one_input(data: bytes) -> None:
        counts["inputs"] += 1
        try:
            fuzz_one_input(data)
        except Exception as error:
            counts["failures"] += 1
            print(f"FAILURE {_signature(error)}: {data[:200]!r}", flush=True)
            if args.artifacts is not None:
                args.artifacts.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha1(data).hexdigest()[:16]
                (args.artifacts / f"failure-{name}.xml").write_bytes(data)
        if counts["inputs"] == args.runs:
            elapsed = time.perf_counter() - start
            print(
                f"gi-conform fuzz (atheris): {counts['inputs']} inputs, "
                f"{counts['failures']} failures, {elapsed:.1f} s",
                flush=True,
            )

    flags = [f"-seed={args.seed or 1}", f"-max_len={args.max_len}"]
    if args.rss_limit_mb:
        flags.append("-rss_limit_mb=0")  # the address-space limit turns blow-ups into failures
    if args.runs:
        flags.append(f"-runs={args.runs}")
    atheris.Setup([sys.argv[0], *flags, *extra, str(corpus)], one_input)
    atheris.instrument_all()
    atheris.Fuzz()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gi_conform.fuzz``: exit 0 when no input failed, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m gi_conform.fuzz", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("replay", nargs="*", type=Path, help="inputs to run once (no campaign)")
    parser.add_argument("--runs", type=int, default=100_000, help="inputs to try (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--engine", choices=("auto", "python", "atheris"), default="auto")
    parser.add_argument("--corpus", type=Path, default=cases_dir(), help="folder of *.xml seeds")
    parser.add_argument("--max-len", type=int, default=16384, help="longest input in bytes")
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="an input slower than this fails (seconds)"
    )
    parser.add_argument("--artifacts", type=Path, help="save failing inputs in this folder")
    parser.add_argument("--every", type=int, default=10000, help="progress line every N inputs")
    parser.add_argument(
        "--rss-limit-mb",
        type=int,
        default=4096,
        help="address-space limit of the fuzzing process: a blow-up becomes a MemoryError "
        "failure instead of taking the machine down (0: none)",
    )
    args, extra = parser.parse_known_args(argv)
    if args.replay:
        failed = 0
        for path in args.replay:
            try:
                fuzz_one_input(path.read_bytes())
            except Exception as error:
                failed += 1
                print(f"{path}: FAILURE {_signature(error)}")
                traceback.print_exception(error)
            else:
                print(f"{path}: ok")
        return 1 if failed else 0
    engine = args.engine
    if engine == "auto":
        engine = "atheris" if importlib.util.find_spec("atheris") is not None else "python"
    if engine == "python" and extra:
        parser.error(f"unknown arguments for the python engine: {' '.join(extra)}")
    if args.rss_limit_mb:
        limit = args.rss_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    if engine == "atheris":
        return _run_atheris(args, [arg for arg in extra if arg != "--"])
    result = run_campaign(
        _corpus(args.corpus),
        runs=args.runs,
        seed=args.seed,
        max_len=args.max_len,
        timeout=args.timeout,
        artifacts=args.artifacts,
        progress=lambda line: print(line, flush=True),
        every=args.every,
    )
    print(
        f"gi-conform fuzz (python): {result.inputs} inputs, {result.failures} failures "
        f"({len(result.signatures)} distinct), {result.accepted} accepted, "
        f"{result.seconds:.1f} s, slowest input {result.slowest_seconds:.3f} s"
    )
    for signature in result.signatures:
        print(f"  {signature}")
    if args.artifacts is not None and result.slowest_input:
        args.artifacts.mkdir(parents=True, exist_ok=True)
        (args.artifacts / "slowest.xml").write_bytes(result.slowest_input)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
