"""The one `Config` the screens hand down to core, and public mode's switch, read once.

`Config()` reads the environment (CATDOG_*), and core's functions build one of their own when given
none: every screen asks here instead and passes the answer down. Both are built once per process,
as the environment of a server does not change; a test that sets a CATDOG_ variable between two
page runs gets them built afresh.
"""

from __future__ import annotations

import functools
import os

from core.config import Config

# What the environment may say: core/config.py's settings and public mode's switch.
PREFIX = "CATDOG_"
PUBLIC = "CATDOG_PUBLIC"  # "1": a public demo (ui/access.py); Config has no field for it


def app_config() -> Config:
    """The settings every screen uses, built once."""
    return _read(_environment())[0]


def public_by_environment() -> bool:
    """CATDOG_PUBLIC=1; ui/access.py adds `public = true` in .streamlit/secrets.toml."""
    return _read(_environment())[1]


def _environment() -> tuple[tuple[str, str], ...]:
    """The CATDOG_ variables as they are now: what `_read` is keyed by."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))


@functools.lru_cache(maxsize=1)
def _read(environment: tuple[tuple[str, str], ...]) -> tuple[Config, bool]:
    # A typo (CATDOG_KEEP_RUNS=five) raises here, on every page, and is never kept.
    return Config(), dict(environment).get(PUBLIC) == "1"
