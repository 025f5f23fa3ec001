"""Public object names: ``ASTRID`` + year of first detection + letters, like TNS.

The n-th object (1-based) first detected in a year gets the bijective base-26 letters of
n: 1 → ``a``, 26 → ``z``, 27 → ``aa``, 702 → ``zz``, 703 → ``aaa``.
"""

from __future__ import annotations

__all__ = ["NAME_PREFIX", "object_name", "sequence_letters"]

NAME_PREFIX = "ASTRID"
"""What every object name starts with."""


def sequence_letters(sequence: int) -> str:
    """The letters of a 1-based per-year sequence number (bijective base 26).

    Raises
    ------
    ValueError
        If ``sequence`` is not a positive integer.
    """
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 1:
        raise ValueError(f"sequence must be a positive integer, got {sequence!r}")
    letters = []
    n = sequence
    while n > 0:
        n, rest = divmod(n - 1, 26)
        letters.append(chr(ord("a") + rest))
    return "".join(reversed(letters))


def object_name(year: int, sequence: int) -> str:
    """``ASTRID`` + four-digit ``year`` + the letters of ``sequence``: ``ASTRID2026a``.

    Raises
    ------
    ValueError
        If ``year`` is not within 1..9999 or ``sequence`` is not positive.
    """
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
        raise ValueError(f"year must be within 1..9999, got {year!r}")
    return f"{NAME_PREFIX}{year:04d}{sequence_letters(sequence)}"
