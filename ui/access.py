"""Who may train and bring data, and what a visitor may read: public mode's two rules.

Anyone trains locally; in public mode, a logged-in or unlocked user. Every message a page shows
passes through `shown`: no server path ever, operator advice (a CATDOG_ setting) only locally.
"""

from __future__ import annotations

import contextlib
import time

import streamlit as st

from core.config import Config
from core.data.choices import public
from core.errors import UserError, one_line
from core.training.access import MAX_TRIES, WAIT_SECONDS, password_matches
from core.training.status import Notice
from ui.config import app_config, public_by_environment
from ui.streamlit_internals import secrets as _secrets


def is_public() -> bool:
    """The public switch: CATDOG_PUBLIC=1 (ui/config.py), or `public = true` in
    .streamlit/secrets.toml. Off: local use, anyone trains.
    """
    return public_by_environment() or bool(_secrets().get("public"))


def shown(text: str, config: Config | None = None) -> str:
    """`text` as this visitor may read it (core/data/choices.py `public`)."""
    return public(text, config or app_config(), operator=not is_public())


@contextlib.contextmanager
def one_line_errors(config: Config | None = None):
    """A UserError raised inside shown as one line this visitor may read, never a traceback; what
    follows it inside is not drawn."""
    try:
        yield
    except UserError as error:
        st.error(shown(one_line(error), config))


def notify(notice: Notice) -> None:
    """`notice` shown as its kind says (st.success, st.error, ...), as a visitor may read it."""
    getattr(st, notice.kind)(shown(notice.text))


def may_train() -> bool:
    """May this visitor start, stop and discard runs?

    Locally, yes. In public mode: a user logged in with the identity provider when `[auth]` is
    configured, else one who gave the training password this session.
    """
    if not is_public():
        return True
    if "auth" in _secrets():
        return bool(st.user.is_logged_in)
    return bool(st.session_state.get("password_ok"))


def _check_password() -> None:
    state = st.session_state
    if time.monotonic() < state.get("password_wait_until", 0.0):
        state.password_message = "Too many wrong passwords: wait a little and try again."
        return
    if password_matches(state.get("password", ""), str(_secrets().get("training_password", ""))):
        state.password_ok, state.password_message = True, None
        return
    state.password_tries = state.get("password_tries", 0) + 1
    if state.password_tries >= MAX_TRIES:
        state.password_tries, state.password_wait_until = 0, time.monotonic() + WAIT_SECONDS
    state.password_message = "Wrong password."


def access_panel() -> None:
    """Public mode only: who is signed in, or how to become authorised to train."""
    if not is_public():
        return
    secrets = _secrets()
    if "auth" in secrets:
        if st.user.is_logged_in:
            st.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'you'}.")
            st.button("Log out", on_click=st.logout, key="logout")
        else:
            st.info(
                "A public demo: anyone may watch runs and their results; log in to start or stop "
                "one."
            )
            st.button("Log in", on_click=st.login, key="login")
    elif st.session_state.get("password_ok"):
        st.caption("Training is unlocked for this session.")
    elif secrets.get("training_password"):
        st.info(
            "A public demo: anyone may watch runs and their results; the training password starts "
            "or stops one."
        )
        with st.form("unlock"):
            st.text_input("Training password", type="password", key="password")
            st.form_submit_button("Unlock training", on_click=_check_password)
        if st.session_state.get("password_message"):
            st.warning(st.session_state.password_message)
    else:
        st.info(
            "A public demo: training is off here (no identity provider and no training password "
            "configured)."
        )
