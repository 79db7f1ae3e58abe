"""Sign-in: sessions for people (Flask-Login), bearer tokens for machines (a hook)."""
from __future__ import annotations

import hmac
import logging
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import joinedload
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from . import audit, change_stamps
from .change_stamps import stamp_columns
from .extensions import db, login_manager
from .i18n import _, _l, select_locale
from .login_throttle import check_credentials, init_login_throttle, throttle
from .models import User
from .permissions import login_required, public
from .role_layers import settings_stamp_columns

bp = Blueprint("auth", __name__)
log = logging.getLogger("conveyor.auth")


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    """The signed-in user and their roles, plus what every page needs, in one statement: the
    freshness stamps of what each process caches (the role settings: conveyor.role_layers; the
    pipelines and the exchange rates: conveyor.change_stamps) and the unread notifications
    count for the header."""
    uid, _sep, stamp = user_id.partition(":")
    if not uid.isdigit() or len(uid) > 10 or not stamp:
        return None
    row = db.session.execute(_user_statement(), {"uid": int(uid)}).unique().first()
    if row is None:
        return None
    user, settings_count, settings_at, unread, *stamps = row
    # A session made before the user's last logout, password change or deactivation is over.
    if not user.active or not hmac.compare_digest(stamp.encode(), user.session_stamp.encode()):
        return None
    g.conveyor_roles_stamp = (settings_count, settings_at)
    change_stamps.remember(stamps)
    g.unread_notifications = unread or 0
    return user


def user_row_columns(user_id: Any) -> list[Any]:
    """What rides along a signed-in user's load, in this order: the roles' settings stamp
    (count, latest), the unread notifications count, the change stamps
    (``conveyor.change_stamps``). The bearer-token load (``conveyor.default_auth``) carries the
    same."""
    from .web.notifications import unread_count_column

    return [*settings_stamp_columns(), unread_count_column(user_id), *stamp_columns()]


@lru_cache(maxsize=1)
def _user_statement() -> Any:
    """Built once: constructing a statement costs about as much as running this one."""
    uid = bindparam("uid", type_=Integer)
    return (select(User, *user_row_columns(uid))
            .where(User.id == uid).options(joinedload(User.role_grants)))


@login_manager.request_loader
def _load_from_request(req: Any) -> User | None:
    return current_app.extensions["conveyor"].hook.user_from_request(request=req)


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if request.path.startswith("/api/"):
        response = jsonify(code=401, status="Unauthorized",
                           message="Send Authorization: Bearer <token> "
                                   "(see `conveyor token create`)")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="conveyor"'
        return response
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status = 200
    headers: dict[str, str] = {}
    if form.validate_on_submit():
        username = form.username.data or ""
        limits = throttle()
        wait = limits.retry_after(username)
        if wait:
            form.password.errors.append(_(
                "Too many failed sign-ins. Try again in %(minutes)s min.",
                minutes=max(1, -(-wait // 60))))
            status, headers = 429, {"Retry-After": str(wait)}
        else:
            user = db.session.scalar(select(User).where(User.username == username))
            if check_credentials(user, form.password.data or ""):
                limits.succeeded(username)
                _keep_chosen_language(user)
                login_user(user)
                audit.record("sign_in", object_type="user", object_id=user.id,
                             label=user.username, actor=user)
                db.session.commit()
                return redirect(_safe_next(request.args.get("next")))
            limits.failed(username)
            log.info("failed sign-in for %r from %s", username[:80], request.remote_addr)
            audit.record("sign_in_failed", object_type="user",
                         object_id=user.id if user is not None else None, label=username[:80])
            db.session.commit()
            form.password.errors.append(_("Wrong username or password."))
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status, headers


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    """Signing out ends every session of the user, not only this browser's: a copied cookie
    must not outlive it."""
    current_user.end_sessions()
    audit.record("sign_out", object_type="user", object_id=current_user.id,
                 label=current_user.username)
    db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


def _keep_chosen_language(user: User) -> None:
    """A language picked on the sign-in page (``/login?lang=ru``: its language links, or a link
    from elsewhere) becomes the person's own setting: once signed in, the setting decides the
    language, and the page would otherwise switch back under them."""
    chosen = request.args.get("lang")
    if chosen in current_app.config["CONVEYOR"]["languages"] and user.locale != chosen:
        user.locale = chosen
    # Not signed in yet, so this is the cookie's or the browser's language: kept for what is
    # written to the person while they are away (notifications, e-mails), never over ``locale``.
    user.browser_locale = select_locale()


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login is a phishing tool."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and \
                not target.startswith("//"):
            return target
    return url_for("home.index")


def init_auth(app: Flask) -> None:
    init_login_throttle(app, app.config["CONVEYOR"])
    app.register_blueprint(bp)
