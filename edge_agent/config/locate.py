"""Find the line of a key in TOML text, for error messages (tomllib gives no positions)."""

from __future__ import annotations

import re

__all__ = ["locate_key"]

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")


def _split_key(raw: str) -> tuple[str, ...]:
    parts: list[str] = []
    for raw_piece in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', raw):
        piece = raw_piece.strip()
        parts.append(piece[1:-1] if piece[:1] in "\"'" else piece)
    return tuple(parts)


def locate_key(text: str, path: tuple[str, ...]) -> int | None:
    """Return the 1-based line where ``path`` is set in ``text``, or None.

    Handles ``[table]`` headers, dotted keys and keys inside inline tables on
    one line; when the exact key is not found the line of its closest table
    is returned, which is still where a reader should look.
    """
    table: tuple[str, ...] = ()
    best: int | None = None
    best_len = -1
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_key(header.group(1))
            if table == path[: len(table)] and len(table) > best_len:
                best, best_len = number, len(table)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        full = table + _split_key(key.group(1))
        if full == path:
            return number
        n = len(full)
        if full == path[:n] and n > best_len:
            # An inline table (`broker = { url = ... }`) holds the rest of the path.
            rest = path[n:]
            if rest and re.search(rf"\b{re.escape(rest[-1])}\s*=", line):
                return number
            best, best_len = number, n
    return best
