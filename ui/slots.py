"""Expensive actions bounded per process, their progress with Cancel, and buttons whose work runs
in the page's body."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Hashable

import streamlit as st

from core.errors import UserError
from core.explain.settings import Result
from core.pace import Pace, listening

# Process-wide: how many expensive actions (Score-CAM, the faithfulness and sanity checks, the
# Compare grid) run at once, sized to the cores; however many tabs a visitor opens, they share
# these.
SLOTS = max(1, (os.cpu_count() or 2) // 2)
_slots = threading.BoundedSemaphore(SLOTS)
# One data download per process, whoever asks (here, not in the page: a page's script runs anew on
# every rerun, and a lock made there would be a new one each time).
DOWNLOAD = threading.Lock()


# Seconds between two redraws of a bar: each redraw is also where a Cancel can stop the work.
REDRAW = 0.25
# Cheap explanations in flight in this process (a visitor's upload explained with Grad-CAM):
# expensive work gives way to them at each of its steps, for at most GIVE_WAY seconds a step.
GIVE_WAY = 2.0
_cheap = 0
_cheap_changed = threading.Condition()


class Stopped(UserError):
    """Work a person cancelled, said in one line where the work's result would be."""


@contextlib.contextmanager
def expensive(what: str, when: bool = True, on_cancel: Callable | None = None, args=()):
    """Hold one of the SLOTS while `what` runs, if `when`; when all are taken, say so and wait.

    The Cancel button (any click does) reruns the page, which ends the wait: Streamlit stops a
    script at its next call, and the clock's caption below is such a call. `on_cancel(*args)`
    runs before that rerun (Streamlit calls a button's callback first).
    """
    if not when:
        yield
        return
    if not _slots.acquire(blocking=False):
        started = time.monotonic()
        with st.status(
            f"This server runs {SLOTS} expensive task(s) at once and all are busy: waiting to "
            f"{what}…"
        ) as box:
            st.button("Cancel", key=f"cancel {what}", on_click=on_cancel, args=args)
            clock = st.empty()
            while not _slots.acquire(timeout=0.5):
                clock.caption(f"Waiting for {time.monotonic() - started:.0f} s")
            box.update(
                label=f"A slot came free after {time.monotonic() - started:.0f} s.",
                state="complete",
            )
    try:
        yield
    finally:
        _slots.release()


@contextlib.contextmanager
def cheap_first():
    """A cheap explanation in flight: expensive work pauses at its next step (`give_way`) until
    none is, so that one visitor's Score-CAM or Compare grid does not halve another's upload.
    Both would otherwise share TensorFlow's thread pool pass for pass (measured: 2.07× idle)."""
    global _cheap
    with _cheap_changed:
        _cheap += 1
    try:
        yield
    finally:
        with _cheap_changed:
            _cheap -= 1
            _cheap_changed.notify_all()


def give_way() -> None:
    """Wait while a cheap explanation is in flight, GIVE_WAY seconds at most (so a crowd of
    uploads delays expensive work, never starves it)."""
    with _cheap_changed:
        _cheap_changed.wait_for(lambda: _cheap == 0, timeout=GIVE_WAY)


@contextlib.contextmanager
def working(
    what: str, total: int, unit: str, key: str, on_cancel: Callable | None = None, args=()
):
    """While the block runs, a bar: steps done of `total` `unit`, the seconds so far and an
    estimate of those left (core.pace.Pace), and Cancel. Yields `step(n=1)` for the steps a loop
    reports; the forward passes counted inside (core.pace.advance) are steps too.

    Cancel (any click does) reruns the page: Streamlit stops this script at its next call, which
    the bar's next redraw is, so the work stops within a step or REDRAW seconds; `on_cancel(*args)`
    runs first. The bar goes when the work ends. At each step the work gives way to cheap
    explanations in flight (`give_way`).
    """
    pace, box = Pace(total), st.empty()
    with box.container():
        bar = st.progress(0.0, text=pace.line(what, unit))
        st.button("Cancel", key=f"{key} cancel", on_click=on_cancel, args=args)
    redrawn = time.monotonic()

    def step(n: int = 1) -> None:
        nonlocal redrawn
        pace.add(n)
        give_way()
        if time.monotonic() - redrawn >= REDRAW:
            bar.progress(pace.fraction, text=pace.line(what, unit))
            redrawn = time.monotonic()

    try:
        with listening(step):
            yield step
    finally:
        box.empty()


def button_result(
    label: str,
    key: str,
    made_for: Hashable,
    what: str,
    work: Callable[[], object],
    doing: str,
    total: int,
    unit: str = "forward passes",
    **button,
) -> object | None:
    """A button that asks for `work(step)`, and its result for `made_for`, made now if just asked
    for.

    The click only records its request (`on_click`); the work runs here, in the page's body, in
    one of the SLOTS, under a bar (`working`: `doing`, `total` `unit`, Cancel) whose `step` it
    is given. The result is kept under the button's key with what it was made for: a result or a
    request made for anything else (another photo, model, target, layer) belongs to settings no
    longer on screen and is not used. Cancelled, it says so until asked again.
    """
    state = st.session_state
    st.button(label, key=key, on_click=_ask, args=(key, made_for), **button)
    if state.pop(f"{key} request", None) == made_for:
        stop = stopper(key, made_for)
        with expensive(what, True, *stop), working(doing, total, unit, key, *stop) as step:
            state[f"{key} result"] = Result(made_for, work(step))
    if state.get(f"{key} stopped") == made_for:
        st.caption(f"Stopped: cancelled before it could {what}.")
    result = state.get(f"{key} result")
    return result.value if isinstance(result, Result) and result.made_for == made_for else None


def _ask(key: str, made_for: Hashable) -> None:
    st.session_state[f"{key} request"] = made_for
    st.session_state.pop(f"{key} stopped", None)


def stopper(key: str, made_for: Hashable) -> tuple:
    """The Cancel callback and arguments of `button_result(key=key)`'s work for `made_for`, for a
    bar of its own inside that work."""
    return _stop, (key, made_for)


def _stop(key: str, made_for: Hashable) -> None:
    st.session_state[f"{key} stopped"] = made_for
