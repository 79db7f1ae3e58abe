"""/api/v1/users/me: who the token (or session) belongs to and what it may do."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from ..permissions import login_required, permissions_of, scope_of
from .common import errors
from .fastdump import dumped
from .schemas import MeSchema

blp = Blueprint("api_users", __name__, url_prefix="/api/v1/users",
                description="The signed-in user.")
TAG = "users"


@blp.route("/me", tags=[TAG])
class Me(MethodView):
    @login_required
    @errors(401)
    @blp.response(200, MeSchema)
    def get(self) -> Any:
        """The current user

        Roles, the permissions they grant and the record scope (`own`, `team` or `all`):
        a client can hide what the server would refuse anyway.
        """
        user = current_user._get_current_object()
        return dumped(MeSchema, {"id": user.id, "username": user.username, "display_name": user.display_name,
                "email": user.email, "locale": user.locale, "roles": user.roles,
                "permissions": sorted(permissions_of(user)), "scope": scope_of(user),
                "team_ids": user.team_ids})
