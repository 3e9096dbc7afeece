"""How far a long command has got, on stderr: photo i of N, the method, the seconds elapsed and
an estimate of the seconds left.

On a terminal one line updates in place (a carriage return, no scrolling); into a file or a pipe
(a batch job's log) each photo gets a line of its own, so a log says where a job stopped. Stdout
stays the command's output alone (explain's JSON records, evaluate's table).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from core.pace import Pace


class Progress:
    """Reports `total` photos' progress to `stream` (stderr), one `step` per photo done."""

    def __init__(
        self,
        total: int,
        what: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.pace = what, Pace(total, clock)
        self.stream = stream or sys.stderr
        self.on_terminal = self.stream.isatty()
        self.width = 0

    def step(self, photos: int = 1) -> None:
        """`photos` more done: the line said again, with the time left estimated from the pace."""
        pace = self.pace
        pace.add(photos)
        done, (elapsed, left) = min(pace.done, pace.total), pace.times()
        line = (
            f"photo {done:,} of {pace.total:,} · {self.what} · {elapsed:.1f} s elapsed · "
            f"about {left or 0:.0f} s left"
        )
        if self.on_terminal:
            # The same line rewritten: padded over a longer one before it, ended once done.
            end = "\n" if done == pace.total else ""
            self.stream.write(f"\r{line.ljust(self.width)}{end}")
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
