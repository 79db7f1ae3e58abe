"""The REST API under /api/v1 (flask-smorest)."""
from __future__ import annotations

from typing import Any

from flask import Flask


def init_api(app: Flask, api: Any) -> None:
    return None
