"""Hostile inputs for tests: a real decompression-bomb PNG, an over-long JSONL line, a key-shaped secret.

Example:
    >>> png = bomb_png(20000, 20000)
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n" and len(png) < 500_000
    True
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

# What a test puts in the environment as an API key: distinctive, so that finding it anywhere means a leak, and
# not "sk-" shaped, so that only its configured variable (not the generic token pattern) can hide it.
SECRET_KEY = "LEAK-0123456789-abcdef-XYZ"


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid single-colour 8-bit greyscale PNG of ``width`` x ``height`` pixels, a few hundred KB encoded.

    Built with zlib directly (not PIL, which refuses to write what it would refuse to read): 20000 x 20000 is
    400 megapixels, 400 MB once decoded, from about 390 KB of file.
    """
    row = b"\x00" * (width + 1)  # filter byte 0 + black pixels
    deflate = zlib.compressobj(9)
    data = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def write_long_line_jsonl(path: Path, line_bytes: int, before: int = 1, after: int = 1) -> Path:
    """A JSONL file: ``before`` small rows, one row of about ``line_bytes`` bytes, ``after`` small rows.

    The long row is ``{"response": "xxx...", "answer": "1"}``, written in pieces (never held whole).

    Returns:
        ``path``; the long row is on line ``before + 1``.
    """
    small = json.dumps({"response": "<answer>\\boxed{1}</answer>", "answer": "1"}) + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(small * before)
        handle.write('{"response": "')
        piece = "x" * 2**20
        for _ in range(line_bytes // len(piece)):
            handle.write(piece)
        handle.write("x" * (line_bytes % len(piece)))
        handle.write('", "answer": "1"}\n')
        handle.write(small * after)
    return path
