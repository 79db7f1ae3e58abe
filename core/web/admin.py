"""Administration: users and teams here; roles, stages and plugins in ``admin_settings``.

Every page declares its own permission (``admin.users``, ``admin.roles``…), so an installation
can split the work between people; the admin index links only to the sections one holds.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import audit
from ..events import UserCreated, emit
from ..extensions import db
from ..i18n import _, _l
from ..models import Team, TeamMember, User
from ..permissions import can, require
from ..role_layers import current_roles
from .forms import MemberForm, NameForm, UserForm
from .listing import before_arg, keyset_page

bp = Blueprint("admin", __name__, url_prefix="/admin")
UID = "<int(max=2147483647):user_id>"
TID = "<int(max=2147483647):team_id>"

SECTIONS = [
    ("admin.users", "admin.users", _l("Users"), _l("Accounts, roles, passwords.")),
    ("admin.teams", "admin.users", _l("Teams"), _l("Who works with whom: managers see their "
                                                  "team's records.")),
    ("admin.roles", "admin.roles", _l("Roles"), _l("What each role may do and see, and its home "
                                                  "screen.")),
    ("admin.stages", "admin.stages", _l("Stages"), _l("The steps of the sales pipeline.")),
    ("admin.plugins", "admin.plugins", _l("Plugins"), _l("Installed and enabled plugins.")),
    ("rates.index", "admin.rates", _l("Exchange rates"), _l("Dated rates that convert amounts "
                                                          "into the company currency.")),
    ("admin.jobs", "admin.jobs", _l("Background jobs"), _l("Jobs that failed, with their "
                                                         "error; run them again.")),
    ("admin.audit", "admin.audit", _l("Audit trail"), _l("Who changed what and when; sign-ins "
                                                        "and failed sign-ins.")),
]


@bp.get("/")
@require("admin.users")
def index() -> Any:
    sections = [s for s in SECTIONS if can(current_user, s[1])]
    return render_template("admin/index.html", sections=sections)


# --- users -------------------------------------------------------------------------------------


def _role_choices(form: UserForm) -> None:
    form.roles.choices = [(name, _(role.title)) for name, role in current_roles().items()]


@bp.get("/users")
@require("admin.users")
def users() -> Any:
    query = select(User).options(selectinload(User.memberships).selectinload(TeamMember.team))
    q = request.args.get("q", "").strip()[:100]
    if q:
        like = f"%{q}%"
        query = query.where(or_(User.username.ilike(like), User.display_name.ilike(like),
                                User.email.ilike(like)))
    page = keyset_page(query, User.id, before_arg())
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template("admin/users.html", page=page, q=q, args=args,
                           roles=current_roles())


def _username_taken(username: str, user_id: int | None) -> bool:
    query = select(User.id).where(User.username == username)
    if user_id is not None:
        query = query.where(User.id != user_id)
    return db.session.scalar(query) is not None


def _locks_me_out(user: User, active: bool, role_names: list[str]) -> bool:
    """Would this save take user administration away from the admin making it?"""
    if user.id != current_user.id:
        return False
    roles = current_roles()
    keeps = any("admin.users" in roles[r].permissions for r in role_names if r in roles)
    return not (active and keeps)


def _save_user(form: UserForm, user: User | None) -> User | None:
    """Apply the form; None (with field errors set) when it can't be saved."""
    username = form.username.data.strip()
    if _username_taken(username, user.id if user else None):
        form.username.errors.append(_("This username is taken."))
        return None
    if user is not None and _locks_me_out(user, bool(form.active.data), form.roles.data or []):
        form.active.errors.append(_("You cannot take away your own user administration."))
        return None
    created = user is None
    user = user or User(username=username)
    user.username = username
    user.display_name = (form.display_name.data or "").strip()
    user.email = (form.email.data or "").strip().lower() or None
    if user.active and not form.active.data:
        user.end_sessions()  # deactivated: signed out everywhere, at once
    user.active = bool(form.active.data)
    user.roles = form.roles.data or []
    if form.password.data:
        user.set_password(form.password.data)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        form.username.errors.append(_("This username is taken."))
        return None
    if created:
        emit(UserCreated(user=user, by=current_user._get_current_object()))
    db.session.commit()
    return user


@bp.route("/users/new", methods=["GET", "POST"])
@require("admin.users")
def user_create() -> Any:
    form = UserForm()
    _role_choices(form)
    if form.validate_on_submit():
        user = _save_user(form, None)
        if user is not None:
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for(".users"))
    return render_template("admin/user_form.html", form=form, user=None), \
        400 if request.method == "POST" else 200


@bp.route(f"/users/{UID}/edit", methods=["GET", "POST"])
@require("admin.users")
def user_edit(user_id: int) -> Any:
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user)
    _role_choices(form)
    if request.method == "GET":
        form.roles.data = user.roles
    if form.validate_on_submit():
        if _save_user(form, user) is not None:
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for(".users"))
    return render_template("admin/user_form.html", form=form, user=user), \
        400 if request.method == "POST" else 200


