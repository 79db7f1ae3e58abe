"""Administration of how Conveyor works: roles, pipeline stages, plugins (read-only).

Routes of the ``admin`` blueprint (imported by :mod:`conveyor.web.admin`). Role edits are
stored as :class:`RoleSetting` rows, the last layer over plugin defaults, role files and config.
"""
from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import exists, or_, select
from wtforms import IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from ..extensions import db
from ..i18n import _, _l
from ..models import Deal, RoleSetting, Stage, StageHistory
from ..permissions import require
from ..plugin_loading import installed_plugins
from ..role_layers import SCOPES, current_roles
from .admin import bp
from .deals import int_arg, pipeline_or_404
from .forms import MultiCheckboxField, StageEditForm

SID = "<int(max=2147483647):stage_id>"
ROLE = "<string(maxlength=40):role_name>"
SCOPE_LABELS = {"own": _l("Own records"), "team": _l("The team's records"),
                "all": _l("All records")}


def permission_labels() -> dict[str, str]:
    """Each permission's label in the reader's language (its code name stays in the markup)."""
    return {name: str(perm.label or name)
            for name, perm in current_app.extensions["conveyor"].permissions.items()}


# --- roles -------------------------------------------------------------------------------------


@bp.get("/roles")
@require("admin.roles")
def roles() -> Any:
    edited = set(db.session.scalars(select(RoleSetting.role)))
    return render_template("admin/roles.html", roles=current_roles(), edited=edited,
                           scope_labels=SCOPE_LABELS, permission_labels=permission_labels(),
                           widgets=current_app.extensions["conveyor"].widgets)


def _role_form(role: Any) -> tuple[FlaskForm, list[tuple[str, Any, str]]]:
    """A form with one checkbox per registered permission and one position per widget."""
    state = current_app.extensions["conveyor"]
    widget_fields: list[tuple[str, Any, str]] = []

    class RoleForm(FlaskForm):
        permissions = MultiCheckboxField(_l("Permissions"), choices=[
            (p.name, f"{p.name} — {p.label}") for p in sorted(state.permissions.values(),
                                                             key=lambda p: p.name)])
        scope = SelectField(_l("Records this role sees"),
                            choices=[(s, SCOPE_LABELS[s]) for s in SCOPES])

    for i, (wid, widget) in enumerate(sorted(state.widgets.items())):
        name = f"widget_{i}"
        setattr(RoleForm, name, IntegerField(f"{widget.title} ({wid})", validators=[
            Optional(), NumberRange(min=1, max=99)]))
        widget_fields.append((name, wid, widget.permission))
    form = RoleForm()
    if request.method == "GET":
        form.permissions.data = sorted(role.permissions)
        form.scope.data = role.scope
        for name, wid, _perm in widget_fields:
            if wid in role.widgets:
                getattr(form, name).data = role.widgets.index(wid) + 1
    return form, widget_fields


def _locks_me_out(role_name: str, permissions: set[str]) -> bool:
    """Would this role edit take role administration away from the admin making it?"""
    if role_name not in current_user.roles:
        return False
    roles = current_roles()
    others = set().union(*(roles[r].permissions for r in current_user.roles
                           if r in roles and r != role_name))
    return "admin.roles" not in (others | permissions)


@bp.route(f"/roles/{ROLE}", methods=["GET", "POST"])
@require("admin.roles")
def role_edit(role_name: str) -> Any:
    role = current_roles().get(role_name) or abort(404)
    form, widget_fields = _role_form(role)
    if form.validate_on_submit():
        permissions = set(form.permissions.data or [])
        if _locks_me_out(role_name, permissions):
            form.permissions.errors.append(_("You cannot take away your own role administration."))
        else:
            chosen = sorted((getattr(form, name).data, wid) for name, wid, _perm in widget_fields
                            if getattr(form, name).data)
            known = {wid for _name, wid, _perm in widget_fields}
            # Widgets of plugins that are off now stay listed, so enabling them brings them back.
            widgets = [wid for _pos, wid in chosen] + [w for w in role.widgets if w not in known]
            setting = db.session.scalar(select(RoleSetting).where(RoleSetting.role == role_name))
            setting = setting or RoleSetting(role=role_name)
            setting.data = {"permissions": sorted(permissions), "scope": form.scope.data,
                            "widgets": widgets}
            db.session.add(setting)
            db.session.commit()
            flash(_("Role %(name)s saved.", name=_(role.title)), "success")
            return redirect(url_for(".roles"))
    edited = db.session.scalar(select(RoleSetting.id).where(RoleSetting.role == role_name))
    return render_template("admin/role_form.html", role=role, form=form, edited=edited,
                           widget_fields=widget_fields), \
        400 if request.method == "POST" else 200


