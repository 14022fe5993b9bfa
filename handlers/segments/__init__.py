"""Segments: each card holder's RFM (recency, frequency, monetary value), scores and segment,
computed by a daily run, with a monthly snapshot of how members moved between segments.
"""

from __future__ import annotations

from handlers.segments.overview import (
    Movement,
    Sizes,
    forget_rfm,
    member_rfm,
    monthly_sizes,
    movement,
    rfm_of,
    rfm_public,
    runs,
    sizes_now,
    snapshot_months,
)
from handlers.segments.rules import LABELS, Cuts, Segment, label, segments_public
from handlers.segments.run import RfmReport, run_for_staff, run_rfm, take_snapshot
from handlers.segments.settings import (
    CurrentSettings,
    RfmSettingsBody,
    Thresholds,
    current_settings,
    save_settings,
)

__all__ = [
    "LABELS",
    "CurrentSettings",
    "Cuts",
    "Movement",
    "RfmReport",
    "RfmSettingsBody",
    "Segment",
    "Sizes",
    "Thresholds",
    "current_settings",
    "forget_rfm",
    "label",
    "member_rfm",
    "monthly_sizes",
    "movement",
    "rfm_of",
    "rfm_public",
    "run_for_staff",
    "run_rfm",
    "runs",
    "save_settings",
    "segments_public",
    "sizes_now",
    "snapshot_months",
    "take_snapshot",
]
