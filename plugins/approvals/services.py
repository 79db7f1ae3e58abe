"""The approval write operations and the approver rules, shared by the pages, the API, the
stage gates, the discount rule and other plugins (``from conveyor.plugins.approvals import
services``).

Decisions are conditional UPDATEs (``… WHERE id = :id AND status = 'pending' AND version = :v``):
two lawyers approving at the same moment record one approval; the second is told it was decided.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    false,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from conveyor import can, db, notify, send_mail, setting
from conveyor.i18n import _l
from conveyor.models import TeamMember, User, UserRole
from conveyor.queries import written_limit
from conveyor.role_layers import current_roles
from conveyor.types import utcnow

from .models import (
    APPROVED,
    CHANGES,
    ESCALATED,
    MANAGER,
    OPEN,
    PENDING,
    REQUESTED,
    RESUBMITTED,
    ROLE,
    USER,
    WITHDRAWN,
    ApprovalRequest,
    ApprovalStep,
)
from .resources import Approvable, Approver, approvables

DECIDE = "approvals.decide"
STATUS_LABELS = {PENDING: _l("waiting for approval"), APPROVED: _l("approved"),
                 CHANGES: _l("sent back for changes"), WITHDRAWN: _l("withdrawn")}


class ApprovalError(Exception):
    """A refused approval operation: ``status`` is the HTTP answer, ``message`` says why."""

    status = 409

    def __init__(self, message: Any, field: str | None = None) -> None:
        # Kept lazy: rendered by the caller after its rollback (a failed flush leaves the
        # session unusable, and rendering may read the user's language).
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(ApprovalError):
    status = 403


class Invalid(ApprovalError):
    status = 422


# --- who approves ------------------------------------------------------------------------------


def manager_role() -> str:
    return str(setting("approvals.manager_role"))


def team_mates(user_id: int) -> Select[Any]:
    """Ids of the people sharing a team with ``user_id`` (themselves included)."""
    mine, theirs = aliased(TeamMember), aliased(TeamMember)
    return (select(theirs.user_id).join(mine, mine.team_id == theirs.team_id)
            .where(mine.user_id == user_id))


def holders(role: str) -> Select[Any]:
    """Ids of the active users holding ``role``."""
    return (select(UserRole.user_id).join(User, User.id == UserRole.user_id)
            .where(UserRole.role == role, User.active.is_(True)))


def resolve(rule: Approver, requester: Any) -> tuple[str, str | None, int | None]:
    """The (rule, role, user) a request stores. The requester's manager is a holder of the
    manager role in one of their teams; with none there, any holder of that role approves."""
    if rule.rule == USER:
        user = db.session.get(User, rule.user_id) if rule.user_id else None
        if user is None or not user.active:
            raise Invalid(_l("No such user to approve."), "approver_id")
        if user.id == requester.id:
            raise Invalid(_l("You cannot be the approver of your own request."), "approver_id")
        if not can(user, DECIDE):
            raise Invalid(_l("%(who)s may not approve requests.", who=user.label), "approver_id")
        return USER, None, user.id
    if rule.rule == ROLE:
        role = (rule.role or "").strip()
        others = holders(role).where(UserRole.user_id != requester.id)
        granted = current_roles().get(role)
        if not role or granted is None or DECIDE not in granted.permissions \
                or db.session.scalar(others.limit(1)) is None:
            raise Invalid(_l("Nobody holds the role %(role)s to approve.", role=role or "—"),
                          "approver_role")
        return ROLE, role, None
    role = manager_role()
    in_team = holders(role).where(UserRole.user_id.in_(team_mates(requester.id)),
                                  UserRole.user_id != requester.id)
    if db.session.scalar(in_team.limit(1)) is not None:
        return MANAGER, role, None
    return resolve(Approver.of_role(role), requester)


def approver_criteria(user: Any) -> ColumnElement[bool]:
    """SQL: the requests ``user`` is an approver of (never their own)."""
    r = ApprovalRequest
    roles = list(user.roles)
    return and_(r.requested_by_id != user.id, or_(
        and_(r.rule == USER, r.approver_id == user.id),
        and_(r.rule == ROLE, r.approver_role.in_(roles)) if roles else false(),
        and_(r.rule == MANAGER, r.approver_role.in_(roles),
             r.requested_by_id.in_(team_mates(user.id))) if roles else false()))


def is_approver(request: ApprovalRequest, user: Any) -> bool:
    if request.requested_by_id == user.id:
        return False
    if request.rule == USER:
        return request.approver_id == user.id
    if request.approver_role not in user.roles:
        return False
    if request.rule == ROLE:
        return True
    return request.requested_by_id in set(db.session.scalars(team_mates(user.id)))


def approvers_of(request: ApprovalRequest) -> list[User]:
    """The people who may decide ``request`` (for notifications)."""
    query = select(User).where(User.active.is_(True), User.id != request.requested_by_id)
    if request.rule == USER:
        query = query.where(User.id == request.approver_id)
    else:
        query = query.where(User.id.in_(holders(request.approver_role or "")))
        if request.rule == MANAGER:
            query = query.where(User.id.in_(team_mates(request.requested_by_id)))
    return list(db.session.scalars(query.order_by(User.id)))


def managers_of(people: list[User]) -> list[User]:
    """Whom an overdue request goes to: holders of the manager role in the teams of the people
    who should have decided it (not those people), else holders of the fallback role."""
    ids = [p.id for p in people]
    mine, theirs = aliased(TeamMember), aliased(TeamMember)
    teams_of = (select(theirs.user_id).join(mine, mine.team_id == theirs.team_id)
                .where(mine.user_id.in_(ids))) if ids else select(User.id).where(false())
    base = select(User).where(User.active.is_(True), User.id.not_in(ids) if ids else true())
    found = list(db.session.scalars(base.where(User.id.in_(holders(manager_role())),
                                               User.id.in_(teams_of)).order_by(User.id)))
    if not found:
        found = list(db.session.scalars(base.where(User.id.in_(
            holders(str(setting("approvals.escalate_fallback_role"))))).order_by(User.id)))
    return found


# --- reading -----------------------------------------------------------------------------------


def spec_of(resource: str) -> Approvable:
    spec = approvables().get(resource)
    if spec is None:
        raise Invalid(_l("Nothing called %(name)s can be sent for approval.", name=resource),
                      "resource")
    return spec


def current_version(request: ApprovalRequest, record: Any = None) -> str | None:
    """The record's version now (``None`` when the record is gone)."""
    spec = approvables().get(request.resource)
    if spec is None:
        return None
    record = record if record is not None else spec.load(request.record_id, None)
    return None if record is None else spec.version(record)


