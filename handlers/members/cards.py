"""Members and their cards: opening a card, what the card shows, finding a member at the till.

A member exists from their first WeChat login (`handlers.members.sessions`); opening the card
adds the personal fields, a random card number, the entry tier, the secret of the dynamic member
code and the welcome gift, all in one transaction. Once only: a conditional update on `card_no
IS NULL` decides between concurrent requests; unique columns decide between members (card
number, phone hash). A phone that matches a member moved in from another system claims that
member instead (`handlers.members.claims`).

Phone numbers are kept encrypted (`services.cipher`) with a keyed hash beside them for
uniqueness and look-up; everything shown leaves masked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from handlers import points, referrals
from handlers.members.claims import claim_imported
from handlers.members.member_code import new_code_secret, resolve_member_code
from handlers.members.numbers import card_no_in_face_payload, is_card_number, new_card_number
from handlers.tiers.growth import entry_tier
from wxmember.core.context import Services
from wxmember.core.errors import (
    CardNumberNotAccepted,
    Conflict,
    DomainError,
    MemberNotFound,
    TooManyRequests,
    UpstreamUnavailable,
    ValidationFailed,
)
from wxmember.core.inputs import clean_text
from wxmember.core.kernel import LockedMember, get_member, lock_member
from wxmember.core.localtime import local_today
from wxmember.core.models import Member, Tier
from wxmember.core.security import mask_phone
from wxmember.core.wechat import WeChatCodeError, WeChatError, WeChatRateLimited

log = logging.getLogger(__name__)

GENDERS = ("male", "female", "undisclosed")
NAME_MAX_LENGTH = 32
MAX_AGE = 120
MAX_BIRTHDAY_CHANGES = 1
CARD_NO_ATTEMPTS = 5


# ----------------------------------------------------------------- field rules


def clean_name(raw: str) -> str:
    """A name as typed text (`clean_text`): 1..32 characters, no control characters."""
    try:
        name = clean_text(raw)
    except ValueError:
        raise ValidationFailed(
            "name: no control or invisible characters.",
            code="invalid_name",
            details={"field": "name"},
        ) from None
    if not 1 <= len(name) <= NAME_MAX_LENGTH:
        raise ValidationFailed(
            f"name: 1 to {NAME_MAX_LENGTH} characters.",
            code="invalid_name",
            details={"field": "name"},
        )
    return name


def age_on(birthday: date, today: date) -> int:
    """Whole years of age on `today`."""
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def check_birthday(services: Services, birthday: date) -> date:
    """A birthday not in the future (brand's time zone) and at most 120 years back."""
    today = local_today(services)
    if birthday > today or age_on(birthday, today) > MAX_AGE:
        raise ValidationFailed(
            f"birthday: a past date, age 0 to {MAX_AGE}.",
            code="invalid_birthday",
            details={"field": "birthday"},
        )
    return birthday


def check_gender(gender: str | None) -> str | None:
    """One of GENDERS, or None when not given."""
    if gender is not None and gender not in GENDERS:
        raise ValidationFailed(
            f"gender: one of {', '.join(GENDERS)}.",
            code="invalid_gender",
            details={"field": "gender"},
        )
    return gender


def normalise_phone(pure: str, country_code: str | int | None) -> str:
    """Mainland numbers as the 11 digits, others as `+<country><number>`."""
    country = str(country_code or "86").lstrip("+")
    return pure if country == "86" else f"+{country}{pure}"


# ----------------------------------------------------------------- WeChat refusals


def wechat_refusal(exc: WeChatError, code_errors: dict[int, DomainError]) -> DomainError:
    """The domain error for a failed WeChat call; `code_errors` maps the caller's code errcodes."""
    if isinstance(exc, WeChatCodeError) and exc.errcode in code_errors:
        return code_errors[exc.errcode]
    if isinstance(exc, WeChatRateLimited):
        return TooManyRequests(
            "WeChat asks us to slow down; try again in a minute.", code="wechat_rate_limited"
        )
    log.warning("WeChat call failed", extra={"endpoint": exc.endpoint, "errcode": exc.errcode})
    return UpstreamUnavailable(
        "WeChat is not answering right now; try again shortly.", code="wechat_unavailable"
    )


async def resolve_phone(services: Services, member: Member, phone_code: str) -> str:
    """The phone number behind a getPhoneNumber code (checked against the member's openid)."""
    invalid = ValidationFailed(
        "phone_code: WeChat does not recognise this code; ask for the number again.",
        code="invalid_phone_code",
        details={"field": "phone_code"},
    )
    try:
        info = await services.miniapp.get_phone_number(phone_code, openid=member.openid)
    except WeChatError as exc:
        raise wechat_refusal(exc, {40029: invalid, 40163: invalid}) from None
    pure = info.get("purePhoneNumber") or info.get("phoneNumber")
    if not isinstance(pure, str) or not pure.lstrip("+").isdigit():
        log.warning("WeChat phone answer without a number")
        raise UpstreamUnavailable("WeChat gave no phone number.", code="wechat_unavailable")
    return normalise_phone(pure.lstrip("+"), info.get("countryCode"))


# ----------------------------------------------------------------- views of a member


def card_face_cache_key(member_id: int) -> str:
    """Where the drawn card face of a member is cached (it shows the name and card number)."""
    return f"wxmember:cardface:{member_id}"


def phone_of(services: Services, member: Member) -> str | None:
    """The member's phone number in full (for the member themself and revealed views)."""
    return services.cipher.decrypt(member.phone_enc) if member.phone_enc else None


def masked_phone(services: Services, member: Member) -> str | None:
    """The member's phone number as every view shows it: `138****5678`."""
    return mask_phone(phone_of(services, member))


async def tier_of(member: Member) -> Tier | None:
    """The member's tier, fetched if it was not loaded with the member."""
    tier = member.tier
    if tier is None or isinstance(tier, Tier):
        return tier
    return await tier


def tier_view(tier: Tier | None) -> dict[str, Any] | None:
    """A tier as shown beside a member: id, name, level, colour."""
    if tier is None:
        return None
    return {"id": tier.id, "name": tier.name, "level": tier.level, "color": tier.color}


def profile_view(services: Services, member: Member) -> dict[str, Any]:
    """The member as the mini-program sees them (phone masked; no openid, no secrets)."""
    return {
        "id": member.id,
        "name": member.name,
        "gender": member.gender,
        "birthday": member.birthday.isoformat() if member.birthday else None,
        "birthday_changeable": member.birthday_changes < MAX_BIRTHDAY_CHANGES,
        "phone": masked_phone(services, member),
        "has_card": member.has_card,
        "card_no": member.card_no,
    }


async def card_view(services: Services, member: Member) -> dict[str, Any]:
    """The card as shown in the mini-program (phone masked); 409 `card_required` before it."""
    member.require_card()
    return {
        "card_no": member.card_no,
        "tier": tier_view(await tier_of(member)),
        "points": member.points_balance,
        "growth": member.growth_total,
        "name": member.name,
        "gender": member.gender,
        "birthday": member.birthday.isoformat() if member.birthday else None,
        "phone": masked_phone(services, member),
        "opened_at": member.card_opened_at.isoformat() if member.card_opened_at else None,
    }


async def load_member(member_id: int) -> Member:
    """A live member with their tier; 404 `member_not_found` otherwise."""
    return await get_member(member_id, with_tier=True)


# ----------------------------------------------------------------- opening the card


async def _card_exists(services: Services, member_id: int) -> DomainError:
    existing = await load_member(member_id)
    if existing.card_no is None:
        return MemberNotFound()
    return Conflict(
        "You already hold a member card.",
        code="card_exists",
        details={"card": await card_view(services, existing)},
    )


async def _phone_taken(member_id: int, phone_hash: str) -> bool:
    return await Member.filter(phone_hash=phone_hash).exclude(id=member_id).exists()


def _phone_taken_error() -> Conflict:
    return Conflict("This phone number belongs to another member card.", code="phone_taken")


async def _welcome_gift(services: Services, account: LockedMember) -> None:
    amount = services.config.points.welcome_points
    if amount > 0:
        await points.earn(
            services,
            account,
            amount,
            reason="welcome",
            idempotency_key=f"welcome:{account.id}",
        )


async def open_card(
    services: Services,
    member: Member,
    *,
    name: str,
    birthday: date,
    gender: str | None = None,
    phone_code: str | None = None,
    referral_code: str | None = None,
    numbers: Callable[[], str] = new_card_number,
) -> Member:
    """Open the member's card once; Conflict `card_exists` / `phone_taken` otherwise."""
    name = clean_name(name)
    birthday = check_birthday(services, birthday)
    gender = check_gender(gender)
    if member.card_no is not None:
        raise await _card_exists(services, member.id)
    tier = await entry_tier()

    phone_enc = phone_hash = None
    if phone_code is not None:
        phone = await resolve_phone(services, member, phone_code)
        phone_hash = services.cipher.lookup_hash(phone)
        if await _phone_taken(member.id, phone_hash):
            # A member moved in from another system with this phone: theirs to claim.
            claimed = await claim_imported(
                services, member, phone_hash, name=name, birthday=birthday, gender=gender
            )
            if claimed is not None:
                return claimed
            raise _phone_taken_error()
        phone_enc = services.cipher.encrypt(phone)

    fields: dict[str, Any] = {
        "name": name,
        "gender": gender,
        "birthday": birthday,
        "birth_month": birthday.month,
        "birth_day": birthday.day,
        "phone_enc": phone_enc,
        "phone_hash": phone_hash,
        "tier_id": tier.id,
        "code_secret": new_code_secret(),
        "card_opened_at": services.clock.now(),
        "card_version": F("card_version") + 1,
    }
    for _ in range(CARD_NO_ATTEMPTS):
        try:
            async with in_transaction() as conn:
                account = await lock_member(conn, member.id)
                updated = (
                    await Member.filter(id=member.id, card_no=None)
                    .using_db(conn)
                    .update(card_no=numbers(), **fields)
                )
                if updated:
                    await _welcome_gift(services, account)
                    await referrals.record_referral(services, account, referral_code)
        except IntegrityError:
            if phone_hash is not None and await _phone_taken(member.id, phone_hash):
                raise _phone_taken_error() from None
            log.info("card number already taken; drawing another", extra={"member_id": member.id})
            continue
        if not updated:
            raise await _card_exists(services, member.id)
        log.info("member card opened", extra={"member_id": member.id})
        return await load_member(member.id)
    raise UpstreamUnavailable(
        "No free card number could be drawn; try again.", code="card_number_unavailable"
    )


# ----------------------------------------------------------------- at the till


def _card_number_scanned(services: Services, text: str) -> str | None:
    """The card number in what the till scanned or typed: the number itself (spaces and dashes
    ignored) or the card face's QR code; None for anything else."""
    digits = "".join(text.split()).replace("-", "")
    if digits.isascii() and digits.isdigit() and is_card_number(digits):
        return digits
    return card_no_in_face_payload(services.config.brand.card_qr, text)


async def find_member_for_pos(services: Services, code: str) -> Member:
    """The member behind a dynamic member code, or a card number when the brand allows it.

    The static card number (typed, or scanned from the card face's QR code) is refused with
    400 `card_number_not_accepted` unless `pos.allow_card_number`; NotFound `member_not_found`
    for a code or number that names no member.
    """
    member: Member | None = None
    card_no = _card_number_scanned(services, code)
    if card_no is not None:
        if not services.config.pos.allow_card_number:
            raise CardNumberNotAccepted()
        member = await Member.get_or_none(card_no=card_no, deleted_at=None).prefetch_related("tier")
    else:
        text = "".join(code.split()).replace("-", "")
        if len(text) <= 32 and not text.isdigit():
            member = await resolve_member_code(services, text)
    if member is None:
        raise MemberNotFound()
    return member
