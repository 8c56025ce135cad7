"""The README's result blocks: splicing, marker errors, and the committed README in sync."""

from __future__ import annotations

import pytest

from bootsep_lib import paths
from bootsep_lib.report.readme import ReadmeError, blocks, read_under, refresh, splice

TEXT = ("# Title\n\nintro\n<!-- from figures/a.md -->\nold a\n<!-- end -->\nmiddle\n"
        "<!-- from figures/b.md -->\n<!-- end -->\ntail\n")


def test_splice_replaces_each_body_and_keeps_the_rest():
    files = {"figures/a.md": "| x |\n|--:|\n| 1 |\n\n\n", "figures/b.md": "- finding"}
    out = splice(TEXT, files.__getitem__)
    expected = ("# Title\n\nintro\n<!-- from figures/a.md -->\n| x |\n|--:|\n| 1 |\n<!-- end -->\n"
                "middle\n<!-- from figures/b.md -->\n- finding\n<!-- end -->\ntail\n")
    assert out == expected
    assert splice(out, files.__getitem__) == out  # idempotent
    assert blocks(out) == [("figures/a.md", "| x |\n|--:|\n| 1 |\n"),
                           ("figures/b.md", "- finding\n")]


@pytest.mark.parametrize("text", [
    "<!-- from figures/a.md -->\nno end\n",
    "<!-- from figures/a.md -->\n<!-- from figures/b.md -->\nx\n<!-- end -->\n",
])
def test_a_marker_without_its_end_is_an_error(text):
    with pytest.raises(ReadmeError, match="no '<!-- end -->'"):
        splice(text, lambda path: "x")


def _stale(readme, root):
    return refresh(readme, root)[1]


def test_refresh_names_the_changed_blocks_and_missing_files_are_errors(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.md").write_text("old a\n")
    (tmp_path / "figures" / "b.md").write_text("")
    readme = tmp_path / "README.md"
    readme.write_text(TEXT)
    assert _stale(readme, tmp_path) == ["figures/b.md"]  # "" vs an empty file's "\n"
    readme.write_text(splice(TEXT, lambda path: read_under(tmp_path, path)))
    assert _stale(readme, tmp_path) == []
    (tmp_path / "figures" / "a.md").write_text("new a\n")
    assert _stale(readme, tmp_path) == ["figures/a.md"]
    (tmp_path / "figures" / "b.md").unlink()
    with pytest.raises(ReadmeError, match="figures/b.md"):
        read_under(tmp_path, "figures/b.md")
    with pytest.raises(ReadmeError, match="figures/b.md"):
        _stale(readme, tmp_path)


def test_the_committed_readme_shows_the_committed_figures():
    root = paths.repo_root()
    assert blocks((root / "README.md").read_text()), "the README has no generated blocks"
    fresh, stale = refresh(root / "README.md", root)
    assert stale == [] and fresh == (root / "README.md").read_text(), (
        "README blocks differ from figures/: run python tools/readme_results.py")
