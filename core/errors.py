"""How an error reaches a person: one line, its first, never a traceback."""

from __future__ import annotations


def one_line(error: BaseException, limit: int = 300) -> str:
    """The first line of an error's message (its type name when it has none), at most `limit`
    long."""
    text = str(error).strip()
    return text.splitlines()[0][:limit] if text else type(error).__name__
