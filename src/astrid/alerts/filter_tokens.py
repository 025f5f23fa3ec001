"""Tokens of the alert filter language, and the error every malformed filter raises.

The tokenizer is a hand-written scanner over the expression text (no ``eval``, no Python
``ast``): it yields `Token` records carrying their 0-based character offset, so that the
parser (`astrid.alerts.filter_language`) can point at the offending token. Messages give
that offset as a 1-based column (``column 14: ...`` is offset 13).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from astrid.errors import AstridError

__all__ = [
    "KEYWORDS",
    "MAX_EXPRESSION_LENGTH",
    "FilterSyntaxError",
    "Token",
    "iter_tokens",
    "tokenize",
]

#: The longest expression (in characters) the language accepts.
MAX_EXPRESSION_LENGTH = 2000

#: Reserved words, matched case-insensitively; they cannot name fields.
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})

_TWO_CHAR_OPS = frozenset({"<=", ">=", "==", "!="})
_ONE_CHAR_OPS = frozenset("<>=+-*/(),")
_ESCAPABLE = frozenset("\\'\"")

TokenKind = Literal["number", "string", "name", "keyword", "op", "end"]


class FilterSyntaxError(AstridError):
    """A filter expression cannot be compiled: bad syntax, an unknown field, mixed types.

    Parameters
    ----------
    message : str
        What was expected and what was found, starting ``column N:`` (``N = position + 1``).
    position : int
        0-based character offset of the offending token in ``expression``.
    expression : str
        The expression as given.
    field : str or None
        The field involved, when there is one (an unknown field, a type mismatch).
    """

    position: int
    expression: str
    field: str | None

    def __init__(
        self, message: str, *, position: int, expression: str, field: str | None = None
    ) -> None:
        super().__init__(message, position=position, expression=expression, field=field)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only details: rebuild through a helper so the error pickles (worker queues).
        return (_rebuild_error, (str(self), self.position, self.expression, self.field))

    def pointer(self) -> str:
        """Up to 80 characters of the expression around the error, a caret under ``position``."""
        start = max(0, self.position - 60)
        snippet = self.expression[start : self.position + 20].replace("\n", " ")
        return f"{snippet}\n{' ' * (self.position - start)}^"


def _rebuild_error(
    message: str, position: int, expression: str, field: str | None
) -> FilterSyntaxError:
    """Unpickle a `FilterSyntaxError`."""
    return FilterSyntaxError(message, position=position, expression=expression, field=field)


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its source text, its value and its 0-based offset.

    ``value`` is the lowercased word for keywords and operators (``=`` is ``==``), the
    parsed number (int or float), the unescaped string, or the name as written.
    """

    kind: TokenKind
    text: str
    value: Any
    position: int


def syntax_error(
    expression: str, position: int, message: str, field: str | None = None
) -> FilterSyntaxError:
    """A `FilterSyntaxError` whose message starts with the 1-based column of ``position``."""
    return FilterSyntaxError(
        f"column {position + 1}: {message}", position=position, expression=expression, field=field
    )


def tokenize(expression: str) -> list[Token]:
    """The tokens of ``expression``, ending with one ``end`` token (see `iter_tokens`).

    Examples
    --------
    >>> [t.text for t in tokenize("rb >= 0.8 AND band='g'")]
    ['rb', '>=', '0.8', 'AND', 'band', '=', "'g'", '']
    """
    return list(iter_tokens(expression))


def iter_tokens(expression: str) -> Iterator[Token]:
    """The tokens of ``expression`` one by one, ending with one ``end`` token.

    Lazily, so that the parser reports the leftmost error first (an unknown field before a
    string left open further on). The length is checked before the first token.

    Raises
    ------
    FilterSyntaxError
        For a character that starts no token, a malformed number, an unterminated string
        (at its opening quote), an unknown escape, or an expression over
        `MAX_EXPRESSION_LENGTH` characters.
    """
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise syntax_error(
            expression,
            MAX_EXPRESSION_LENGTH,
            f"the expression is {len(expression)} characters long; "
            f"at most {MAX_EXPRESSION_LENGTH} are allowed",
        )
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if char.isspace():
            i += 1
        elif char.isdigit() or (char == "." and i + 1 < n and expression[i + 1].isdigit()):
            token = _number(expression, i)
            yield token
            i += len(token.text)
        elif char.isalpha() or char == "_":
            j = i + 1
            while j < n and (_is_name_char(expression[j]) or _is_inner_dot(expression, j)):
                j += 1
            word = expression[i:j]
            if word.lower() in KEYWORDS:
                yield Token("keyword", word, word.lower(), i)
            else:
                yield Token("name", word, word, i)
            i = j
        elif char in "'\"":
            token = _string(expression, i)
            yield token
            i += len(token.text)
        elif expression[i : i + 2] in _TWO_CHAR_OPS:
            op = expression[i : i + 2]
            yield Token("op", op, op, i)
            i += 2
        elif char in _ONE_CHAR_OPS:
            yield Token("op", char, "==" if char == "=" else char, i)
            i += 1
        else:
            hint = " (use != for 'not equal')" if char == "!" else ""
            raise syntax_error(expression, i, f"unexpected character {char!r}{hint}")
    yield Token("end", "", None, n)


def _is_name_char(char: str) -> bool:
    """Whether ``char`` can continue a field name (letters, digits, underscore)."""
    return char.isalnum() or char == "_"


def _is_inner_dot(expression: str, j: int) -> bool:
    """Whether a dot at ``j`` joins two parts of a dotted name (``dia_source.band``)."""
    return (
        expression[j] == "."
        and j + 1 < len(expression)
        and (expression[j + 1].isalpha() or expression[j + 1] == "_")
    )


def _number(expression: str, start: int) -> Token:
    """The number token at ``start``: ``12``, ``0.5``, ``.5``, ``1e-3``, ``2.5E+4``."""
    n = len(expression)
    j = start
    while j < n and expression[j].isdigit():
        j += 1
    is_float = False
    if j < n and expression[j] == ".":
        is_float = True
        j += 1
        while j < n and expression[j].isdigit():
            j += 1
    if j < n and expression[j] in "eE":
        k = j + 1
        if k < n and expression[k] in "+-":
            k += 1
        if k < n and expression[k].isdigit():
            is_float = True
            j = k
            while j < n and expression[j].isdigit():
                j += 1
    # A number running into a name or another dot ("2abc", "1e", "1.2.3") is a typo.
    end = j
    while end < n and (_is_name_char(expression[end]) or expression[end] == "."):
        end += 1
    text = expression[start:end]
    if end > j or not text.isascii():
        raise syntax_error(expression, start, f"malformed number {text!r}")
    value: int | float = float(text) if is_float else int(text)
    return Token("number", text, value, start)


def _string(expression: str, start: int) -> Token:
    """The string literal opening at ``start``; backslash escapes only \\\\, \\' and \\"."""
    quote = expression[start]
    chars: list[str] = []
    j = start + 1
    n = len(expression)
    while j < n:
        char = expression[j]
        if char == quote:
            return Token("string", expression[start : j + 1], "".join(chars), start)
        if char == "\\":
            if j + 1 < n and expression[j + 1] in _ESCAPABLE:
                chars.append(expression[j + 1])
                j += 2
                continue
            found = expression[j : j + 2]
            raise syntax_error(
                expression, j, f"unknown escape {found!r} in a string (only \\\\, \\' and \\\")"
            )
        chars.append(char)
        j += 1
    raise syntax_error(expression, start, f"unterminated string: no closing {quote} for this one")
