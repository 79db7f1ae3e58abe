"""The default pipeline: stages named by how far the sale has got (SalesMan CRM's scale)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .i18n import _l
from .models import Pipeline, Stage

# (name, percent, is_won, is_lost). Names are stored in English and shown through gettext,
# so a renamed stage simply shows its new name.
DEFAULT_STAGES: list[tuple[str, int, bool, bool]] = [
    ("Request / interest", 0, False, False),
    ("Meeting or presentation held", 10, False, False),
    ("Proposal under review", 20, False, False),
    ("Negotiation", 40, False, False),
    ("Contract being concluded", 60, False, False),
    ("Contract signed, invoice issued", 70, False, False),
    ("Payment or prepayment received", 80, False, False),
    ("Fulfilment", 90, False, False),
    ("Closing documents", 100, False, False),
    ("Closed — won", 100, True, False),
    ("Closed — lost", 0, False, True),
]
_TRANSLATABLE = [_l("Request / interest"), _l("Meeting or presentation held"),
                 _l("Proposal under review"), _l("Negotiation"), _l("Contract being concluded"),
                 _l("Contract signed, invoice issued"), _l("Payment or prepayment received"),
                 _l("Fulfilment"), _l("Closing documents"), _l("Closed — won"),
                 _l("Closed — lost"), _l("Sales")]


def ensure_default_pipeline(session: Session) -> Pipeline:
    """Create the default pipeline once; a database that has one is left alone."""
    existing = session.scalar(select(Pipeline).where(Pipeline.is_default.is_(True)))
    if existing is not None:
        return existing
    pipeline = Pipeline(name="Sales", is_default=True)
    for position, (name, percent, won, lost) in enumerate(DEFAULT_STAGES):
        pipeline.stages.append(Stage(name=name, percent=percent, position=position, is_won=won,
                                     is_lost=lost))
    session.add(pipeline)
    session.flush()
    return pipeline
