"""How far long work has got and how long it has left, for the page's bar and the terminal's line.

Forward passes are counted where they happen (`advance`: a CAM's pass, a Score-CAM batch of
masked inputs, a batch of a faithfulness curve), however deep in the code; whoever shows progress
listens while the work runs (`listening`) and knows the total to expect (`Explainer.cost`,
`compare.cost`, `faithfulness_passes`).
Passes counted while nobody listens go nowhere. Each thread has its own listener (a ContextVar):
Streamlit runs each session's script in a thread of its own. Steps of other kinds (a folder's
photos, a sanity check's layer groups, a guided clone's layers) are reported by the loop that makes
them, through a callback its caller passes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar

_listener: ContextVar[Callable[[int], None] | None] = ContextVar("pace", default=None)


@contextlib.contextmanager
def listening(hear: Callable[[int], None] | None) -> Iterator[None]:
    """While the block runs, `hear(n)` is told of every `advance(n)` in this thread (None: the
    passes go nowhere, e.g. inside a step counted as a whole)."""
    token = _listener.set(hear)
    try:
        yield
    finally:
        _listener.reset(token)


def advance(passes: int) -> None:
    """`passes` more forward passes done: told to the listener, if any."""
    if (hear := _listener.get()) is not None:
        hear(passes)


class Pace:
    """`total` steps of work: how many are done, the seconds so far and an estimate of those left
    (the pace so far; none before the first step). A total that was an estimate may be passed:
    the fraction stops at 1."""

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.clock = max(1, total), clock
        self.started, self.done = clock(), 0

    def add(self, steps: int = 1) -> None:
        self.done += steps

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total)

    def times(self) -> tuple[float, float | None]:
        """(seconds so far, seconds left at the pace so far: None before the first step)."""
        elapsed = self.clock() - self.started
        if not self.done:
            return elapsed, None
        return elapsed, elapsed / self.done * max(0, self.total - self.done)

    def line(self, what: str, unit: str) -> str:
        """"Explaining with Score-CAM · 640 of 2,048 forward passes · 12 s so far · about 26 s
        left" (before the first step: "working out the time left")."""
        elapsed, left = self.times()
        guess = "working out the time left" if left is None else f"about {left:.0f} s left"
        done = f"{min(self.done, self.total):,} of {self.total:,} {unit}"
        return f"{what} · {done} · {elapsed:.0f} s so far · {guess}"
