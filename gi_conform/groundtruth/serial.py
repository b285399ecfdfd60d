"""Reading the guest's framed report out of its serial console.

A console carries more than our report: the kernel prints on it whenever it likes, so
lines may be interleaved, cut or (on a real serial line) corrupted. Each record the init
script writes is therefore framed and checksummed::

    gi-conform:frame <name> <length> <md5>
    <base64 lines>
    gi-conform:end <name>

A frame counts only when its base64 decodes to exactly ``length`` bytes with that MD5;
anything else between the markers that is not base64 (a kernel line) is skipped, and a
frame that fails its checks is reported, never guessed at. The decoder never raises on
any input: that is the contract a fuzzer can hold it to.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

__all__ = [
    "DONE_MARKER",
    "END_MARKER",
    "FRAME_MARKER",
    "MAX_FRAME_BYTES",
    "SerialReport",
    "read_frames",
    "write_frame",
]

FRAME_MARKER = "gi-conform:frame"
END_MARKER = "gi-conform:end"
DONE_MARKER = "gi-conform:done"
"""The last line a guest prints before it powers off."""

MAX_FRAME_BYTES = 16 * 1024 * 1024
"""No record of ours is near this; a larger claim is a corrupted header."""

_START = re.compile(FRAME_MARKER + r" ([A-Za-z0-9_.-]{1,64}) ([0-9]{1,12}) ([0-9a-f]{32})\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z")


@dataclass(frozen=True)
class SerialReport:
    """What the console held: intact frames by name, the problems, and whether the guest
    said it was done (``gi-conform:done``)."""

    frames: dict[str, bytes]
    problems: tuple[str, ...]
    done: bool


def _finish(name: str, size: int, digest: str, lines: list[str]) -> tuple[bytes | None, str]:
    try:
        data = base64.b64decode("".join(lines), validate=True)
    except (binascii.Error, ValueError):
        return None, f"frame {name}: its base64 does not decode"
    if len(data) != size:
        return None, f"frame {name}: {len(data)} bytes, the header says {size}"
    if hashlib.md5(data, usedforsecurity=False).hexdigest() != digest:
        return None, f"frame {name}: checksum mismatch"
    return data, ""


def read_frames(text: str) -> SerialReport:
    """Every intact frame of a console log (the last one wins when a name repeats)."""
    frames: dict[str, bytes] = {}
    problems: list[str] = []
    done = False
    current: tuple[str, int, str] | None = None
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().strip("\0")
        if line == DONE_MARKER:
            done = True
            continue
        start = _START.search(line)  # UEFI's screen escapes may share the first marker's line
        if start is not None:
            if current is not None:
                problems.append(f"frame {current[0]}: cut off by the next frame")
            size = int(start[2])
            if size > MAX_FRAME_BYTES:
                problems.append(f"frame {start[1]}: claims {size} bytes")
                current = None
                continue
            current, lines = (start[1], size, start[3]), []
            continue
        if current is None:
            continue
        if line == f"{END_MARKER} {current[0]}":
            data, problem = _finish(*current, lines)
            if data is not None:
                frames[current[0]] = data
            else:
                problems.append(problem)
            current = None
        elif _BASE64.match(line) and len(line) <= 200:
            lines.append(line)
            if sum(map(len, lines)) > MAX_FRAME_BYTES * 4 // 3 + 4:
                problems.append(f"frame {current[0]}: longer than its header says")
                current = None
    if current is not None:
        problems.append(f"frame {current[0]}: no end marker (the guest stopped early?)")
    return SerialReport(frames, tuple(problems), done)


def write_frame(name: str, payload: bytes) -> str:
    """One record as the guest's init script writes it (76-column base64, like busybox)."""
    encoded = base64.b64encode(payload).decode()
    lines = [encoded[i : i + 76] for i in range(0, len(encoded), 76)]
    digest = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    return (
        "\n".join(
            [f"{FRAME_MARKER} {name} {len(payload)} {digest}", *lines, f"{END_MARKER} {name}"]
        )
        + "\n"
    )
