"""WTForms of the groups screens: the filter builder, members, unsubscribes."""
from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from conveyor.i18n import _l, lazy_pgettext
from conveyor.models import COMPANY_SIZES

KIND_LABELS = {"customers": _l("Customers"), "leads": _l("Leads")}
MODE_LABELS = {"filter": _l("By a saved filter"), "manual": _l("Chosen by hand")}
FILTER_LABELS = {"industry": _l("Industry"), "region": _l("Region"), "size": _l("Company size"),
                 "owner_id": _l("Owner"), "has_open_deal": _l("Has an open deal"),
                 "created_from": _l("Created from"), "created_to": _l("Created to"),
                 "status": _l("Lead status"), "source": _l("Lead source")}
PUSH_LABELS = {"queued": _l("Queued"), "running": _l("Running"), "ok": _l("Sent"),
               "failed": _l("Failed")}


def optional_int(value: Any) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)


class GroupForm(FlaskForm):
    name = StringField(lazy_pgettext("thing", "Name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Members are"), choices=list(KIND_LABELS.items()))
    mode = SelectField(_l("Members are chosen"), choices=list(MODE_LABELS.items()))
    webhook_url = StringField(_l("Webhook address"), validators=[Optional(), Length(max=500)],
                              description=_l("The mailing service's address that receives the "
                                             "group as JSON batches (POST)."))
    # The filter builder: every field optional, all given ones must match.
    industry = StringField(_l("Industry"), validators=[Optional(), Length(max=80)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=80)])
    size = SelectField(_l("Company size"), choices=[("", "—")] + [(s, s) for s in COMPANY_SIZES],
                       validators=[Optional()])
    owner_id = SelectField(_l("Owner"), coerce=optional_int, validators=[Optional()])
    has_open_deal = SelectField(_l("Open deal"), choices=[
        ("", _l("Any")), ("yes", _l("Has an open deal")), ("no", _l("Has no open deal"))],
        validators=[Optional()])
    created_from = DateField(_l("Created from"), validators=[Optional()])
    created_to = DateField(_l("Created to"), validators=[Optional()])
    status = SelectField(_l("Lead status"), validators=[Optional()])
    source = StringField(_l("Lead source"), validators=[Optional(), Length(max=80)])

    FILTER_FIELDS = ("industry", "region", "size", "owner_id", "has_open_deal", "created_from",
                     "created_to", "status", "source")

    def filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in self.FILTER_FIELDS:
            value = getattr(self, key).data
            if key == "has_open_deal":
                value = {"yes": True, "no": False}.get(value or "")
            if key in ("status", "has_open_deal", "source") and self.kind.data != (
                    "leads" if key != "has_open_deal" else "customers"):
                continue
            if value not in (None, ""):
                out[key] = value
        return out

    def load_filters(self, filters: dict[str, Any]) -> None:
        from datetime import date

        for key, value in (filters or {}).items():
            if key == "has_open_deal":
                value = "yes" if value else "no"
            elif key in ("created_from", "created_to"):
                value = date.fromisoformat(value)
            if key in self.FILTER_FIELDS:
                getattr(self, key).data = value


class EntityForm(FlaskForm):
    entity_id = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=2147483647)])


class UnsubscribeForm(FlaskForm):
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])
