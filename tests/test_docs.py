"""The README is a one-screen front door whose links, test command and Python example stay true."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
README_MAX_BYTES = 10_240
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def relative_links(markdown: str) -> list[str]:
    """Targets of the inline links outside code, except web, mail and same-page links."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    return [t for t in _LINK.findall(prose) if not re.match(r"^([a-z][a-z0-9+.-]*:|#)", t)]


def heading_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def broken_links(page: Path) -> list[str]:
    """The relative links of `page` whose file, or whose heading anchor in a Markdown file, is missing."""
    broken = []
    for target in relative_links(page.read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve()
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md":
            anchors = {heading_anchor(h) for h in _HEADING.findall(_FENCE.sub("", file.read_text(encoding="utf-8")))}
            if anchor not in anchors:
                broken.append(target)
    return broken


def ci_test_command() -> str:
    """The one command .ci/run runs (its lines less comments, `set` and `cd`)."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    commands = [line for line in lines if line and not line.startswith(("#", "set ", "cd "))]
    assert len(commands) == 1, f".ci/run should run one command, found {commands}"
    return commands[0]


def test_readme_fits_one_screen() -> None:
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes, over {README_MAX_BYTES}: move detail into docs/"


def test_docs_pages_exist_and_readme_links_them() -> None:
    assert DOC_PAGES, "docs/ holds no Markdown page"
    linked = {(README.parent / t.partition("#")[0]).resolve() for t in relative_links(README.read_text(encoding="utf-8"))}
    unlinked = [p.name for p in DOC_PAGES if p.resolve() not in linked]
    assert not unlinked, f"README.md does not link {unlinked}"


@pytest.mark.parametrize("page", [README, *DOC_PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    assert not broken_links(page), f"{page.relative_to(ROOT)} links to missing files or headings: {broken_links(page)}"


def test_readme_gives_the_command_ci_runs() -> None:
    command = ci_test_command()
    fenced = "\n".join(_FENCE.findall(README.read_text(encoding="utf-8")))
    assert command in fenced.splitlines(), f"README.md has no code line `{command}`, the command .ci/run runs"


def test_readme_python_examples_parse() -> None:
    blocks = _PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))
    assert blocks, "README.md has no ```python example"
    for block in blocks:
        ast.parse(block)


def test_link_checker_finds_what_is_broken(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Real `heading` here\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#real-heading-here) [web](https://example.org/x.md) [self](#top)\n"
        "[gone](missing.md) [bad anchor](other.md#nowhere) `[code](ignored.md)`\n"
        "```\n[fenced](ignored-too.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["missing.md", "other.md#nowhere"]
