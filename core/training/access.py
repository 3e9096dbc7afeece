"""Who may train in public mode: the password check.

The identity-provider branch lives with Streamlit, in ui/access.py.
"""

from __future__ import annotations

import hmac

MAX_TRIES = 5  # wrong passwords a session may give before it must wait
WAIT_SECONDS = 30.0  # how long, after MAX_TRIES wrong ones


def password_matches(given: str, expected: str) -> bool:
    """Constant-time comparison (hmac.compare_digest), so timing does not reveal a prefix.

    An empty expected password never matches, so an unset password cannot be guessed as ''.
    """
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
