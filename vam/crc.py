"""CRC32 arithmetic that zlib's Python binding lacks: combining the CRCs of consecutive pieces.

S3 keeps one FULL_OBJECT CRC32 for a multipart object; we compute one CRC per part (each part is
read once, in its own thread) and fold them into the whole-file value with crc32_combine, the same
GF(2) matrix method as zlib's C function.
"""

from __future__ import annotations

import base64

_POLY = 0xEDB88320  # reflected CRC-32 polynomial (zlib, S3's CRC32)


def _times(matrix: list[int], vector: int) -> int:
    total = 0
    row = 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _square(matrix: list[int]) -> list[int]:
    return [_times(matrix, matrix[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC32 of A+B given crc32(A), crc32(B) and len(B)."""
    if len2 <= 0:
        return crc1
    odd = [_POLY] + [1 << n for n in range(31)]  # operator for one zero bit
    even = _square(odd)  # two zero bits
    odd = _square(even)  # four zero bits
    while True:
        even = _square(odd)  # apply len2's bits, one zero byte at a time doubling
        if len2 & 1:
            crc1 = _times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _square(even)
        if len2 & 1:
            crc1 = _times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def crc32_of_pieces(pieces: list[tuple[int, int]]) -> int:
    """Whole CRC32 of consecutive pieces given as (crc32, length) in order."""
    crc = 0
    for piece_crc, length in pieces:
        crc = crc32_combine(crc, piece_crc, length)
    return crc


def crc32_b64(crc: int) -> str:
    """The form S3 uses in x-amz-checksum-crc32: base64 of the 4 big-endian bytes."""
    return base64.b64encode((crc & 0xFFFFFFFF).to_bytes(4, "big")).decode("ascii")


def crc32_from_b64(text: str) -> int | None:
    """Inverse of crc32_b64; None for anything that is not a plain CRC32 (e.g. composite '…-3')."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        return None
    return int.from_bytes(raw, "big") if len(raw) == 4 else None


def crc32_hex(crc: int) -> str:
    """8 lowercase hex digits (the x-amz-meta-crc32 form)."""
    return f"{crc & 0xFFFFFFFF:08x}"
