"""What members and staff see of referrals: the member's own page, the staff list, the
monthly leaderboard."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count

from handlers.referrals.codes import code_for, share_path
from handlers.referrals.settings import current_settings
from wxmember.core.context import Services
from wxmember.core.kernel import continue_after
from wxmember.core.models import Member, Operator
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.referrals import Referral, ReferralReward, ReferralStatus
from wxmember.core.security import mask_phone

SHOWN = 50
LEADERBOARD_SIZE = 50


def mask_name(name: str | None) -> str:
    """A name as another member sees it: the first character, then stars (`李*`)."""
    if not name:
        return "*"
    return name[0] + "*" * max(1, min(len(name) - 1, 3))


async def _titles(template_ids: set[int]) -> dict[int, str]:
    if not template_ids:
        return {}
    rows = await CouponTemplate.filter(id__in=template_ids).values_list("id", "title")
    return {template_id: title for template_id, title in rows}


def _reward_public(reward: ReferralReward, titles: dict[int, str]) -> dict[str, Any]:
    template_id = reward.coupon_template_id
    return {
        "id": reward.id,
        "referral_id": reward.referral_id,
        "side": reward.side,
        "kind": reward.kind,
        "points": reward.points,
        "coupon_template_id": template_id,
        "coupon_title": titles.get(template_id) if template_id is not None else None,
        "state": str(reward.state),
        "error": reward.error,
        "paid_at": reward.paid_at.isoformat() if reward.paid_at else None,
    }


async def member_referrals(services: Services, member: Member) -> dict[str, Any]:
    """The member's page: share code and path, the offer, invitations and rewards."""
    code = await code_for(services, member)
    settings = await current_settings()
    made = Referral.filter(referrer_id=member.id)
    invitations = await made.order_by("-id").limit(SHOWN)
    names = dict(
        await Member.filter(id__in=[row.invitee_id for row in invitations]).values_list(
            "id", "name"
        )
    )
    rewards = await ReferralReward.filter(member_id=member.id).order_by("-id").limit(SHOWN)
    offered = {settings.referrer_coupon_template_id, settings.invitee_coupon_template_id}
    wanted = {reward.coupon_template_id for reward in rewards} | offered
    titles = await _titles({template_id for template_id in wanted if template_id is not None})

    def offer(side: str) -> dict[str, Any]:
        amount, template_id = settings.rewards(side)
        title = titles.get(template_id) if template_id is not None else None
        return {"points": amount, "coupon_template_id": template_id, "coupon_title": title}

    return {
        "enabled": settings.enabled,
        "code": code,
        "path": share_path(code),
        "reward_on": settings.reward_on,
        "monthly_limit": settings.monthly_limit,
        "offer": {"referrer": offer("referrer"), "invitee": offer("invitee")},
        "invited_by_me": await made.count(),
        "invitations": [
            {
                "id": row.id,
                "invitee_name": mask_name(names.get(row.invitee_id)),
                "status": str(row.status),
                "referrer_rewarded": row.referrer_rewarded,
                "created_at": row.created_at.isoformat(),
            }
            for row in invitations
        ],
        "rewards": [_reward_public(reward, titles) for reward in rewards],
    }


# ----------------------------------------------------------------- staff


async def _briefs(services: Services, member_ids: set[int]) -> dict[int, dict[str, Any]]:
    members = await Member.filter(id__in=member_ids)
    return {
        member.id: {
            "id": member.id,
            "name": member.name,
            "card_no": member.card_no,
            "phone": mask_phone(services.cipher.decrypt(member.phone_enc))
            if member.phone_enc
            else None,
        }
        for member in members
    }


def _gone(member_id: int) -> dict[str, Any]:
    return {"id": member_id, "name": None, "card_no": None, "phone": None}


async def staff_views(services: Services, referrals: list[Referral]) -> list[dict[str, Any]]:
    """Referrals as staff see them: both members (phones masked), the rewards, who voided."""
    ids = [row.id for row in referrals]
    members = await _briefs(
        services, {row.referrer_id for row in referrals} | {row.invitee_id for row in referrals}
    )
    rewards: dict[int, list[ReferralReward]] = defaultdict(list)
    for reward in await ReferralReward.filter(referral_id__in=ids).order_by("id"):
        rewards[reward.referral_id].append(reward)
    template_ids = {
        reward.coupon_template_id
        for rows in rewards.values()
        for reward in rows
        if reward.coupon_template_id is not None
    }
    titles = await _titles(template_ids)
    voiders = {row.voided_by_id for row in referrals if row.voided_by_id is not None}
    usernames = dict(await Operator.filter(id__in=voiders).values_list("id", "username"))
    return [
        {
            "id": row.id,
            "referrer": members.get(row.referrer_id) or _gone(row.referrer_id),
            "invitee": members.get(row.invitee_id) or _gone(row.invitee_id),
            "status": str(row.status),
            "reward_on": str(row.reward_on),
            "referrer_rewarded": row.referrer_rewarded,
            "month": row.month.isoformat(),
            "created_at": row.created_at.isoformat(),
            "rewarded_at": row.rewarded_at.isoformat() if row.rewarded_at else None,
            "voided_at": row.voided_at.isoformat() if row.voided_at else None,
            "voided_by": usernames.get(row.voided_by_id) if row.voided_by_id else None,
            "void_reason": row.void_reason,
            "rewards": [_reward_public(reward, titles) for reward in rewards[row.id]],
        }
        for row in referrals
    ]


async def list_referrals(
    *,
    cursor: int | None,
    limit: int,
    status: ReferralStatus | None = None,
    referrer_id: int | None = None,
    month: date | None = None,
) -> list[Referral]:
    """Referrals newest first, optionally of one status, referrer or local month."""
    query = Referral.all()
    if status is not None:
        query = query.filter(status=status)
    if referrer_id is not None:
        query = query.filter(referrer_id=referrer_id)
    if month is not None:
        query = query.filter(month=month)
    return await continue_after(query, cursor).order_by("-id").limit(limit)


async def leaderboard(services: Services, month: date) -> list[dict[str, Any]]:
    """The month's top referrers by referrals recorded (voided ones counted apart)."""
    rows = (
        await Referral.filter(month=month)
        .annotate(
            total=Count("id", _filter=~Q(status=ReferralStatus.VOID)),
            rewarded=Count(
                "id", _filter=Q(referrer_rewarded=True) & ~Q(status=ReferralStatus.VOID)
            ),
            voided=Count("id", _filter=Q(status=ReferralStatus.VOID)),
        )
        .group_by("referrer_id")
        .order_by("-total", "referrer_id")
        .limit(LEADERBOARD_SIZE)
        .values("referrer_id", "total", "rewarded", "voided")
    )
    members = await _briefs(services, {row["referrer_id"] for row in rows})
    return [
        {
            "rank": rank,
            "referrer": members.get(row["referrer_id"]) or _gone(row["referrer_id"]),
            "referrals": row["total"],
            "rewarded": row["rewarded"],
            "voided": row["voided"],
        }
        for rank, row in enumerate(rows, start=1)
    ]
