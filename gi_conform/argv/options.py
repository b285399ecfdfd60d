"""QEMU's option syntax, read and written in one place.

Every stage that touches a command line speaks it: the reference formatter writes
key=value and JSON values and libvirt-style ``.args`` text, the reader takes any
implementation's spelling apart, and the ground-truth runners rewrite options to run on
this host. One codec, so they cannot disagree on a comma, a quote or a size suffix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from gi_conform.units import MAX_U64, c_uint

__all__ = [
    "OptionValue",
    "join_keyval",
    "json_object",
    "keyval_escape",
    "parse_size",
    "read_args_text",
    "shell_quote",
    "split_keyval",
]

_SHELL_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")
_SHELL_SPACE = " \t\r\n"
"""shlex's whitespace, exactly (not Python's wider \\s)."""
_PIECE = re.compile(r"""'[^']*'|"(?:[^"\\]|\\.)*"|\\.|[^'"\\ \t\r\n]+""", re.S)
_SHELL_WORD = re.compile(rf"(?:{_PIECE.pattern})+", re.S)
_DOUBLE_ESCAPE = re.compile(r"""\\(["\\])""")
"""Inside double quotes shlex lets a backslash escape only a quote or a backslash."""
_KEYVAL_PART = re.compile(r"((?:[^,]+|,,)*)(,|\Z)")
"""One key=value part and what ends it: a single comma or the end (``,,`` is inside)."""
_SIZE = re.compile(r"([0-9]+)([bkmgtpe])?\Z", re.IGNORECASE)
_SIZE_SHIFT = {"b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
_SIZE_MAX_DIGITS = 22


# ------------------------------------------------------------------ shell text


def shell_quote(value: str) -> str:
    """Quote like libvirt's ``.args`` files: bare when safe, else single quotes."""
    if _SHELL_SAFE.match(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def read_args_text(text: str) -> list[str]:
    """The argv of a libvirt-style ``.args`` text: `` \\``-continued lines, shell quoting.

    Every token is returned, environment assignments and the binary included (the
    reader skips what is not an option). Text with unbalanced quotes falls back to a
    plain whitespace split, so a broken file still yields something to report on.
    The word pattern rejects exactly what ``shlex`` rejects (an unbalanced quote, a
    trailing backslash; ``tests/argv`` holds it to ``shlex`` on random text), so no
    character-by-character ``shlex`` pass is needed: it was the argv fuzz target's
    hot spot.
    """
    joined = re.sub(r"\\\r?\n", " ", text)
    words: list[str] = []
    position = 0
    for match in _SHELL_WORD.finditer(joined):
        if joined[position : match.start()].strip(_SHELL_SPACE):
            return joined.split()
        words.append("".join(_unquote(piece) for piece in _PIECE.findall(match.group(0))))
        position = match.end()
    if joined[position:].strip(_SHELL_SPACE):
        return joined.split()
    return words


def _unquote(piece: str) -> str:
    """One piece of a shell word: 'literal', "escapable", \\x, or plain text."""
    if piece.startswith("'"):
        return piece[1:-1]
    if piece.startswith('"'):
        return _DOUBLE_ESCAPE.sub(r"\1", piece[1:-1])
    if piece.startswith("\\"):
        return piece[1:]
    return piece


# ------------------------------------------------------------------ JSON


def json_object(props: Mapping[str, object]) -> str:
    """``json.dumps(props, separators=(",", ":"), ensure_ascii=False)``, exactly (a test
    holds it to that), written directly for the flat objects an argv carries: a third
    of the reference pipeline's argv time went into building JSON encoders."""
    parts: list[str] = []
    for key, value in props.items():
        if value is True or value is False:
            text = "true" if value else "false"
        elif type(value) is int:
            text = int.__repr__(value)
        elif type(value) is str:
            text = encode_basestring(value)
        else:
            return json.dumps(props, separators=(",", ":"), ensure_ascii=False)
        parts.append(f"{encode_basestring(key)}:{text}")
    return "{" + ",".join(parts) + "}"


# ------------------------------------------------------------------ key=value


def keyval_escape(value: str) -> str:
    """QEMU's key=value escaping: a comma inside a value is doubled."""
    return value.replace(",", ",,")


def split_keyval(text: str) -> list[str]:
    """QEMU's ``a,b=c`` option syntax split at single commas; ``,,`` is an escaped comma
    inside a value. Read left to right: ``a,,,b`` is ``a,`` then ``b``."""
    if ",," not in text:
        return text.split(",")
    parts: list[str] = []
    for match in _KEYVAL_PART.finditer(text):
        parts.append(match.group(1).replace(",,", ","))
        if not match.group(2):
            break
    return parts


def join_keyval(parts: Sequence[str]) -> str:
    """The inverse of :func:`split_keyval`: commas inside a part are escaped."""
    return ",".join(keyval_escape(part) for part in parts)


def parse_size(text: str, default_shift: int = 0) -> int:
    """A QEMU size: bytes with an optional B/K/M/G/T/P/E suffix (a bare number is in
    ``default_shift`` units: 20 for ``-m``), or a ``0x`` number. ValueError otherwise."""
    value = text.strip()
    if value.lower().startswith("0x"):
        return c_uint(value)
    match = _SIZE.match(value)
    if match is None:
        raise ValueError("is not a size")
    digits, suffix = match.groups()
    if len(digits) > _SIZE_MAX_DIGITS:
        raise ValueError("is too large")
    number = int(digits) << (_SIZE_SHIFT[suffix.lower()] if suffix else default_shift)
    if number > MAX_U64:
        raise ValueError("does not fit in 64 bits")
    return number


@dataclass(frozen=True)
class OptionValue:
    """One option's value as properties, for rewriting it in its own syntax.

    Lenient where the argv reader is strict: a rewriter keeps what it does not
    understand. ``implied`` is the key a bare first word sets (``driver`` for -device).
    """

    values: dict[str, Any]
    json_form: bool
    implied: str

    @classmethod
    def read(cls, text: str, implied: str) -> OptionValue | None:
        """The properties of ``text``; None for JSON that is not an object."""
        if text.lstrip().startswith("{"):
            try:
                loaded = json.loads(text)
            except ValueError:
                return None
            return cls(loaded, True, implied) if isinstance(loaded, dict) else None
        values: dict[str, Any] = {}
        for position, part in enumerate(split_keyval(text)):
            key, sep, value = part.partition("=")
            if not sep and position == 0:
                values[implied] = key
            else:
                values[key] = value if sep else "on"
        return cls(values, False, implied)

    def text(self, values: Mapping[str, Any]) -> str:
        """``values`` in this option's own syntax (JSON stays JSON, keyval stays keyval)."""
        if self.json_form:
            return json.dumps(dict(values), separators=(",", ":"))
        parts: list[str] = []
        for key, raw in values.items():
            value = ("on" if raw else "off") if isinstance(raw, bool) else str(raw)
            parts.append(value if key == self.implied and not parts else f"{key}={value}")
        return join_keyval(parts)
