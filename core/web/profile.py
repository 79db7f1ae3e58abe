"""The signed-in user's own settings: name, email, language, password and API tokens.

A token's secret is shown once, in the response that creates it (marked ``no-store``); only its
hash is kept, so it can be revoked but never shown again.
"""
from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user
from sqlalchemy import select

from ..extensions import db
from ..i18n import LANGUAGE_NAMES, _
from ..models import ApiToken
from ..permissions import login_required
from .deals import safe_next
from .forms import LanguageForm, PasswordForm, ProfileForm, TokenForm

bp = Blueprint("profile", __name__, url_prefix="/profile")


def language_choices() -> list[tuple[str, str]]:
    return [(code, LANGUAGE_NAMES.get(code, code))
            for code in current_app.config["CONVEYOR"]["languages"]]


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def timezone_choices() -> list[tuple[str, str]]:
    """IANA zones by name (``Europe/Moscow``, ``Asia/Shanghai``), UTC first."""
    return [(zone, zone.replace("_", " ")) for zone in ("UTC", *(z for z in _zones()
                                                                   if z != "UTC"))]


def _forms(submitted: str = "") -> dict[str, Any]:
    """The page's forms; only the one named by ``submitted`` reads the request."""
    def make(cls: type, name: str, **kwargs: Any) -> Any:
        if submitted != name:
            kwargs["formdata"] = None
        return cls(prefix=name, **kwargs)

    profile = make(ProfileForm, "profile", obj=current_user)
    profile.locale.choices = language_choices()
    profile.timezone.choices = timezone_choices()
    if submitted != "profile":
        profile.locale.data = current_user.locale or current_app.config["CONVEYOR"][
            "default_locale"]
        profile.timezone.data = current_user.timezone or current_app.config["CONVEYOR"][
            "default_timezone"]
    elif not profile.timezone.data:  # a form without the field keeps the saved zone
        profile.timezone.data = current_user.timezone or current_app.config["CONVEYOR"][
            "default_timezone"]
    return {"profile_form": profile, "password_form": make(PasswordForm, "password"),
            "token_form": make(TokenForm, "token")}


def _page(forms: dict[str, Any], status: int = 200, secret: str | None = None) -> Any:
    tokens = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)
                                     .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))
    response = make_response(render_template("profile/index.html", tokens=tokens,
                                             new_secret=secret, **forms), status)
    if secret:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/", methods=["GET", "POST"])
@login_required
def index() -> Any:
    if request.method == "GET":
        return _page(_forms())
    forms = _forms("profile")
    form = forms["profile_form"]
    if form.validate_on_submit():
        current_user.display_name = (form.display_name.data or "").strip()
        current_user.email = (form.email.data or "").strip().lower() or None
        current_user.locale = form.locale.data
        current_user.timezone = form.timezone.data
        current_user.email_notifications = bool(form.email_notifications.data)
        db.session.commit()
        flash(_("Your profile is saved."), "success")
        return redirect(url_for(".index"))
    return _page(forms, 400)


@bp.post("/password")
@login_required
def password() -> Any:
    forms = _forms("password")
    form = forms["password_form"]
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data or ""):
            form.current.errors.append(_("This is not your current password."))
        else:
            current_user.set_password(form.new.data)  # ends every session of this user…
            db.session.commit()
            login_user(current_user._get_current_object())  # …but this one goes on
            flash(_("Your password is changed."), "success")
            return redirect(url_for(".index"))
    return _page(forms, 400)


@bp.post("/tokens")
@login_required
def create_token() -> Any:
    forms = _forms("token")
    form = forms["token_form"]
    if not form.validate_on_submit():
        return _page(forms, 400)
    token, secret = ApiToken.issue(current_user, name=form.name.data.strip())
    db.session.add(token)
    db.session.commit()
    flash(_("Token created. Copy it now: it will not be shown again."), "success")
    return _page(_forms(), 201, secret=secret)


@bp.post("/tokens/<int(max=2147483647):token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Any:
    token = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id,
                                                     ApiToken.user_id == current_user.id))
    if token is None:
        abort(404)
    db.session.delete(token)
    db.session.commit()
    flash(_("Token revoked: programs using it can no longer sign in."), "success")
    return redirect(url_for(".index"))


@bp.post("/language")
@login_required
def language() -> Any:
    """The header's language selector: saved on the user, so every device follows."""
    form = LanguageForm()
    form.locale.choices = language_choices()
    if not form.validate_on_submit():
        abort(400)
    current_user.locale = form.locale.data
    db.session.commit()
    return redirect(safe_next(form.next.data) or url_for("home.index"))