@bp.post(f"/roles/{ROLE}/reset")
@require("admin.roles")
def role_reset(role_name: str) -> Any:
    """Forget the admin's edits: the role falls back to its file, config and plugin defaults."""
    setting = db.session.scalar(select(RoleSetting).where(RoleSetting.role == role_name))
    if setting is None:
        abort(404)
    base = current_app.extensions["conveyor"].roles.get(role_name)
    if _locks_me_out(role_name, set(base.permissions) if base else set()):
        flash(_("You cannot take away your own role administration."), "error")
        return redirect(url_for(".role_edit", role_name=role_name))
    db.session.delete(setting)
    db.session.commit()
    flash(_("Role %(name)s is back to its defaults.", name=role_name), "success")
    return redirect(url_for(".roles"))


# --- stages ------------------------------------------------------------------------------------


def _stages_page(pipeline: Any, forms: dict[int, StageEditForm] | None = None,
                 new: StageEditForm | None = None, status: int = 200) -> Any:
    forms = forms or {}
    for stage in pipeline.stages:
        if stage.id not in forms:
            forms[stage.id] = StageEditForm(formdata=None, obj=stage, prefix=f"s{stage.id}")
    if new is None:
        new = StageEditForm(formdata=None, prefix="new")
        new.position.data = max((s.position for s in pipeline.stages), default=-1) + 1
        new.percent.data = 0
    ids = [s.id for s in pipeline.stages]
    in_use = set(db.session.scalars(select(Stage.id).where(Stage.id.in_(ids)).where(or_(
        exists().where(Deal.stage_id == Stage.id),
        exists().where(StageHistory.to_stage_id == Stage.id),
        exists().where(StageHistory.from_stage_id == Stage.id))))) if ids else set()
    declared = current_app.extensions["conveyor"].stage_gates
    gate_forms = {s.id: _gates_form(s) for s in pipeline.stages} if declared else {}
    return render_template("admin/stages.html", pipeline=pipeline, forms=forms, new=new,
                           in_use=in_use, gate_forms=gate_forms, declared_gates=declared), status


def _gates_form(stage: Stage, submitted: bool = False) -> FlaskForm:
    """One checkbox per declared stage gate; a configured gate of a disabled plugin is kept."""
    declared = current_app.extensions["conveyor"].stage_gates

    class GatesForm(FlaskForm):
        gates = MultiCheckboxField(_l("Stage gates"), choices=[
            (name, str(gate.label)) for name, gate in sorted(declared.items())])

    if submitted:
        return GatesForm(prefix=f"g{stage.id}")
    form = GatesForm(formdata=None, prefix=f"g{stage.id}")
    form.gates.data = [g for g in (stage.gates or []) if g in declared]
    return form


@bp.post(f"/stages/{SID}/gates")
@require("admin.stages")
def stage_gates(stage_id: int) -> Any:
    """Switch stage gates on or off for a stage: a deal must pass them to enter or pass it."""
    stage = _stage_or_404(stage_id)
    pipeline = pipeline_or_404(stage.pipeline_id)
    form = _gates_form(stage, submitted=True)
    if not form.validate_on_submit():
        flash(_("The stage gates were not saved."), "error")
        return _stages_page(pipeline, status=400)
    declared = current_app.extensions["conveyor"].stage_gates
    kept = [g for g in (stage.gates or []) if g not in declared]  # of plugins that are off now
    stage.gates = sorted(set(form.gates.data or [])) + kept
    db.session.commit()
    flash(_("Stage gates saved."), "success")
    return redirect(url_for(".stages", pipeline=pipeline.id))


def _stage_or_404(stage_id: int) -> Stage:
    return db.session.get(Stage, stage_id) or abort(404)


def _keeps_an_open_stage(pipeline: Any, stage: Stage | None, won: bool, lost: bool) -> bool:
    """A pipeline needs at least one open stage: new deals start in the first one."""
    return any(not s.is_closed for s in pipeline.stages if s is not stage) or not (won or lost)


def _apply(stage: Stage, form: StageEditForm) -> None:
    stage.name = form.name.data.strip()
    stage.percent = form.percent.data
    stage.position = form.position.data
    stage.is_won = bool(form.is_won.data)
    stage.is_lost = bool(form.is_lost.data)


@bp.get("/stages")
@require("admin.stages")
def stages() -> Any:
    return _stages_page(pipeline_or_404(int_arg("pipeline")))


