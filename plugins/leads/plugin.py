"""The leads plugin's manifest and hook implementations."""
from __future__ import annotations

from conveyor import Manifest
from conveyor.i18n import _l

manifest = Manifest(title=_l("Leads"))
