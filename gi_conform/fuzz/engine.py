"""The pure-Python fuzzing engine: mutations, and a campaign over any target.

Without atheris this is what runs: it mutates the target's seeds with byte-level,
token and (for XML) element-aware mutations, and keeps inputs that reach a new verdict
as further parents, a cheap stand-in for coverage feedback.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
import traceback
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gi_conform.fuzz.contract import ContractBreach
from gi_conform.fuzz.targets import TARGETS, Target
from gi_conform.fuzz.xml import XML_TOKENS

__all__ = ["CampaignResult", "mutate", "run_campaign", "signature_of"]

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


@dataclass(frozen=True)
class _Pool:
    """What mutations draw from: the campaign's parents and the target's tokens."""

    parents: Sequence[bytes]
    tokens: Sequence[bytes]


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
    out[position:position] = rng.choice(pool.tokens)
    return out


def _replace_number(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    numbers = list(_DIGITS.finditer(bytes(out)))
    if numbers:
        match = rng.choice(numbers)
        out[match.start() : match.end()] = rng.choice(_NUMBERS)
    return out


def _splice(out: bytearray, rng: _Rng, position: int, pool: _Pool) -> bytearray:
    other = rng.choice(pool.parents)
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


def _mutation(choice: int, out: bytearray, pool: _Pool) -> _Mutation:
    """The drawn mutation, or the last one when it has nothing to work on (empty input,
    or no pool to splice from)."""
    mutation = _MUTATIONS[choice]
    if (mutation in _NEED_INPUT and not out) or (mutation is _splice and not pool.parents):
        return _MUTATIONS[-1]
    return mutation


def mutate(
    data: bytes,
    rng: random.Random,
    pool: Sequence[bytes],
    max_len: int,
    tokens: Sequence[bytes] = XML_TOKENS,
) -> bytes:
    """One to four random mutations: bytes, the target's tokens, interesting numbers,
    splices with ``pool``, and (where the input is XML) element and value edits."""
    material = _Pool(pool, tokens)
    out = bytearray(data)
    for _ in range(1 if rng.random() < 0.5 else rng.randint(2, 4)):
        choice = rng.randrange(len(_MUTATIONS))
        position = rng.randrange(len(out) + 1)
        out = _mutation(choice, out, material)(out, rng, position, material)
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


def signature_of(error: BaseException) -> str:
    """A failure's kind and place, so repeats of one bug count once."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    if isinstance(error, ContractBreach):
        return f"ContractBreach: {str(error).split(':')[0]}"
    return f"{type(error).__name__} at {where}"


@dataclass
class _Campaign:
    """A running campaign: its parents, the verdicts seen, and what it found."""

    target: Target
    rng: random.Random
    seeds: int
    max_len: int
    timeout: float
    artifacts: Path | None
    progress: Callable[[str], None] | None
    pool: list[bytes]
    seen: set[Hashable]
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
        parent = self.rng.choice(parents)
        return mutate(parent, self.rng, self.pool, self.max_len, self.target.tokens)

    def run(self, index: int, data: bytes) -> None:
        """Fuzz one input; a crash or a slow input is a failure, a new verdict a parent."""
        began = time.perf_counter()
        signature: str | None = None
        try:
            verdict, accepted = self.target.outcome(data)
        except Exception as error:  # a crash is what the campaign is looking for
            signature = signature_of(error)
        else:
            self._learn(index, data, verdict, accepted)
        elapsed = time.perf_counter() - began
        if signature is None and elapsed > self.timeout:
            signature = f"slow input (over {self.timeout:g} s)"
        if signature is not None:
            self._failed(signature, data)
        if elapsed > self.slowest:
            self.slowest, self.slowest_input = elapsed, data

    def _learn(self, index: int, data: bytes, verdict: Hashable, accepted: bool) -> None:
        self.accepted += accepted
        if verdict not in self.seen and len(self.pool) < 5000:
            self.seen.add(verdict)
            self.pool.append(data)
        if accepted and index >= self.seeds and len(self.valid) < 5000 and self.rng.random() < 0.1:
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
            (self.artifacts / f"failure-{name}{self.target.suffix}").write_bytes(data)


def _seed_outcome(target: Target, seed: bytes) -> tuple[Hashable, bool] | None:
    """A seed's outcome, or None when it fails (it is run, and counted, again first)."""
    try:
        return target.outcome(seed)
    except Exception:  # the campaign's first runs report it
        return None


def run_campaign(
    seeds: Sequence[bytes],
    *,
    runs: int,
    target: Target | None = None,
    seed: int = 0,
    max_len: int = 16384,
    timeout: float = 5.0,
    artifacts: Path | None = None,
    progress: Callable[[str], None] | None = None,
    every: int = 10000,
) -> CampaignResult:
    """Run ``runs`` inputs through a target (default: xml): the seeds, then mutants.

    An input whose verdict (for xml: accepted, rule set) is new joins the pool of parents,
    a cheap stand-in for coverage feedback; half the parents are accepted inputs, since
    only those reach the deepest code (for xml: the formatters and the invariants). An
    input slower than ``timeout`` seconds counts as a failure (a hang, measured after the
    fact). Failing inputs are saved under ``artifacts``.
    """
    chosen = target if target is not None else TARGETS["xml"]
    pool = [s[:max_len] for s in seeds] or [chosen.empty]
    outcomes = [_seed_outcome(chosen, s) for s in pool]
    campaign = _Campaign(
        chosen,
        random.Random(seed),
        len(seeds),
        max_len,
        timeout,
        artifacts,
        progress,
        pool=pool,
        seen={outcome[0] for outcome in outcomes if outcome is not None},
        valid=[s for s, outcome in zip(pool, outcomes, strict=True) if outcome and outcome[1]],
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
