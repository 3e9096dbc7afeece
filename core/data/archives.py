"""A ZIP as the tools people use write it: refused whole or read entry by entry, never unpacked.

Refused whole, in one sentence: not a ZIP, password-protected (ZipCrypto or AES: the flag is the
same), too many entries, too many bytes once unpacked (read from its directory before anything is
unpacked: a bomb is caught there). Entry names are read as the tool that wrote them meant
(`entry_name`): "\\" as a separator, UTF-8 without its flag; entries that climb out of the
archive or are hidden are skipped and counted.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from core.data.classes import DataError
from core.images import IMAGE_SUFFIXES

MAX_FILES = 20_000  # entries in one ZIP
MAX_UNPACKED = 2 * 1024**3  # bytes, all entries unpacked: a ZIP that claims more is refused
ENCRYPTED, UTF8_NAMES = 0x1, 0x800  # a ZIP entry's general purpose flags (APPNOTE 4.4.4)


@dataclass
class Entries:
    """A ZIP's photos by entry name, what was skipped and why, and every safe name in it."""

    archive: zipfile.ZipFile
    photos: dict[str, zipfile.ZipInfo] = field(default_factory=dict)
    garbled: set[str] = field(default_factory=set)  # photos whose names may be mis-decoded
    skipped: Counter = field(default_factory=Counter)
    names: list[str] = field(default_factory=list)  # folders too, for empty class folders


def read_zip(data: bytes) -> Entries:
    """The ZIP's photo entries; DataError, one sentence, when it is refused as a whole."""
    found = Entries(_opened(data))
    for info in found.archive.infolist():
        entry, guessed = entry_name(info)
        reason = unsafe(entry)
        if reason is None:
            found.names.append(entry)
        if entry.endswith("/"):  # a folder
            continue
        if not reason and PurePosixPath(entry).suffix.lower() not in IMAGE_SUFFIXES:
            reason = "not an image"
        if not reason and entry in found.photos:  # "a\\x.jpg" beside "a/x.jpg", or NFD beside NFC
            reason = "a name given twice"
        if reason:
            found.skipped[reason] += 1
            continue
        found.photos[entry] = info
        if guessed:
            found.garbled.add(entry)
    return found


def _opened(data: bytes) -> zipfile.ZipFile:
    """The archive, or DataError when it is refused as a whole."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [info for info in archive.infolist() if not entry_name(info)[0].endswith("/")]
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise DataError(f"That is not a readable ZIP file ({error}).") from None
    if any(info.flag_bits & ENCRYPTED for info in entries):
        raise DataError(
            "The ZIP is password-protected: unzip it and zip it again without a password."
        )
    if len(entries) > MAX_FILES:
        raise DataError(f"The ZIP holds {len(entries):,} files; at most {MAX_FILES:,} here.")
    unpacked = sum(info.file_size for info in entries)
    if unpacked > MAX_UNPACKED:
        raise DataError(
            f"The ZIP would unpack to {unpacked / 1024**2:,.0f} MB; at most "
            f"{MAX_UNPACKED / 1024**2:,.0f} MB here."
        )
    return archive


def entry_name(info: zipfile.ZipInfo) -> tuple[str, bool]:
    """(the entry's name as the tool that made the ZIP meant it, whether it may be garbled).

    Names use "/" (older Windows tools and PowerShell's CreateFromDirectory write "\\"). A name
    without the UTF-8 flag (bit 11) is UTF-8 when its bytes are valid UTF-8 (Info-ZIP, macOS and
    many others write UTF-8 without saying so), else the ZIP standard's CP437, which Python has
    already decoded; a non-ASCII name read so is likely another code page (a Windows ZIP of
    Chinese folder names is GBK) and is flagged.
    """
    name, guessed = info.filename, False
    if not info.flag_bits & UTF8_NAMES:
        try:
            name = info.orig_filename.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            guessed = not name.isascii()
    return unicodedata.normalize("NFC", name).replace("\\", "/"), guessed


def refuse_garbled(labels: list[str]) -> None:
    """DataError when a class name came out of CP437 with letters a person would not type."""
    if garbled := sorted({label for label in labels if not label.isascii()}):
        raise DataError(
            f"The ZIP's folder names are in a code page it does not declare ('{garbled[0]}'): "
            "zip the folder again with 7-Zip or your system's own Compress, which write UTF-8 "
            "names."
        )


# Helpers -----------------------------------------------------------------------------------------


def unsafe(entry: str) -> str | None:
    """Why a ZIP entry is not read (it climbs out of the archive, or is hidden), else None."""
    parts = [p for p in PurePosixPath(entry).parts if p not in ("", ".")]
    if entry.startswith("/") or re.match(r"^[A-Za-z]:", entry) or ".." in parts:
        return "outside the folder (zip-slip)"
    if parts and (parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)):
        return "hidden or system files"
    return None
