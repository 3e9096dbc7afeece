"""The one `Config` the screens hand down to core, and public mode's switch.

Both come from core.config.settings(): the process's settings, built once from its CATDOG_*
variables (afresh only when they change, as a test's do between two page runs). Every screen asks
here and passes the answer down.
"""

from __future__ import annotations

from core.config import Config, settings


def app_config() -> Config:
    """The settings every screen uses, built once per process."""
    return settings()


def public_by_environment() -> bool:
    """CATDOG_PUBLIC=1 (Config.public); ui/access.py adds `public = true` in secrets.toml."""
    return settings().public
