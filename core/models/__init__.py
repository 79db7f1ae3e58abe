"""The core's tables. Plugins own theirs, prefixed with the plugin's name."""
from .audit import AuditEntry
from .customers import COMPANY_SIZES, Contact, Customer
from .deals import AppendOnlyError, Deal, DealStageTotal, Pipeline, Stage, StageHistory
from .money import ExchangeRate
from .notifications import Notification
from .outbox import OutboxMessage
from .stamps import ChangeStamp
from .timeline import TimelineEntry
from .users import ApiToken, RoleSetting, Team, TeamMember, User, UserRole

__all__ = [
    "ApiToken", "AppendOnlyError", "AuditEntry", "COMPANY_SIZES", "ChangeStamp", "Contact",
    "Customer", "Deal", "DealStageTotal", "ExchangeRate", "Notification", "OutboxMessage",
    "Pipeline", "RoleSetting", "Stage", "StageHistory",
    "Team", "TeamMember", "TimelineEntry", "User", "UserRole",
]
