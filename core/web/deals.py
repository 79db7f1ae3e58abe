"""Placeholder blueprint, being written."""
from flask import Blueprint

bp = Blueprint("deals", __name__, url_prefix="/deals")