def latest(resource: str, deal_id: int | None = None, record_id: int | None = None
           ) -> ApprovalRequest | None:
    """The newest request on a deal's records of ``resource`` (or on one record)."""
    query = select(ApprovalRequest).where(ApprovalRequest.resource == resource)
    if record_id is not None:
        query = query.where(ApprovalRequest.record_id == record_id)
    else:
        query = query.where(ApprovalRequest.deal_id == deal_id)
    return db.session.scalar(query.order_by(ApprovalRequest.id.desc()).limit(1))


def history(request_ids: list[int]) -> dict[int, list[Any]]:
    """The steps of these requests, oldest first, with who took them (one statement)."""
    out: dict[int, list[Any]] = {i: [] for i in request_ids}
    if not request_ids:
        return out
    who = aliased(User)
    rows = db.session.execute(
        select(ApprovalStep.request_id, ApprovalStep.action, ApprovalStep.at,
               ApprovalStep.comment, ApprovalStep.version,
               who.display_name, who.username)
        .outerjoin(who, who.id == ApprovalStep.by_id)
        .where(ApprovalStep.request_id.in_(request_ids))
        .order_by(ApprovalStep.request_id, ApprovalStep.id))
    for row in rows:
        out[row.request_id].append(row)
    return out


def queue_statement(user: Any, limit: int, after: int | None = None) -> Select[Any]:
    """The pending requests ``user`` may decide, oldest first: one index range per approver
    rule (UNION ALL, each ``LIMIT``), so 10k pending requests cost what ten do. Run it with
    :func:`queue_params`; the statement is built once per roles, page size and paging."""
    return _queue_statement(tuple(sorted(user.roles)), limit, after is not None)


