"""/api/v1/pipelines and /api/v1/stages: read-only (admins edit the pipeline on the web).

Stage names are returned as stored; the web shows them through gettext.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Pipeline, Stage
from ..permissions import require
from .common import errors, id_rule, not_found
from .schemas import PipelineSchema, StageQuerySchema, StageSchema

blp = Blueprint("api_stages", __name__, url_prefix="/api/v1",
                description="The pipelines and their percentage stages.")
TAG = "stages"


@blp.route("/pipelines", tags=[TAG])
class Pipelines(MethodView):
    @require("deals.view")
    @errors(401, 403)
    @blp.response(200, PipelineSchema(many=True))
    def get(self) -> Any:
        """List pipelines with their stages

        A handful of rows: not paginated.
        """
        return list(db.session.scalars(select(Pipeline).options(selectinload(Pipeline.stages))
                                       .order_by(Pipeline.is_default.desc(), Pipeline.id)))


@blp.route(f"/pipelines/{id_rule('pipeline_id')}", tags=[TAG])
class PipelineItem(MethodView):
    @require("deals.view")
    @errors(401, 403, 404)
    @blp.response(200, PipelineSchema)
    def get(self, pipeline_id: int) -> Any:
        """Get a pipeline with its stages"""
        pipeline = db.session.get(Pipeline, pipeline_id)
        if pipeline is None:
            not_found("pipeline")
        return pipeline


@blp.route("/stages", tags=[TAG])
class Stages(MethodView):
    @require("deals.view")
    @errors(401, 403)
    @blp.arguments(StageQuerySchema, location="query")
    @blp.response(200, StageSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """List stages

        In pipeline order; `pipeline_id` narrows to one pipeline. Not paginated.
        """
        query = select(Stage).order_by(Stage.pipeline_id, Stage.position)
        if args.get("pipeline_id") is not None:
            query = query.where(Stage.pipeline_id == args["pipeline_id"])
        return list(db.session.scalars(query))


@blp.route(f"/stages/{id_rule('stage_id')}", tags=[TAG])
class StageItem(MethodView):
    @require("deals.view")
    @errors(401, 403, 404)
    @blp.response(200, StageSchema)
    def get(self, stage_id: int) -> Any:
        """Get a stage"""
        stage = db.session.get(Stage, stage_id)
        if stage is None:
            not_found("stage")
        return stage
