"""Expensive actions bounded per process, and buttons whose work runs in the page's body."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Hashable

import streamlit as st

from core.explain.settings import Result

# Process-wide: how many expensive actions (Score-CAM, the faithfulness and sanity checks, the
# Compare grid) run at once, sized to the cores; however many tabs a visitor opens, they share
# these.
SLOTS = max(1, (os.cpu_count() or 2) // 2)
_slots = threading.BoundedSemaphore(SLOTS)
# One data download per process, whoever asks (here, not in the page: a page's script runs anew on
# every rerun, and a lock made there would be a new one each time).
DOWNLOAD = threading.Lock()


@contextlib.contextmanager
def expensive(what: str, when: bool = True):
    """Hold one of the SLOTS while `what` runs, if `when`; when all are taken, say so and wait.

    The Cancel button (any click does) reruns the page, which ends the wait: Streamlit stops a
    script at its next call, and the clock's caption below is such a call.
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
            st.button("Cancel", key=f"cancel {what}")
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


def button_result(
    label: str,
    key: str,
    made_for: Hashable,
    what: str,
    work: Callable[[], object],
    spinner: str = "",
    **button,
) -> object | None:
    """A button that asks for `work`, and its result for `made_for`, made now if just asked for.

    The click only records its request (`on_click`); the work runs here, in the page's body where
    its spinner or progress bar belongs, in one of the SLOTS. The result is kept under the
    button's key with what it was made for: a result or a request made for anything else (another
    photo, model, target, layer) belongs to settings no longer on screen and is not used.
    """
    state = st.session_state
    st.button(label, key=key, on_click=_ask, args=(key, made_for), **button)
    if state.pop(f"{key} request", None) == made_for:
        with expensive(what), st.spinner(spinner) if spinner else contextlib.nullcontext():
            state[f"{key} result"] = Result(made_for, work())
    result = state.get(f"{key} result")
    return result.value if isinstance(result, Result) and result.made_for == made_for else None


def _ask(key: str, made_for: Hashable) -> None:
    st.session_state[f"{key} request"] = made_for
