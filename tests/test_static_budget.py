"""Total vendored and own JavaScript stays small: at most 60 KB gzipped, counting every ``.js``
under the core's ``static`` folder (SortableJS included) and every plugin's ``static`` folder —
what a browser may have to fetch, compressed as a server would send it."""
from __future__ import annotations

import gzip
from pathlib import Path

import conveyor

BUDGET = 60 * 1024  # bytes, gzipped
CORE = Path(conveyor.__file__).resolve().parent
PLUGINS = CORE.parent / "plugins"


def scripts() -> list[Path]:
    found = sorted((CORE / "static").rglob("*.js"))
    found += sorted(p for p in PLUGINS.glob("*/static/**/*.js"))
    return found


def gzipped(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def test_all_javascript_together_is_at_most_60_kb_gzipped() -> None:
    files = scripts()
    assert any(p.name == "Sortable.min.js" for p in files)  # the board's library is counted
    assert set(PLUGINS.glob("*/static/*.js")) <= set(files)  # and the plugins' own
    sizes = {str(p.relative_to(CORE.parent)): gzipped(p) for p in files}
    total = sum(sizes.values())
    assert total <= BUDGET, f"{total} bytes gzipped > {BUDGET}: {sizes}"


def test_every_vendored_library_comes_with_its_licence() -> None:
    vendor = CORE / "static" / "vendor"
    for library in (p for p in vendor.iterdir() if p.is_dir()):
        assert any(f.name.upper().startswith(("LICENSE", "LICENCE", "COPYING"))
                   for f in library.iterdir()), library
