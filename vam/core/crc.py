"""CRC32 arithmetic that zlib's Python binding lacks: combining the CRCs of consecutive pieces.

S3 keeps one FULL_OBJECT CRC32 for a multipart object; we compute one CRC per part (each part is
read once, in its own thread) and fold them into the whole-file value with crc32_combine, the same
method as zlib's C function (multiplication modulo the polynomial).
"""

from __future__ import annotations

import base64
import functools

_POLY = 0xEDB88320  # reflected CRC-32 polynomial (zlib, S3's CRC32)


def _multmodp(a: int, b: int) -> int:
    """a × b modulo the CRC polynomial (reflected bit order, as zlib's multmodp)."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                break
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return p


def _x2n_table() -> list[int]:
    """x^(2^k) modulo the polynomial for k = 0..31."""
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))
    return table


_X2N = _x2n_table()


@functools.lru_cache(maxsize=64)
def _x8nmodp(nbytes: int) -> int:
    """x^(8 × nbytes) modulo the polynomial: the operator that appends nbytes zero bytes.
    Cached: the parts of one upload all have the same length."""
    p = 1 << 31  # x^0
    k = 3
    n = nbytes
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC32 of A+B given crc32(A), crc32(B) and len(B) (zlib 1.2.12's method: one
    multiplication by x^(8·len2) modulo the polynomial, instead of squaring 32×32 matrices)."""
    if len2 <= 0:
        return crc1
    return _multmodp(_x8nmodp(len2), crc1) ^ crc2


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
