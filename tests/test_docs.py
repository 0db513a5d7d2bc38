"""The code cites docs/architecture.md by section: every cited section exists."""

from __future__ import annotations

import re

from tests.conftest import REPO

CITE = re.compile(r"docs/architecture\.md §(\d+)(?: and §(\d+))?")


def sections() -> set[str]:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    return set(re.findall(r"^## (\d+)\. ", text, re.M))


def test_every_citation_names_an_existing_section() -> None:
    cited: dict[str, set[str]] = {}
    for path in [*REPO.glob("*.md"), *(p for pkg in ("bot", "strategies", "backtest", "config", "tests")
                                     for p in (REPO / pkg).rglob("*") if p.suffix in (".py", ".json"))]:
        for match in CITE.finditer(path.read_text(encoding="utf-8")):
            for number in filter(None, match.groups()):
                cited.setdefault(number, set()).add(str(path.relative_to(REPO)))
    assert len(cited) >= 6 and set(cited) <= sections(), {n: f for n, f in cited.items() if n not in sections()}


def test_no_citation_of_a_document_the_repository_does_not_hold() -> None:
    stale = [str(p.relative_to(REPO)) for pkg in ("bot", "strategies", "backtest", "config")
             for p in (REPO / pkg).rglob("*.py") if "DESIGN section" in p.read_text(encoding="utf-8")]
    assert stale == []
