"""Each role's home screen, assembled from the widgets its roles list."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user

from ..permissions import login_required
from ..role_layers import current_roles

bp = Blueprint("home", __name__)


def widget_ids_for(user: Any) -> list[str]:
    roles = current_roles()
    ids: list[str] = []
    for name in user.roles:
        for wid in roles[name].widgets if name in roles else ():
            if wid not in ids:
                ids.append(wid)
    return ids


@bp.get("/")
@login_required
def index() -> Any:
    return render_template("home.html", widget_ids=widget_ids_for(current_user))