@bp.post(f"/stages/{SID}")
@require("admin.stages")
def stage_edit(stage_id: int) -> Any:
    stage = _stage_or_404(stage_id)
    pipeline = pipeline_or_404(stage.pipeline_id)
    form = StageEditForm(prefix=f"s{stage.id}")
    if form.validate_on_submit():
        if not _keeps_an_open_stage(pipeline, stage, form.is_won.data, form.is_lost.data):
            form.is_won.errors.append(_("The pipeline needs at least one open stage."))
        elif _flags_change(stage, form) and _is_used(stage):
            form.is_won.errors.append(_(
                "Deals have been in this stage, so whether it is won or lost cannot change: "
                "their close dates and every total counted from them would no longer agree. "
                "Add a new stage instead."))
        else:
            _apply(stage, form)
            db.session.commit()
            flash(_("Stage saved."), "success")
            return redirect(url_for(".stages", pipeline=pipeline.id))
    return _stages_page(pipeline, forms={stage.id: form}, status=400)


@bp.post("/stages/new")
@require("admin.stages")
def stage_create() -> Any:
    pipeline = pipeline_or_404(int_arg("pipeline"))
    form = StageEditForm(prefix="new")
    if form.validate_on_submit():
        stage = Stage(pipeline_id=pipeline.id)
        _apply(stage, form)
        db.session.add(stage)
        db.session.commit()
        flash(_("Stage added."), "success")
        return redirect(url_for(".stages", pipeline=pipeline.id))
    return _stages_page(pipeline, new=form, status=400)


def _flags_change(stage: Stage, form: StageEditForm) -> bool:
    return (bool(form.is_won.data), bool(form.is_lost.data)) != (stage.is_won, stage.is_lost)


def _is_used(stage: Stage) -> bool:
    """Deals or history in the stage: its won/lost flags and deletion are then fixed."""
    return bool(db.session.scalar(select(or_(
        exists().where(Deal.stage_id == stage.id),
        exists().where(StageHistory.to_stage_id == stage.id),
        exists().where(StageHistory.from_stage_id == stage.id)))))


@bp.post(f"/stages/{SID}/delete")
@require("admin.stages")
def stage_delete(stage_id: int) -> Any:
    """Only an unused stage goes: deals and the append-only history must keep their stages."""
    stage = _stage_or_404(stage_id)
    pipeline = pipeline_or_404(stage.pipeline_id)
    if _is_used(stage):
        flash(_("This stage has deals or history, so it cannot be deleted. Rename it instead."),
              "error")
        return _stages_page(pipeline, status=409)
    if not _keeps_an_open_stage(pipeline, stage, True, True):
        flash(_("The pipeline needs at least one open stage."), "error")
        return _stages_page(pipeline, status=409)
    db.session.delete(stage)
    db.session.commit()
    flash(_("Stage deleted."), "success")
    return redirect(url_for(".stages", pipeline=pipeline.id))


# --- plugins -----------------------------------------------------------------------------------


@bp.get("/plugins")
@require("admin.plugins")
def plugins() -> Any:
    """Installed and enabled plugins; enabling happens in config, never from the web."""
    state = current_app.extensions["conveyor"]
    pm = state.pm
    declared: dict[str, set[str]] = {}
    for impl in pm.hook.register_permissions.get_hookimpls():
        declared.setdefault(impl.plugin_name, set()).update(
            p.name for p in (impl.function() or ()))
    roles = current_roles()

    def describe(name: str) -> dict[str, Any]:
        plugin = pm.get_plugin(name)
        perms = declared.get(name, set())
        return {"hooks": sorted(hc.name for hc in (pm.get_hookcallers(plugin) or ())),
                "permissions": sorted(perms),
                "roles": sorted(_(r.title) for r in roles.values() if r.permissions & perms)}

    installed = installed_plugins()
    enabled = [{"name": p.name, "title": p.manifest.title, "version": p.version,
                "installed": p.name in installed, **describe(p.name)} for p in state.plugins]
    disabled = [{"name": name, "version": getattr(getattr(ep, "dist", None), "version", ""),
                 "target": ep.value}
                for name, ep in sorted(installed.items()) if not state.enabled(name)]
    core = [{"name": name, **describe(name)} for name in
            (pm.get_name(p) for p in pm.get_plugins()) if name and name.startswith("conveyor.")]
    return render_template("admin/plugins.html", enabled=enabled, disabled=disabled, core=core,
                           permission_labels=permission_labels())
