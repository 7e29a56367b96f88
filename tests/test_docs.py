"""The README and docs/: every benchmark file they quote is committed, every link resolves,
and the README stays short enough to find one's way in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def expanded(path: str) -> list[str]:
    """``a/{b,c}_d.json`` -> ``a/b_d.json``, ``a/c_d.json``."""
    braces = re.search(r"\{([^}]*)\}", path)
    if not braces:
        return [path]
    return [name for choice in braces[1].split(",")
            for name in expanded(path[:braces.start()] + choice + path[braces.end():])]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_quoted_benchmark_file_exists(page):
    quoted = {name for path in re.findall(r"bench/results/[\w.{},-]+?\.json", page.read_text())
              for name in expanded(path)}
    missing = sorted(path for path in quoted if not (REPO / path).exists())
    assert not missing, f"{page.name} quotes figures from files that are not committed: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_to_a_file_or_heading_resolves(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"https?:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def test_the_readme_is_short_and_has_contents():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 400
    assert "**Contents.**" in readme and "## Where to read on" in readme
    for page in PAGES[1:]:  # every docs page is reachable from the README
        assert f"docs/{page.name}" in readme, page.name


def test_the_quoted_file_check_sees_a_missing_file(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("figures in `bench/results/nowhere_cpu.json` and [a link](missing.md#x)\n")
    with pytest.raises(AssertionError, match="nowhere_cpu"):
        test_every_quoted_benchmark_file_exists(page)
    with pytest.raises(AssertionError, match="missing.md"):
        test_every_link_to_a_file_or_heading_resolves(page)