def queue_params(user: Any, after: int | None = None) -> dict[str, Any]:
    return {"uid": user.id, "after": after or 0}


@lru_cache(maxsize=256)
def _queue_statement(roles: tuple[str, ...], limit: int, paged: bool) -> Select[Any]:
    r = ApprovalRequest
    uid = bindparam("uid", type_=Integer)
    mates = _team_mates_of(uid)
    branches = [select(r.id).where(r.approver_id == uid, r.status == PENDING)]
    if roles:
        branches.append(select(r.id).where(r.status == PENDING, r.rule == ROLE,
                                           r.approver_role.in_(roles)))
        branches.append(select(r.id).where(r.status == PENDING, r.rule == MANAGER,
                                           r.approver_role.in_(roles),
                                           r.requested_by_id.in_(mates)))
    parts = []
    for branch in branches:
        branch = branch.where(r.requested_by_id != uid)
        if paged:
            branch = branch.where(r.id > bindparam("after", type_=Integer))
        parts.append(branch.order_by(r.id).limit(written_limit(limit)).subquery())
    ids = union_all(*[select(p.c.id) for p in parts])
    return rows_statement(r.id.in_(ids)).order_by(r.id).limit(written_limit(limit))


def _team_mates_of(uid: Any) -> Select[Any]:
    mine, theirs = aliased(TeamMember), aliased(TeamMember)
    return (select(theirs.user_id).join(mine, mine.team_id == theirs.team_id)
            .where(mine.user_id == uid))


def mine_statement(limit: int, open_only: bool = False) -> Select[Any]:
    """The requests a user made (``uid`` bound), newest first."""
    return _mine_statement(limit, open_only)


@lru_cache(maxsize=32)
def _mine_statement(limit: int, open_only: bool) -> Select[Any]:
    r = ApprovalRequest
    criteria = [r.requested_by_id == bindparam("uid", type_=Integer)]
    if open_only:
        criteria.append(r.status.in_(OPEN))
    return rows_statement(*criteria).order_by(r.id.desc()).limit(written_limit(limit))


def rows_statement(*criteria: Any) -> Select[Any]:
    """What a queue row shows: the request's columns and the requester's name, one statement."""
    r, who = ApprovalRequest, aliased(User)
    return (select(r.id, r.resource, r.record_id, r.deal_id, r.title, r.url, r.status,
                   r.submitted_at, r.decided_at, r.rule, r.approver_role, r.version,
                   who.display_name.label("requester_name"),
                   who.username.label("requester_username"))
            .join(who, who.id == r.requested_by_id).where(*criteria))


# --- writing -----------------------------------------------------------------------------------


def _step(request: ApprovalRequest, action: str, by: Any, comment: str = "") -> ApprovalStep:
    step = ApprovalStep(request_id=request.id, action=action, by_id=getattr(by, "id", None),
                        at=utcnow(), version=request.version, comment=comment)
    db.session.add(step)
    return step


