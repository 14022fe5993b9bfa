"""The answers about referrals, for the mini-program and the staff API alike."""

from __future__ import annotations

from datetime import date, datetime

from wxmember.core.answers import Answer


class RewardOffer(Answer):
    """What one side gets for a referral: points (0: none) and a coupon (null: none)."""

    points: int
    coupon_template_id: int | None
    coupon_title: str | None


class ReferralOffer(Answer):
    referrer: RewardOffer
    invitee: RewardOffer


class Invitation(Answer):
    """Someone the member invited, as little as the member needs: a masked name."""

    id: int
    invitee_name: str
    status: str
    referrer_rewarded: bool
    created_at: datetime


class ReferralRewardShown(Answer):
    """One reward of a referral: points or a coupon, for the referrer or the invitee."""

    id: int
    referral_id: int
    side: str
    kind: str
    points: int | None
    coupon_template_id: int | None
    coupon_title: str | None
    state: str
    error: str | None
    paid_at: datetime | None


class MyReferrals(Answer):
    """The member's share code and path, the offer, their invitations and rewards (the newest
    50 of each); `invited_by_me` counts every invitation."""

    enabled: bool
    code: str
    path: str
    reward_on: str
    monthly_limit: int
    offer: ReferralOffer
    invited_by_me: int
    invitations: list[Invitation]
    rewards: list[ReferralRewardShown]


class ReferralSettingsShown(Answer):
    """The referral settings in force (version 0: never saved, referrals off)."""

    enabled: bool
    reward_on: str
    referrer_points: int
    referrer_coupon_template_id: int | None
    invitee_points: int
    invitee_coupon_template_id: int | None
    monthly_limit: int
    version: int
    updated_at: datetime | None
    operator_id: int | None


class ReferralMemberBrief(Answer):
    """A member as staff see them in referral lists: the phone masked."""

    id: int
    name: str | None
    card_no: str | None
    phone: str | None


class StaffReferral(Answer):
    """A referral with both members and its rewards, as staff see it."""

    id: int
    referrer: ReferralMemberBrief
    invitee: ReferralMemberBrief
    status: str
    reward_on: str
    referrer_rewarded: bool
    month: date
    created_at: datetime
    rewarded_at: datetime | None
    voided_at: datetime | None
    voided_by: str | None
    void_reason: str | None
    rewards: list[ReferralRewardShown]


class StaffReferralPage(Answer):
    items: list[StaffReferral]
    next_cursor: str | None


class LeaderboardRow(Answer):
    """A referrer's referrals in the month: all recorded, rewarding them, voided."""

    rank: int
    referrer: ReferralMemberBrief
    referrals: int
    rewarded: int
    voided: int


class Leaderboard(Answer):
    month: date
    rows: list[LeaderboardRow]
