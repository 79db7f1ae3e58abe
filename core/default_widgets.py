"""The core's home-screen widgets."""
from __future__ import annotations

from .contrib import Widget
from .hookspecs import hookimpl


@hookimpl(trylast=True)
def register_widgets() -> list[Widget]:
    return []
