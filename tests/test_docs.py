"""The documentation a newcomer reads stands on its own: no references to files outside the
repository or to issue numbers a reader can't see, and every relative link leads to a file."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *ROOT.glob("docs/**/*.md"),
               *ROOT.glob("examples/*/README.md"), ROOT / "bench" / "README.md"])
OUTSIDE = re.compile(r"\.\./shared|\b[Ii]ssues? #?\d+|(?<![\w&])#\d{1,4}\b")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_docs_cite_nothing_outside_the_repository(path: Path):
    text = path.read_text(encoding="utf-8")
    found = [m.group(0) for m in OUTSIDE.finditer(text)]
    assert not found, f"{path.name}: {found[:5]}"


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_relative_links_lead_to_files(path: Path):
    text = path.read_text(encoding="utf-8")
    broken = [target for target in LINK.findall(text)
              if "://" not in target and not target.startswith("mailto:")
              and not (path.parent / target).exists()]
    assert not broken, f"{path.name}: {broken}"
