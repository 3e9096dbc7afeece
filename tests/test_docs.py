"""The README and docs/ hold together: every relative link and image leads to a file, every
`#anchor` to a heading of the file it names, and the README stays short enough to read to the end.

Anchors are GitHub's heading slugs: lowercase, backticks and punctuation other than '-' and '_'
removed, each space a '-', and a repeated heading numbered (-1, -2...). Links inside code are not
links; http(s) and mailto links are not checked (the tests run offline).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 260

FENCE = re.compile(r"^ *```.*?^ *```", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), and <img src="target">.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")
HEADING = re.compile(r"^#{1,6} +(.+?) *#* *$", re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor in a markdown file, repeated ones numbered as GitHub does."""
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = anchor = slug(heading)
        number = 0
        while anchor in found:
            number += 1
            anchor = f"{base}-{number}"
        found.add(anchor)
    return found


def links(page: Path) -> list[str]:
    """The relative link targets of a markdown file, code left out."""
    text = CODE_SPAN.sub("", FENCE.sub("", page.read_text()))
    targets = [markdown or html for markdown, html in LINK.findall(text)]
    return [t for t in targets if not re.match(r"(https?|mailto):", t)]


def test_slugs_are_githubs():
    assert slug("Folder (`pages/folder.py`): a folder at a glance") == (
        "folder-pagesfolderpy-a-folder-at-a-glance"
    )
    assert slug("Beyond one machine: `--shard I/N` and `merge`") == (
        "beyond-one-machine---shard-in-and-merge"
    )
    assert slug("Reaching ≥ 98 % (needs internet once)") == "reaching--98--needs-internet-once"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.is_file():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading with that anchor in {file.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_the_readme_can_be_read_to_the_end():
    lines = len((ROOT / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; at most {README_MAX_LINES}"
