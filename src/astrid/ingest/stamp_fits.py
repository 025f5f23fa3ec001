"""A fast path for the FITS files of alert cutouts: simple headers parsed by hand.

astropy parses every card of every HDU and takes ~1 ms a stamp; alert cutouts are small,
plain images, so the common case is read here directly: HDUs walked by their sizes, every
2-D image's pixels taken as they are (a Rubin cutout holds the image, then its mask and
variance planes). Anything less plain (scaled or blanked
integers, a compressed image, a header that does not parse, bytes cut short) returns None
and astropy reads the file instead, with its checks and messages.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["Plane", "read_plain_planes"]

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
            elif keyword == "HIERARCH" and "=" in card:  # long keywords (MP_NO_DATA)
                name, value = card[9:].split("=", 1)
                cards.setdefault(name.strip(), value.split("/", 1)[0].strip())
    return None


def _int(cards: dict[str, str], keyword: str, default: int | None = None) -> int:
    if keyword not in cards:
        if default is None:
            raise KeyError(keyword)
        return default
    return int(cards[keyword])


class Plane(NamedTuple):
    """One 2-D image HDU of a cutout file."""

    name: str  # EXTNAME ("" when none), upper case
    pixels: np.ndarray  # float32 [y, x]
    cards: dict[str, str]  # keyword -> value text (strings keep their quotes stripped)


def read_plain_planes(raw: bytes) -> list[Plane] | None:
    """Every 2-D image HDU of plain FITS bytes, in file order, pixels as float32.

    Returns None where the file is not plain enough (see the module docstring) or holds no
    2-D image.
    """
    try:
        return _read(raw)
    except (KeyError, ValueError, UnicodeDecodeError, IndexError, OverflowError):
        return None


def _read(raw: bytes) -> list[Plane] | None:
    offset, index = 0, 0
    planes: list[Plane] = []
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
        if is_image and naxis == 2 and size:
            if any(k in cards for k in _UNUSUAL):
                return None
            pixels = np.frombuffer(raw, dtype=_DTYPES[bitpix], count=dims[0] * dims[1],
                                   offset=data_start)  # fmt: skip
            text = {k: v.strip("' ") for k, v in cards.items()}
            name = text.get("EXTNAME", "").upper()
            planes.append(Plane(name, pixels.reshape(dims[1], dims[0]).astype(np.float32), text))
        offset = data_start + -(-size // _BLOCK) * _BLOCK
        index += 1
    return planes or None