@bp.post(f"/users/{UID}/sign-out")
@require("admin.users")
def user_sign_out(user_id: int) -> Any:
    """End every session of a user (a lost laptop, a shared password)."""
    user = db.session.get(User, user_id) or abort(404)
    user.end_sessions()
    audit.record("sign_out_everywhere", object_type="user", object_id=user.id,
                 label=user.username)
    db.session.commit()
    flash(_("%(name)s is signed out everywhere.", name=user.username), "success")
    if user.id == current_user.id:
        return redirect(url_for("auth.login"))
    return redirect(url_for(".user_edit", user_id=user.id))


# --- teams -------------------------------------------------------------------------------------


def _team_or_404(team_id: int) -> Team:
    team = db.session.scalar(select(Team).where(Team.id == team_id).options(
        selectinload(Team.members).selectinload(TeamMember.user)))
    if team is None:
        abort(404)
    return team


def _name_taken(name: str, team_id: int | None) -> bool:
    query = select(Team.id).where(Team.name == name)
    if team_id is not None:
        query = query.where(Team.id != team_id)
    return db.session.scalar(query) is not None


@bp.route("/teams", methods=["GET", "POST"])
@require("admin.users")
def teams() -> Any:
    form = NameForm()
    if form.validate_on_submit():
        name = form.name.data.strip()
        if _name_taken(name, None):
            form.name.errors.append(_("A team with this name exists."))
        else:
            team = Team(name=name)
            db.session.add(team)
            db.session.commit()
            flash(_("Team %(name)s created.", name=name), "success")
            return redirect(url_for(".team", team_id=team.id))
    all_teams = list(db.session.scalars(select(Team).order_by(Team.name).options(
        selectinload(Team.members).selectinload(TeamMember.user))))
    return render_template("admin/teams.html", teams=all_teams, form=form), \
        400 if request.method == "POST" else 200


def _team_page(team: Team, rename: NameForm | None = None, add: MemberForm | None = None,
               status: int = 200) -> Any:
    rename = rename or NameForm(formdata=None, obj=team)
    add = add or MemberForm(formdata=None)
    _member_choices(add, team)
    return render_template("admin/team.html", team=team, rename=rename, add=add), status


def _member_choices(form: MemberForm, team: Team) -> None:
    inside = select(TeamMember.user_id).where(TeamMember.team_id == team.id)
    form.user_id.choices = [(u.id, u.label) for u in db.session.scalars(
        select(User).where(User.active.is_(True), User.id.not_in(inside))
        .order_by(User.username).limit(1000))]


@bp.get(f"/teams/{TID}")
@require("admin.users")
def team(team_id: int) -> Any:
    return _team_page(_team_or_404(team_id))


@bp.post(f"/teams/{TID}/rename")
@require("admin.users")
def team_rename(team_id: int) -> Any:
    team = _team_or_404(team_id)
    form = NameForm()
    if form.validate_on_submit():
        name = form.name.data.strip()
        if _name_taken(name, team.id):
            form.name.errors.append(_("A team with this name exists."))
        else:
            team.name = name
            db.session.commit()
            flash(_("Team renamed."), "success")
            return redirect(url_for(".team", team_id=team.id))
    return _team_page(team, rename=form, status=400)


@bp.post(f"/teams/{TID}/members")
@require("admin.users")
def team_add(team_id: int) -> Any:
    team = _team_or_404(team_id)
    form = MemberForm()
    _member_choices(form, team)
    if form.validate_on_submit():
        db.session.add(TeamMember(team_id=team.id, user_id=form.user_id.data))
        db.session.commit()
        flash(_("Member added."), "success")
        return redirect(url_for(".team", team_id=team.id))
    return _team_page(team, add=form, status=400)


@bp.post(f"/teams/{TID}/members/{UID}/remove")
@require("admin.users")
def team_remove(team_id: int, user_id: int) -> Any:
    member = db.session.scalar(select(TeamMember).where(TeamMember.team_id == team_id,
                                                        TeamMember.user_id == user_id))
    if member is None:
        abort(404)
    db.session.delete(member)
    db.session.commit()
    flash(_("Member removed."), "success")
    return redirect(url_for(".team", team_id=team_id))


@bp.post(f"/teams/{TID}/delete")
@require("admin.users")
def team_delete(team_id: int) -> Any:
    team = _team_or_404(team_id)
    db.session.delete(team)
    db.session.commit()
    flash(_("Team deleted; its members keep their accounts."), "success")
    return redirect(url_for(".teams"))


from . import admin_audit, admin_jobs, admin_settings  # noqa: E402,F401 - more pages on this bp