def request_approval(resource: str, record: Any, by: Any, approver: Approver | None = None,
                     note: str = "") -> ApprovalRequest:
    """Send ``record`` (its current version) for approval, or send an open request on it back
    to the approvers with the record's new version. The approvers are notified."""
    spec = spec_of(resource)
    version = spec.version(record)
    open_request = db.session.scalar(select(ApprovalRequest).where(
        ApprovalRequest.resource == resource, ApprovalRequest.record_id == record.id,
        ApprovalRequest.status.in_(OPEN)).with_for_update())
    # The rule is about the requester ("my manager"), also when someone else — the lawyer
    # uploading a revised file — sends an open request back.
    requester = by if open_request is None else (
        db.session.get(User, open_request.requested_by_id) or by)
    rule, role, user_id = resolve(approver or spec.approver, requester)
    now = utcnow()
    if open_request is not None:
        if open_request.status == PENDING and open_request.version == version:
            raise ApprovalError(_l("This version is already waiting for approval."))
        request, action = open_request, RESUBMITTED
        request.version, request.status, request.submitted_at = version, PENDING, now
        request.rule, request.approver_role, request.approver_id = rule, role, user_id
    else:
        request, action = ApprovalRequest(resource=resource, record_id=record.id,
                                          version=version, requested_by_id=by.id, rule=rule,
                                          approver_role=role, approver_id=user_id,
                                          status=PENDING, created_at=now,
                                          submitted_at=now), REQUESTED
        db.session.add(request)
    request.title = str(spec.title(record))[:200]
    request.url = str(spec.url(record))[:500]
    request.deal_id = spec.deal_id(record)
    request.note = note.strip()[:2000] if action == REQUESTED else request.note
    try:
        db.session.flush()
    except IntegrityError as error:  # another request on the record was opened meanwhile
        raise ApprovalError(_l("Someone sent this record for approval a moment ago.")) from error
    _step(request, action, by, note.strip()[:2000])
    _tell_approvers(request, by)
    return request


def approve(request: ApprovalRequest, by: Any, comment: str = "") -> ApprovalRequest:
    """Approve the request's version. Only an approver may; a record changed since it was
    sent, or a request decided meanwhile, is a 409."""
    _check_approver(request, by)
    if request.status != PENDING:
        raise ApprovalError(_l("This request was already decided (%(status)s).",
                               status=STATUS_LABELS[request.status]))
    if current_version(request) != request.version:
        raise ApprovalError(_l("The record changed after it was sent for approval; it must be "
                               "sent again."))
    _decide(request, APPROVED, by, comment)
    return request


def request_changes(request: ApprovalRequest, by: Any, comment: str) -> ApprovalRequest:
    """Send the request back with a comment saying what to change (required)."""
    _check_approver(request, by)
    if not (comment or "").strip():
        raise Invalid(_l("Say what needs to change."), "comment")
    if request.status != PENDING:
        raise ApprovalError(_l("This request was already decided (%(status)s).",
                               status=STATUS_LABELS[request.status]))
    _decide(request, CHANGES, by, comment.strip())
    return request


