"""How a coupon reads: its code, its validity dates, the words that describe it, its status.

A code is what a cashier types or scans: 12 characters of Crockford base32 (60 random bits
from `secrets`), shown in groups of four. Reading a code forgives case, spaces, dashes and the
letters Crockford maps to digits (O is 0, I and L are 1).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.localtime import local_midnight
from wxmember.core.models.coupons import (
    Coupon,
    CouponKind,
    CouponSource,
    CouponStatus,
    CouponTemplate,
)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_ALLOWED = frozenset(ALPHABET)


def new_code() -> str:
    """A fresh random coupon code (not yet known to be unique: the database decides)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def display_code(code: str) -> str:
    """`ABCD-EFGH-JKMN`: easier to read aloud and to type."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_code(raw: str) -> str:
    """The stored form of a typed or scanned code; a 400 when it cannot be a coupon code."""
    code = raw.upper().replace("-", "").replace(" ", "").translate(_CONFUSABLE)
    if len(code) != CODE_LENGTH or not set(code) <= _ALLOWED:
        raise ValidationFailed(
            "A coupon code has 12 letters and digits, like ABCD-EFGH-JKMN.", code="invalid_code"
        )
    return code


def validity_for(
    template: CouponTemplate, now: datetime, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    """When a coupon of this template obtained at `now` may be used: [from, until).

    With `valid_days` N the claim day counts as day 1 and the coupon lasts until local midnight
    at the end of day N; otherwise the template's fixed dates apply.
    """
    if template.valid_days is not None:
        last_day = now.astimezone(tz).date() + timedelta(days=template.valid_days)
        return now, local_midnight(last_day, tz)
    if template.valid_from is None or template.valid_until is None:
        raise ValueError(f"coupon template {template.id} has no validity")
    return template.valid_from, template.valid_until


def yuan(fen: int) -> str:
    """1000 -> "10", 1050 -> "10.5", 999 -> "9.99"."""
    whole, cents = divmod(fen, 100)
    return str(whole) if cents == 0 else f"{whole}.{cents:02d}".rstrip("0")


def describe(
    kind: CouponKind | str, value: int, threshold_fen: int, max_discount_fen: int | None
) -> str:
    """How the mini-program and the cashier say what a coupon does: 满50减10, 满100享9折, ..."""
    condition = f"满{yuan(threshold_fen)}" if threshold_fen else ""
    if kind == CouponKind.CASH:
        return f"{condition or '无门槛'}减{yuan(value)}"
    if kind == CouponKind.DISCOUNT:
        rate = 100 - value
        text = f"{rate // 10}折" if rate % 10 == 0 else f"{rate / 10:g}折"
        if condition:
            text = f"{condition}享{text}"
        if max_discount_fen is not None:
            text += f"，最高减{yuan(max_discount_fen)}"
        return text
    return f"{condition}赠礼品" if condition else "礼品券"


def discount_for(template: CouponTemplate, order_amount_fen: int) -> int:
    """Fen off an order: cash capped at the order; a discount rounded down and capped; gift 0."""
    if template.kind == CouponKind.CASH:
        return min(template.value, order_amount_fen)
    if template.kind == CouponKind.DISCOUNT:
        off = order_amount_fen * template.value // 100
        if template.max_discount_fen is not None:
            off = min(off, template.max_discount_fen)
        return off
    return 0


def effective_status(coupon: Coupon, now: datetime) -> CouponStatus:
    """What a member sees: an unused coupon past its validity is expired, marked or not."""
    status = CouponStatus(coupon.status)
    if status == CouponStatus.UNUSED and coupon.valid_until <= now:
        return CouponStatus.EXPIRED
    return status


def coupon_public(services: Services, coupon: Coupon, template: CouponTemplate) -> dict[str, Any]:
    """A coupon as members and cashiers see it, dates in the brand's time zone."""
    tz = services.config.brand.tz
    now = services.clock.now()
    return {
        "id": coupon.id,
        "code": coupon.code,
        "code_display": display_code(coupon.code),
        "template_id": template.id,
        "title": template.title,
        "kind": CouponKind(template.kind).value,
        "value": template.value,
        "threshold_fen": template.threshold_fen,
        "max_discount_fen": template.max_discount_fen,
        "description": describe(
            template.kind, template.value, template.threshold_fen, template.max_discount_fen
        ),
        "terms": template.terms,
        "status": effective_status(coupon, now).value,
        "usable_now": effective_status(coupon, now) == CouponStatus.UNUSED
        and coupon.valid_from <= now,
        "valid_from": coupon.valid_from.astimezone(tz).isoformat(),
        "valid_until": coupon.valid_until.astimezone(tz).isoformat(),
        "source": CouponSource(coupon.source).value,
        "obtained_at": coupon.created_at.astimezone(tz).isoformat(),
        "used_at": coupon.used_at.astimezone(tz).isoformat() if coupon.used_at else None,
        "order_no": coupon.order_no,
        "discount_fen": coupon.discount_fen,
    }
