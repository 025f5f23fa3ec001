"""A fast path for the FITS files of alert cutouts: simple headers parsed by hand.

astropy parses every card of every HDU and takes ~1 ms a stamp; alert cutouts are small,
plain images, so the common case is read here directly: HDUs walked by their sizes, the
first 2-D image's pixels taken as they are. Anything less plain (scaled or blanked
integers, a compressed image, a header that does not parse, bytes cut short) returns None
and astropy reads the file instead, with its checks and messages.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["read_plain_image"]

_BLOCK = 2880
_CARD = 80
_DTYPES = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}
# Keywords that change how pixels are read: their presence sends the file to astropy.
_UNUSUAL = ("BSCALE", "BZERO", "BLANK", "ZIMAGE", "GROUPS")


def _header(raw: bytes, start: int) -> tuple[dict[str, str], int] | None:
    """The keyword → value text of the header at ``start``, and where its data begins."""
    cards: dict[str, str] = {}
    position = start
    while position + _BLOCK <= len(raw):
        block = raw[position : position + _BLOCK]
        position += _BLOCK
        for i in range(0, _BLOCK, _CARD):
            card = block[i : i + _CARD].decode("ascii")
            keyword = card[:8].strip()
            if keyword == "END":
                return cards, position
            if card[8:10] == "= ":
                value = card[10:].split("/", 1)[0].strip()
                cards.setdefault(keyword, value)
    return None


def _int(cards: dict[str, str], keyword: str, default: int | None = None) -> int:
    if keyword not in cards:
        if default is None:
            raise KeyError(keyword)
        return default
    return int(cards[keyword])


def read_plain_image(raw: bytes) -> tuple[np.ndarray, list[str]] | None:
    """The first 2-D image of plain FITS bytes as float32, and the names of the other HDUs.

    Returns None where the file is not plain enough (see the module docstring).
    """
    try:
        return _read(raw)
    except (KeyError, ValueError, UnicodeDecodeError, IndexError, OverflowError):
        return None


def _read(raw: bytes) -> tuple[np.ndarray, list[str]] | None:
    offset, index = 0, 0
    image: np.ndarray | None = None
    others: list[str] = []
    if not raw.startswith(b"SIMPLE  ="):
        return None
    while offset < len(raw):
        parsed = _header(raw, offset)
        if parsed is None:
            return None
        cards, data_start = parsed
        if index > 0 and "XTENSION" not in cards:
            return None
        bitpix, naxis = _int(cards, "BITPIX"), _int(cards, "NAXIS")
        dims = [_int(cards, f"NAXIS{k}") for k in range(1, naxis + 1)]
        count = _int(cards, "GCOUNT", 1) * (_int(cards, "PCOUNT", 0) + math.prod(dims))
        size = abs(bitpix) // 8 * count if naxis else 0
        if data_start + size > len(raw) or bitpix not in _DTYPES:
            return None
        is_image = index == 0 or cards["XTENSION"].strip("' ") == "IMAGE"
        if image is None and is_image and naxis == 2 and size:
            if any(k in cards for k in _UNUSUAL):
                return None
            pixels = np.frombuffer(raw, dtype=_DTYPES[bitpix], count=dims[0] * dims[1],
                                   offset=data_start)  # fmt: skip
            image = pixels.reshape(dims[1], dims[0]).astype(np.float32)
        else:
            name = cards.get("EXTNAME", "").strip("' ")
            if index > 0 or naxis:
                others.append(name or str(index))
        offset = data_start + -(-size // _BLOCK) * _BLOCK
        index += 1
    return None if image is None else (image, others)
