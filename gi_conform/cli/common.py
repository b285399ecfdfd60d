"""argparse pieces shared by the subcommands: value types (a bad value is a usage error,
exit 2, with a message naming it, never a traceback) and the document-source options
``check`` and ``libvirt prove`` both take."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_document_sources", "count", "positive_int", "seconds"]


def add_document_sources(parser: argparse.ArgumentParser) -> None:
    """``--corpus DIR | --no-corpus``, ``--generated N``, ``--seed S``."""
    corpus = parser.add_mutually_exclusive_group()
    corpus.add_argument("--corpus", metavar="DIR", type=Path, help="another corpus folder")
    corpus.add_argument("--no-corpus", action="store_true", help="generated documents only")
    parser.add_argument(
        "--generated", type=count, default=200, metavar="N", help="generated documents (200)"
    )
    parser.add_argument("--seed", type=int, default=0, help="generation seed (0)")


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
    return value


def count(text: str) -> int:
    """An integer >= 0."""
    return _integer(text, 0)


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _integer(text, 1)


def seconds(text: str) -> float:
    """A number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value
