"""Referrals (邀请好友): share codes, recording at card opening, rewards, the views, voiding."""

from __future__ import annotations

from handlers.referrals.codes import code_for, normalise_code, share_path
from handlers.referrals.recording import record_referral, same_person
from handlers.referrals.rewards import reward_first_purchase, reward_key
from handlers.referrals.settings import (
    CurrentSettings,
    ReferralSettingsBody,
    current_settings,
    save_settings,
)
from handlers.referrals.views import (
    leaderboard,
    list_referrals,
    mask_name,
    member_referrals,
    staff_views,
)
from handlers.referrals.void import void_referral

__all__ = [
    "CurrentSettings",
    "ReferralSettingsBody",
    "code_for",
    "current_settings",
    "leaderboard",
    "list_referrals",
    "mask_name",
    "member_referrals",
    "normalise_code",
    "record_referral",
    "reward_first_purchase",
    "reward_key",
    "same_person",
    "save_settings",
    "share_path",
    "staff_views",
    "void_referral",
]