def withdraw(request: ApprovalRequest, by: Any, comment: str = "") -> ApprovalRequest:
    """The requester takes an open request back."""
    if request.requested_by_id != by.id:
        raise NotAllowed(_l("Only the requester can withdraw a request."))
    changed = db.session.execute(
        update(ApprovalRequest).where(ApprovalRequest.id == request.id,
                                      ApprovalRequest.status.in_(OPEN))
        .values(status=WITHDRAWN, decided_at=utcnow(), decided_by_id=by.id)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise ApprovalError(_l("Only an open request can be withdrawn."))
    db.session.refresh(request)
    _step(request, WITHDRAWN, by, (comment or "").strip()[:2000])
    return request


def _check_approver(request: ApprovalRequest, by: Any) -> None:
    if request.requested_by_id == by.id:
        raise NotAllowed(_l("You cannot approve your own request."))
    if not is_approver(request, by):
        raise NotAllowed(_l("You are not an approver of this request."))


def _decide(request: ApprovalRequest, status: str, by: Any, comment: str) -> None:
    """The conditional UPDATE: it changes the row only while it is still pending with the same
    version, so of two deciders at the same moment one wins and the other gets a 409."""
    now = utcnow()
    changed = db.session.execute(
        update(ApprovalRequest).where(ApprovalRequest.id == request.id,
                                      ApprovalRequest.status == PENDING,
                                      ApprovalRequest.version == request.version)
        .values(status=status, decided_at=now, decided_by_id=by.id)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.expire(request)
        raise ApprovalError(_l("Someone decided this request a moment ago."))
    db.session.refresh(request)
    _step(request, status, by, comment[:2000])
    _tell_requester(request, by)


# --- telling people ----------------------------------------------------------------------------


def _send(user: User, message: Any, url: str, kind: str, key: str) -> None:
    notify(user, message, url, kind)
    if user.email_notifications and user.email:
        send_mail(user, message, lambda: f"{message}\n\n{url}", key=key)


def request_url(request: ApprovalRequest) -> str:
    return f"/approvals/{request.id}"


def _tell_approvers(request: ApprovalRequest, by: Any) -> None:
    message = _l("%(who)s asks you to approve %(title)s.", who=by.label, title=request.title)
    for user in approvers_of(request):
        _send(user, message, request_url(request), "approvals.requested",
              f"approvals.requested:{request.id}:{request.submitted_at.timestamp():.0f}:{user.id}")


def _tell_requester(request: ApprovalRequest, by: Any) -> None:
    requester = db.session.get(User, request.requested_by_id)
    if requester is None:
        return
    if request.status == APPROVED:
        message = _l("%(who)s approved %(title)s.", who=by.label, title=request.title)
    else:
        message = _l("%(who)s sent %(title)s back for changes.", who=by.label,
                     title=request.title)
    _send(requester, message, request_url(request), f"approvals.{request.status}",
          f"approvals.decided:{request.id}:{request.status}:{request.decided_at}")


# --- overdue -----------------------------------------------------------------------------------


def working_days_before(now: datetime, days: int) -> datetime:
    """The moment ``days`` working days (Monday to Friday) before ``now``."""
    moment = now
    left = days
    while left > 0:
        moment -= timedelta(days=1)
        if moment.weekday() < 5:
            left -= 1
    return moment


def escalate_overdue(now: datetime | None = None) -> int:
    """The scheduled sweep (job ``approvals.escalate_overdue``): each pending request older than
    ``approvals.overdue_working_days`` is marked once and its approvers' managers are told in a
    job queued with the idempotency key ``approvals.overdue:<id>`` — notified once, however
    often the sweep runs. Returns how many requests it escalated."""
    from conveyor import enqueue

    now = now or utcnow()
    cutoff = working_days_before(now, int(setting("approvals.overdue_working_days")))
    ids = list(db.session.scalars(
        select(ApprovalRequest.id).where(ApprovalRequest.status == PENDING,
                                         ApprovalRequest.escalated_at.is_(None),
                                         ApprovalRequest.submitted_at < cutoff)
        .order_by(ApprovalRequest.id).limit(500)))
    done = 0
    for request_id in ids:
        marked = db.session.execute(
            update(ApprovalRequest).where(ApprovalRequest.id == request_id,
                                          ApprovalRequest.escalated_at.is_(None))
            .values(escalated_at=now).execution_options(synchronize_session=False)).rowcount
        if marked and enqueue("approvals.notify_overdue", key=f"approvals.overdue:{request_id}",
                              request_id=request_id) is not None:
            done += 1
    return done


def notify_overdue(request_id: int) -> None:
    """The job ``approvals.notify_overdue``: tell the managers of an overdue request's
    approvers, and note it in the request's history."""
    request = db.session.get(ApprovalRequest, request_id)
    if request is None or request.status != PENDING:
        return
    _step(request, ESCALATED, None)
    message = _l("%(title)s has waited for approval since %(since)s.", title=request.title,
                 since=request.submitted_at.strftime("%Y-%m-%d"))
    for user in managers_of(approvers_of(request)):
        _send(user, message, request_url(request), "approvals.overdue",
              f"approvals.overdue:{request.id}:{user.id}")
