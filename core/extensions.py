"""The Flask extensions, created unbound so every module can import them.

Bound to an app in :func:`conveyor.app.create_app`; one set per process, many apps.
"""
from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from marshmallow import fields
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every Conveyor model, core and plugin alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def make_api() -> Api:
    """A fresh smorest ``Api`` per app: it keeps its spec and blueprints on itself."""
    return Api()


def document_decimal_strings(api: Api) -> None:
    """After ``api.init_app``, before any blueprint is registered."""
    api.ma_plugin.converter.add_attribute_function(_decimal_strings)


def _decimal_strings(self: object, field: fields.Field, ret: dict[str, object],
                     **_: object) -> dict[str, object]:
    """A ``Decimal(as_string=True)`` travels as a JSON string ("1250.00"): document it as one
    (``type: string, format: decimal``), not as apispec's ``number``; core's and plugins'."""
    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal"}
    return {}
