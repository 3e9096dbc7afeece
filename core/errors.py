"""Errors meant for a person: one `UserError` type, one line each, never a traceback.

Every error a person can cause or fix (a photo, a model file, a data folder, a download, a busy
lease, a bad setting, a full disk) subclasses `UserError`; pages and the CLI catch that one type
and show `one_line(error)`. A programming error stays a plain ValueError or TypeError and is not
caught.
"""

from __future__ import annotations

import contextlib
import errno


class UserError(Exception):
    """Says in one line what was received, what was expected and how to fix it."""


class ModelError(UserError):
    """A model that cannot be built, loaded or imported; the message is one line for the user."""


class SettingError(UserError):
    """A setting a person chose that cannot work: a target, layer, method or alpha."""


class StorageError(UserError):
    """The operating system refused a write for a person's reason: a full disk, a permission."""


def one_line(error: BaseException, limit: int = 300) -> str:
    """The first line of an error's message (its type name when it has none), at most `limit`."""
    text = str(error).strip()
    return text.splitlines()[0][:limit] if text else type(error).__name__


@contextlib.contextmanager
def writing(what: str):
    """Turn an OSError raised while `what` (e.g. "saving the model") into a StorageError."""
    try:
        yield
    except OSError as error:
        raise StorageError(storage_sentence(error, what)) from None


def storage_sentence(error: OSError, what: str) -> str:
    """What went wrong while `what`, and what to do about it."""
    if error.errno == errno.ENOSPC:
        return f"The disk is full while {what}: free some space and try again."
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"No permission to write while {what}: ask the server's operator to allow it."
    return f"Could not finish {what} ({error.strerror or one_line(error)})."
