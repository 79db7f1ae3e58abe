"""Marshmallow schemas of the funnel API. Amounts are decimal strings ("1250.00")."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

MONEY = {"as_string": True, "places": 2}
MONEY_IN = {"as_string": True}  # never rounded on the way in: the service refuses > 2 places


class FunnelScopeArgs(Schema):
    owner = fields.String(load_default=None, metadata={
        "description": "me, all, or a user id (default: your teams for a manager, you for a "
                       "seller, everyone for an admin)"})
    team = fields.Integer(load_default=None, validate=validate.Range(1, 2147483647))
    start = fields.Date(data_key="from", load_default=None,
                        metadata={"description": "first day, inclusive (default: this month)"})
    end = fields.Date(data_key="to", load_default=None,
                      metadata={"description": "last day, inclusive"})
    pipeline = fields.Integer(load_default=None, validate=validate.Range(1, 2147483647))


class FunnelStageSchema(Schema):
    stage_id = fields.Integer()
    name = fields.String()
    percent = fields.Integer()
    kind = fields.String(metadata={"description": "open | won | lost"})
    count = fields.Integer(metadata={"description": "open stage: deals in it now; won/lost: "
                                                    "deals closed there in the period"})
    amount = fields.Decimal(**MONEY, metadata={
        "description": "in the company currency (the response's `currency`): open deals at "
                       "today's rate, closed ones at the rate of the day they closed"})
    weighted_amount = fields.Decimal(**MONEY, metadata={
        "description": "amount × the stage's percent, in the company currency"})
    missing_currencies = fields.List(fields.String(), metadata={
        "description": "currencies of deals in this row without an exchange rate: their "
                       "amounts are not in `amount` (never counted as 0)"})
    reached = fields.Integer(allow_none=True, metadata={
        "description": "deals that reached this stage or a later one in the period"})


class FunnelPeriodSchema(Schema):
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    kind = fields.String()


class FunnelScopeSchema(Schema):
    kind = fields.String()
    label = fields.String()
    owner_ids = fields.List(fields.Integer(), allow_none=True)


class FunnelFiguresSchema(Schema):
    pipeline_id = fields.Integer()
    period = fields.Nested(FunnelPeriodSchema)
    scope = fields.Nested(FunnelScopeSchema)
    currency = fields.String(metadata={"description": "the company currency, in which every "
                                                      "amount is given"})
    stages = fields.List(fields.Nested(FunnelStageSchema))
    not_funnel_shaped = fields.List(fields.Dict(), metadata={
        "description": "steps where a later stage holds more open deals than the one before"})


class FunnelStepSchema(Schema):
    from_stage_id = fields.Integer()
    to_stage_id = fields.Integer()
    entered = fields.Integer()
    passed = fields.Integer()
    dropped = fields.Integer()
    rate = fields.Float(allow_none=True)


class FunnelConversionSchema(Schema):
    period = fields.Nested(FunnelPeriodSchema)
    steps = fields.List(fields.Nested(FunnelStepSchema))
    overall = fields.Nested(FunnelStepSchema, allow_none=True)
    worst_step = fields.Nested(FunnelStepSchema, allow_none=True)
    won = fields.Integer()
    lost = fields.Integer()
    win_rate = fields.Float(allow_none=True)
    currency = fields.String(metadata={"description": "the company currency of the amounts"})
    won_amount = fields.Decimal(**MONEY)
    lost_amount = fields.Decimal(**MONEY)
    missing_currencies = fields.List(fields.String())
    cycle_median_days = fields.Float(allow_none=True)
    cycle_mean_days = fields.Float(allow_none=True)
    lost_reasons = fields.List(fields.Dict())


class FunnelDwellRowSchema(Schema):
    stage_id = fields.Integer()
    name = fields.String()
    stays = fields.Integer()
    median_days = fields.Float(allow_none=True)
    p90_days = fields.Float(allow_none=True)
    mean_days = fields.Float(allow_none=True)
    stalled_after_days = fields.Float(allow_none=True)
    threshold_source = fields.String(allow_none=True)


class FunnelDwellSchema(Schema):
    period = fields.Nested(FunnelPeriodSchema)
    stages = fields.List(fields.Nested(FunnelDwellRowSchema))


class FunnelStalledSchema(Schema):
    total = fields.Integer()
    deals = fields.List(fields.Dict())


class FunnelFiveSchema(Schema):
    period = fields.Nested(FunnelPeriodSchema)
    previous = fields.Nested(FunnelPeriodSchema)
    currency = fields.String(metadata={"description": "the company currency of the amounts"})
    leads_available = fields.Boolean()
    visits_available = fields.Boolean()
    sellers = fields.List(fields.Dict())
    total = fields.Dict()


class FunnelShareSchema(Schema):
    user_id = fields.Integer(required=True, validate=validate.Range(1, 2147483647))
    volume = fields.Decimal(required=True, **MONEY_IN)
    margin = fields.Decimal(required=True, **MONEY_IN)


class FunnelTargetInSchema(Schema):
    user_id = fields.Integer(load_default=None, validate=validate.Range(1, 2147483647))
    team_id = fields.Integer(load_default=None, validate=validate.Range(1, 2147483647))
    period_kind = fields.String(required=True,
                                validate=validate.OneOf(["month", "quarter", "year"]))
    period_start = fields.Date(required=True, metadata={"description": "any day of the period"})
    volume = fields.Decimal(required=True, **MONEY_IN)
    margin = fields.Decimal(required=True, **MONEY_IN)
    currency = fields.String(load_default="", validate=validate.Regexp(r"^([A-Za-z]{3})?$"))
    shares = fields.List(fields.Nested(FunnelShareSchema), load_default=None, metadata={
        "description": "a team target's split; omitted: an even split between its sellers"})

    @validates_schema
    def one_subject(self, data: dict, **kwargs: object) -> None:
        if (data.get("user_id") is None) == (data.get("team_id") is None):
            raise ValidationError("Give either user_id or team_id.", "user_id")
        if data.get("user_id") is not None and data.get("shares") is not None:
            raise ValidationError("Only a team target has shares.", "shares")


class FunnelTargetUpdateSchema(Schema):
    volume = fields.Decimal(required=True, **MONEY_IN)
    margin = fields.Decimal(required=True, **MONEY_IN)
    currency = fields.String(load_default="", validate=validate.Regexp(r"^([A-Za-z]{3})?$"))
    shares = fields.List(fields.Nested(FunnelShareSchema), load_default=None)


class FunnelTargetSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    team_id = fields.Integer(allow_none=True)
    parent_id = fields.Integer(allow_none=True)
    period_kind = fields.String()
    period_start = fields.Date()
    volume = fields.Decimal(**MONEY)
    margin = fields.Decimal(**MONEY)
    currency = fields.String()


class FunnelTargetsArgs(FunnelScopeArgs):
    pass


class FunnelPlanSchema(Schema):
    period = fields.Nested(FunnelPeriodSchema)
    fulfilment_source = fields.String()
    rows = fields.List(fields.Dict())
    targets = fields.List(fields.Nested(FunnelTargetSchema))
