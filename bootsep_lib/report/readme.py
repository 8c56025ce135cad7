"""The README's result blocks, copied from the generated files in ``figures/``.

A block in the README is two HTML comments around generated Markdown::

    <!-- from figures/table1_alpha_sweep.md -->
    ...whatever the last laptop run wrote to that file...
    <!-- end -->

:func:`splice` puts each file's current text between its markers (:func:`refresh` for a README
on disk); ``tools/readme_results.py``
rewrites the README with it (or, with ``--check``, says which blocks are stale).  So the numbers
and findings in the README are the run's own, never retyped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["BLOCK", "ReadmeError", "blocks", "refresh", "splice"]

BLOCK = re.compile(r"<!-- from (?P<path>[^ ]+) -->\n(?P<body>.*?)<!-- end -->", re.DOTALL)
_OPEN = re.compile(r"<!-- from [^ ]+ -->")


class ReadmeError(ValueError):
    """A README block without its end marker, or naming a file that does not exist."""


def blocks(text: str) -> list[tuple[str, str]]:
    """``(path, body)`` of every block of ``text``, in order.

    Raises
    ------
    ReadmeError
        When an opening marker has no ``<!-- end -->`` before the next opening marker.
    """
    found = list(BLOCK.finditer(text))
    if len(found) != len(_OPEN.findall(text)) or any(
            _OPEN.search(m.group("body")) for m in found):
        raise ReadmeError("a '<!-- from FILE -->' marker has no '<!-- end -->' of its own")
    return [(m.group("path"), m.group("body")) for m in found]


def splice(text: str, read: Callable[[str], str]) -> str:
    """``text`` with each block's body replaced by ``read(path)`` (ending in one newline).

    Parameters
    ----------
    text : str
        The README.
    read : callable
        Path named in a marker -> that file's text.
    """
    blocks(text)  # validates the markers

    def body(match: re.Match) -> str:
        new = read(match.group("path")).rstrip("\n") + "\n"
        return f"<!-- from {match.group('path')} -->\n{new}<!-- end -->"

    return BLOCK.sub(body, text)


def refresh(readme: Path, root: Path) -> tuple[str, list[str]]:
    """The README with every block read from its file under ``root``, and the paths whose
    block that changed (empty: already in sync).  Each file is read once."""
    text = readme.read_text()
    fresh = splice(text, lambda path: read_under(root, path))
    pairs = zip(blocks(text), blocks(fresh), strict=True)
    return fresh, [path for (path, old), (_, new) in pairs if old != new]


def read_under(root: Path, path: str) -> str:
    """The text of ``root/path``; a missing file is a :class:`ReadmeError` naming it."""
    file = root / path
    if not file.is_file():
        raise ReadmeError(f"README block names {path}, which does not exist under {root}")
    return file.read_text()
