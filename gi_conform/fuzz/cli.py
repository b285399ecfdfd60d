"""``python -m gi_conform.fuzz``: a campaign on one target, or a replay of saved inputs.

    python -m gi_conform.fuzz --runs 100000              # xml; atheris if installed
    python -m gi_conform.fuzz --target argv --engine python --runs 1000000 --seed 7
    python -m gi_conform.fuzz --target acpi --engine atheris --runs 0 -- -max_total_time=600
    python -m gi_conform.fuzz --target serial out/failure-*.log   # replay saved inputs

Exit 0 when no input failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from gi_conform.fuzz.engine import run_campaign, signature_of
from gi_conform.fuzz.targets import TARGETS, Target

__all__ = ["main"]


def _seeds(args: argparse.Namespace, target: Target) -> list[bytes]:
    if target.name == "xml" and args.corpus is not None:
        return [path.read_bytes() for path in sorted(args.corpus.glob("*.xml"))]
    return target.seeds()


def _run_atheris(args: argparse.Namespace, target: Target, extra: list[str]) -> int:
    """libFuzzer through atheris: coverage-guided, on a copy of the target's seeds."""
    atheris = importlib.import_module("atheris")
    workdir = Path(tempfile.mkdtemp(prefix="gi-conform-fuzz-"))
    corpus = workdir / "corpus"
    corpus.mkdir()
    for index, seed in enumerate(_seeds(args, target)):
        (corpus / f"seed-{index:04d}{target.suffix}").write_bytes(seed)
    slowest = {"seconds": 0.0}
    counts = {"inputs": 0, "failures": 0}
    start = time.perf_counter()

    def one_input(data: bytes) -> None:
        counts["inputs"] += 1
        began = time.perf_counter()
        try:
            target.fuzz_one_input(data)
        except Exception as error:
            counts["failures"] += 1
            print(f"FAILURE {signature_of(error)}: {data[:200]!r}", flush=True)
            if args.artifacts is not None:
                args.artifacts.mkdir(parents=True, exist_ok=True)
                name = hashlib.sha1(data).hexdigest()[:16]
                (args.artifacts / f"failure-{name}{target.suffix}").write_bytes(data)
        slowest["seconds"] = max(slowest["seconds"], time.perf_counter() - began)
        if counts["inputs"] == args.runs:
            elapsed = time.perf_counter() - start
            print(
                f"gi-conform fuzz (atheris, {target.name}): {counts['inputs']} inputs, "
                f"{counts['failures']} failures, {elapsed:.1f} s, "
                f"slowest input {slowest['seconds']:.3f} s",
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
    parser.add_argument(
        "--target", choices=list(TARGETS), default="xml", help="the surface to fuzz (xml)"
    )
    parser.add_argument("--runs", type=int, default=100_000, help="inputs to try (default 100000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--engine", choices=("auto", "python", "atheris"), default="auto")
    parser.add_argument(
        "--corpus", type=Path, help="xml target: folder of *.xml seeds (default: cases/)"
    )
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
    words = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in words:  # libFuzzer's own flags, never replay files
        passthrough = words[words.index("--") + 1 :]
        words = words[: words.index("--")]
    args, extra = parser.parse_known_args(words)
    extra += passthrough
    target = TARGETS[args.target]
    if args.replay:
        failed = 0
        for path in args.replay:
            try:
                target.fuzz_one_input(path.read_bytes())
            except Exception as error:
                failed += 1
                print(f"{path}: FAILURE {signature_of(error)}")
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
        return _run_atheris(args, target, [arg for arg in extra if arg != "--"])
    result = run_campaign(
        _seeds(args, target),
        runs=args.runs,
        target=target,
        seed=args.seed,
        max_len=args.max_len,
        timeout=args.timeout,
        artifacts=args.artifacts,
        progress=lambda line: print(line, flush=True),
        every=args.every,
    )
    print(
        f"gi-conform fuzz (python, {target.name}): {result.inputs} inputs, "
        f"{result.failures} failures "
        f"({len(result.signatures)} distinct), {result.accepted} accepted, "
        f"{result.seconds:.1f} s, slowest input {result.slowest_seconds:.3f} s"
    )
    for signature in result.signatures:
        print(f"  {signature}")
    if args.artifacts is not None and result.slowest_input:
        args.artifacts.mkdir(parents=True, exist_ok=True)
        (args.artifacts / f"slowest{target.suffix}").write_bytes(result.slowest_input)
    return 1 if result.failures else 0
