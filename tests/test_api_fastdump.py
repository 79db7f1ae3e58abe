"""The compiled dumpers answer exactly what marshmallow's dump of the same schema answers."""
from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import Schema, fields, pre_dump

from conveyor import db
from conveyor.api import schemas
from conveyor.api.fastdump import compiled
from conveyor.crm import create_customer, create_deal, move_deal
from conveyor.models import Contact, Deal, Pipeline, Stage, StageHistory, User

OUTPUT = [schemas.CustomerSchema, schemas.ContactSchema, schemas.StageSchema,
          schemas.PipelineSchema, schemas.DealSchema, schemas.HistorySchema, schemas.MeSchema,
          schemas.CustomerPageSchema, schemas.ContactPageSchema, schemas.DealPageSchema]


@pytest.fixture
def rows(app, users):
    with app.test_request_context():
        seller = db.session.get(User, users["seller"])
        customer = create_customer({"name": "Acme", "industry": "Steel", "tax_id": ""}, seller)
        db.session.add(Contact(customer_id=customer.id, name="Ann", email=None))
        deal = create_deal({"customer_id": customer.id, "title": "Mill",
                            "amount": Decimal("1250.50"), "margin": Decimal("-3.10")}, seller)
        won = db.session.query(Stage).filter(Stage.is_won.is_(True)).first()
        move_deal(deal, won, seller)
        db.session.commit()
        yield {"seller": seller, "customer": customer, "deal": deal}


def test_every_output_schema_dumps_the_same_compiled(app, rows):
    with app.test_request_context():
        deal = db.session.get(Deal, rows["deal"].id)
        customer = deal.customer
        pipeline = db.session.query(Pipeline).first()
        objects = {
            schemas.CustomerSchema: [customer],
            schemas.ContactSchema: list(customer.contacts),
            schemas.StageSchema: list(pipeline.stages),
            schemas.PipelineSchema: [{"id": pipeline.id, "name": pipeline.name,
                                      "is_default": True, "stages": list(pipeline.stages)}],
            schemas.DealSchema: [deal],
            schemas.HistorySchema: list(db.session.query(StageHistory)),
            schemas.MeSchema: [{"id": 1, "username": "x", "display_name": "X", "email": None,
                                "locale": None, "roles": ["seller"], "permissions": ["a"],
                                "scope": "own", "team_ids": [1, 2]}],
            schemas.CustomerPageSchema: [{"items": [customer], "pagination": {
                "page_size": 50, "before": None, "next_before": None, "next": None}}],
            schemas.ContactPageSchema: [{"items": list(customer.contacts), "pagination": {
                "page_size": 1, "before": 9, "next_before": 3, "next": "http://x/?before=3"}}],
            schemas.DealPageSchema: [{"items": [deal, deal], "pagination": {"page_size": 2}}],
        }
        assert set(objects) == set(OUTPUT)
        for schema, values in objects.items():
            assert values, schema
            for value in values:
                assert compiled(schema)(value) == schema().dump(value), schema.__name__


def test_plugin_fields_are_added_as_the_schema_adds_them(app, rows):
    from flask import g

    from conveyor.api.common import EXTRA_KEY

    with app.test_request_context():
        deal = db.session.get(Deal, rows["deal"].id)
        g.setdefault(EXTRA_KEY, {})["deal"] = {deal.id: {"relationship": "current",
                                                         "title": "not overwritten"}}
        got = compiled(schemas.DealSchema)(deal)
        assert got == schemas.DealSchema().dump(deal)
        assert got["relationship"] == "current" and got["title"] == "Mill"


def test_a_schema_it_cannot_compile_is_refused_not_dumped_differently():
    class Odd(Schema):
        x = fields.Integer()

        @pre_dump
        def change(self, data, **kwargs):
            return data

    with pytest.raises(TypeError):
        compiled(Odd)
