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
from dataclasses import dataclass, field
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


_Rng = random.Random
_Pool = Sequence[bytes]
_Mutation = Callable[[bytearray, _Rng, int, _Pool], bytearray]
"""``(input, rng, position, pool)`` -> the mutated input (changed in place or new); each
uses what it needs of the four."""


def _flip_bit(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return out


def _set_byte(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    out[rng.randrange(len(out))] = rng.randrange(256)
    return out


def _insert_bytes(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    out[position:position] = rng.randbytes(rng.randint(1, 8))
    return out


def _delete_span(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    start, end = _span(bytes(out), rng)
    del out[start:end]
    return out


def _repeat_span(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    start, end = _span(bytes(out), rng)
    out[position:position] = out[start:end] * rng.randint(1, 4)
    return out


def _insert_token(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    out[position:position] = rng.choice(_TOKENS)
    return out


def _replace_number(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    numbers = list(_DIGITS.finditer(bytes(out)))
    if numbers:
        match = rng.choice(numbers)
        out[match.start() : match.end()] = rng.choice(_NUMBERS)
    return out


def _splice(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    other = rng.choice(pool)
    cut = rng.randrange(len(other) + 1)
    return out[:position] + other[cut:]


def _truncate(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    del out[position:]
    return out


def _repeat_element(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    elements = list(_ELEMENT.finditer(bytes(out)))
    if elements:
        match = rng.choice(elements)
        out[match.end() : match.end()] = match.group(0)
    return out


def _delete_element(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    elements = list(_ELEMENT.finditer(bytes(out)))
    if elements:
        match = rng.choice(elements)
        del out[match.start() : match.end()]
    return out


def _insert_in_text(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    texts = [m.start() + 1 for m in re.finditer(rb">[^<>]+<", bytes(out))]
    if texts:
        start = rng.choice(texts)
        out[start:start] = rng.choice(_VALUE_TOKENS)
    return out


def _replace_quoted(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    quotes = [m.start() for m in re.finditer(rb"'[^'<>]*'", bytes(out))]
    if quotes:
        start = rng.choice(quotes)
        end = out.index(b"'", start + 1)
        out[start + 1 : end] = rng.choice(_NUMBERS + _VALUE_TOKENS)
    return out


_MUTATIONS: tuple[_Mutation, ...] = (
    _flip_bit,
    _set_byte,
    _insert_bytes,
    _delete_span,
    _repeat_span,
    _insert_token,
    _replace_number,
    _splice,
    _truncate,
    _repeat_element,
    _delete_element,
    _insert_in_text,
    _replace_quoted,
)
"""Drawn by index: the order is part of what a ``--seed`` reproduces."""
_NEED_INPUT = frozenset({_flip_bit, _set_byte, _delete_span, _repeat_span})


def _mutation(choice: int, out: bytearray, pool: Sequence[bytes]) -> _Mutation:
    """The drawn mutation, or the last one when it has nothing to work on (empty input,
    or no pool to splice from)."""
    mutation = _MUTATIONS[choice]
    if (mutation in _NEED_INPUT and not out) or (mutation is _splice and not pool):
        return _MUTATIONS[-1]
    return mutation


def mutate(data: bytes, rng: random.Random, pool: Sequence[bytes], max_len: int) -> bytes:
    """One to four random mutations: bytes, XML tokens, interesting numbers, splices."""
    out = bytearray(data)
    for _ in range(1 if rng.random() < 0.5 else rng.randint(2, 4)):
        choice = rng.randrange(len(_MUTATIONS))
        position = rng.randrange(len(out) + 1)
        out = _mutation(choice, out, pool)(out, rng, position, pool)
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


@dataclass
class _Campaign:
    """A running campaign: its parents, the verdicts seen, and what it found."""

    rng: random.Random
    seeds: int
    max_len: int
    timeout: float
    artifacts: Path | None
    progress: Callable[[str], None] | None
    pool: list[bytes]
    seen: set[tuple[bool, frozenset[str]]]
    valid: list[bytes]
    failures: int = 0
    accepted: int = 0
    signatures: dict[str, bytes] = field(default_factory=dict)
    slowest: float = 0.0
    slowest_input: bytes = b""

    def next_input(self, index: int) -> bytes:
        """The pool in order first, then a mutant of a parent (half the time a valid one)."""
        if index < len(self.pool):
            return self.pool[index]
        parents = self.valid if self.valid and self.rng.random() < 0.5 else self.pool
        return mutate(self.rng.choice(parents), self.rng, self.pool, self.max_len)

    def run(self, index: int, data: bytes) -> None:
        """Fuzz one input; a crash or a slow input is a failure, a new verdict a parent."""
        began = time.perf_counter()
        signature: str | None = None
        try:
            report = _fuzz(data)
        except Exception as error:  # a crash is what the campaign is looking for
            signature = _signature(error)
        else:
            self._learn(index, data, report)
        elapsed = time.perf_counter() - began
        if signature is None and elapsed > self.timeout:
            signature = f"slow input (over {self.timeout:g} s)"
        if signature is not None:
            self._failed(signature, data)
        if elapsed > self.slowest:
            self.slowest, self.slowest_input = elapsed, data

    def _learn(self, index: int, data: bytes, report: Report) -> None:
        verdict = _verdict(report)
        self.accepted += verdict[0]
        if verdict not in self.seen and len(self.pool) < 5000:
            self.seen.add(verdict)
            self.pool.append(data)
        if (
            report.accepted
            and index >= self.seeds
            and len(self.valid) < 5000
            and self.rng.random() < 0.1
        ):
            self.valid.append(data)

    def _failed(self, signature: str, data: bytes) -> None:
        self.failures += 1
        if signature in self.signatures:
            return
        self.signatures[signature] = data
        if self.progress is not None:
            self.progress(f"FAILURE #{self.failures} {signature}\n  input: {data[:200]!r}")
        if self.artifacts is not None:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha1(data).hexdigest()[:16]
            (self.artifacts / f"failure-{name}.xml").write_bytes(data)


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
    pool = [s[:max_len] for s in seeds] or [b"<domain/>"]
    campaign = _Campaign(
        random.Random(seed),
        len(seeds),
        max_len,
        timeout,
        artifacts,
        progress,
        pool=pool,
        seen={_verdict(validate(s)) for s in pool},
        valid=[s for s in pool if validate(s).accepted],
    )
    start = time.perf_counter()
    for index in range(runs):
        campaign.run(index, campaign.next_input(index))
        if progress is not None and every and (index + 1) % every == 0:
            rate = (index + 1) / (time.perf_counter() - start)
            progress(
                f"#{index + 1} inputs, {campaign.failures} failures, "
                f"pool {len(campaign.pool)}, {rate:.0f}/s"
            )
    return CampaignResult(
        inputs=runs,
        failures=campaign.failures,
        signatures=tuple(campaign.signatures),
        seconds=time.perf_counter() - start,
        slowest_seconds=campaign.slowest,
        slowest_input=campaign.slowest_input,
        accepted=campaign.accepted,
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
