"""The member card's definition: what operators configure, saved whole and audited.

One definition per brand (row 1). Its texts are checked against WeChat's limits here, before
anything is sent (`wxmember.core.wechat.member_card`: a Chinese character counts one, two
other characters one), so an operator learns of a too-long title at once, by field. The logo
is an image uploaded to WeChat (`media/uploadimg`); only the URL WeChat gives back is kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, StrictBool, StringConstraints
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from handlers import audit
from handlers.wallet_card.refusals import wechat_refusal
from wxmember.core.context import Services
from wxmember.core.errors import TooLarge, ValidationFailed
from wxmember.core.inputs import Body, CleanText, clean_multiline
from wxmember.core.models import Operator
from wxmember.core.models.wallet_card import ReviewState, WalletCard
from wxmember.core.wechat import WeChatError, member_card
from wxmember.core.wechat.member_card import CardFace, CardHome

DEFINITION_ID = 1
# WeChat takes 1 MB (media/uploadimg); half that fits the API's 1 MB body as base64, and a
# card logo (300 x 300 pixels is what WeChat shows) is far smaller
LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
CENTER_TITLE = "会员码"


def _within(most: int) -> AfterValidator:
    def check(value: str) -> str:
        if not member_card.fits(value, most):
            raise ValueError(
                f"at most {most} Chinese characters (or {2 * most} letters and digits)"
            )
        return value

    return AfterValidator(check)


def _colour(value: str) -> str:
    if value not in member_card.COLOURS:
        raise ValueError("one of WeChat's card colours, Color010 to Color102")
    return value


CleanMultiline = AfterValidator(clean_multiline)  # paragraphs, as WeChat shows them


def _text(most_chars: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=most_chars)


class WalletCardBody(Body):
    """What operators save: the card's colour, texts and the fields it shows."""

    color: Annotated[str, AfterValidator(_colour)]
    title: Annotated[
        str, _text(member_card.TITLE_MAX * 2), CleanText, _within(member_card.TITLE_MAX)
    ]
    notice: Annotated[
        str, _text(member_card.NOTICE_MAX * 2), CleanText, _within(member_card.NOTICE_MAX)
    ]
    description: Annotated[
        str,
        _text(member_card.DESCRIPTION_MAX * 2),
        CleanMultiline,
        _within(member_card.DESCRIPTION_MAX),
    ]
    prerogative: Annotated[
        str,
        _text(member_card.PREROGATIVE_MAX * 2),
        CleanMultiline,
        _within(member_card.PREROGATIVE_MAX),
    ]
    show_points: StrictBool = True
    show_tier: StrictBool = True
    show_coupons: StrictBool = True


@dataclass(frozen=True)
class CardDefinition:
    """The definition and what WeChat said about it (version 0: never saved)."""

    logo_url: str
    color: str
    color_hex: str
    title: str
    notice: str
    description: str
    prerogative: str
    show_points: bool
    show_tier: bool
    show_coupons: bool
    card_id: str | None
    review_state: str
    refuse_reason: str | None
    sync_error: str | None
    version: int
    synced_version: int
    in_sync: bool
    updated_at: str | None
    synced_at: str | None
    reviewed_at: str | None
    operator_id: int | None

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def face(self) -> CardFace:
        return CardFace(
            logo_url=self.logo_url,
            color=self.color,
            title=self.title,
            notice=self.notice,
            description=self.description,
            prerogative=self.prerogative,
            show_points=self.show_points,
            show_tier=self.show_tier,
            show_coupons=self.show_coupons,
        )


DEFAULTS = CardDefinition(
    "", "Color010", "#63b359", "", "", "", "", True, True, True, None,
    ReviewState.DRAFT.value, None, None, 0, 0, False, None, None, None, None,
)  # fmt: skip


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def definition_of(row: WalletCard) -> CardDefinition:
    """The view of a saved definition."""
    return CardDefinition(
        logo_url=row.logo_url,
        color=row.color,
        color_hex=member_card.COLOURS.get(row.color, ""),
        title=row.title,
        notice=row.notice,
        description=row.description,
        prerogative=row.prerogative,
        show_points=row.show_points,
        show_tier=row.show_tier,
        show_coupons=row.show_coupons,
        card_id=row.card_id,
        review_state=ReviewState(row.review_state).value,
        refuse_reason=row.refuse_reason,
        sync_error=row.sync_error,
        version=row.version,
        synced_version=row.synced_version,
        in_sync=row.card_id is not None and row.synced_version == row.version,
        updated_at=_iso(row.updated_at),
        synced_at=_iso(row.synced_at),
        reviewed_at=_iso(row.reviewed_at),
        operator_id=row.operator_id,
    )


def card_home(services: Services) -> CardHome:
    """Whose card it is and where its centre button leads, from the config."""
    config = services.config
    return CardHome(
        brand_name=config.brand.name,
        miniapp_original_id=config.miniapp.original_id,
        miniapp_page=config.miniapp.card_page,
        center_title=CENTER_TITLE,
    )


async def current_definition(using_db: BaseDBAsyncClient | None = None) -> CardDefinition:
    """The member card's definition (the defaults until operators save one)."""
    row = await WalletCard.filter(id=DEFINITION_ID).using_db(using_db).first()
    return DEFAULTS if row is None else definition_of(row)


def _check_brand(services: Services) -> None:
    if not member_card.fits(services.config.brand.name, member_card.BRAND_NAME_MAX):
        raise ValidationFailed(
            f"brand.name: WeChat takes at most {member_card.BRAND_NAME_MAX} Chinese characters "
            "for the brand on a card; shorten it in the config.",
            code="brand_name_too_long",
        )


async def _write(
    services: Services, actor: Operator, action: str, values: dict[str, Any]
) -> CardDefinition:
    now = services.clock.now()
    async with in_transaction() as conn:
        row = await WalletCard.select_for_update().using_db(conn).get_or_none(id=DEFINITION_ID)
        before = None if row is None else definition_of(row).public()
        if row is None:
            row = WalletCard(id=DEFINITION_ID, color=DEFAULTS.color, title="", notice="", version=0)
            row.description = row.prerogative = ""
        for name, value in values.items():
            setattr(row, name, value)
        row.version = (row.version or 0) + 1
        row.operator_id = actor.id
        row.updated_at = now
        await row.save(using_db=conn)
        saved = definition_of(row)
        await audit.record(
            actor,
            action,
            "wallet_card",
            DEFINITION_ID,
            before=before,
            after=saved.public(),
            using_db=conn,
        )
    return saved


async def save_definition(
    services: Services, actor: Operator, body: WalletCardBody
) -> CardDefinition:
    """Save the card's definition whole (audited); it still has to be sent to WeChat."""
    _check_brand(services)
    return await _write(services, actor, "wallet_card.replace", body.model_dump())


def _logo_type(content: bytes) -> str:
    if len(content) > LOGO_MAX_BYTES:
        raise TooLarge(
            f"The logo may be at most {LOGO_MAX_BYTES // 1024} KB.", code="logo_too_large"
        )
    for content_type, magic in LOGO_TYPES.items():
        if content.startswith(magic):
            return content_type
    raise ValidationFailed("The logo must be a PNG or JPEG image.", code="invalid_logo")


async def upload_logo(
    services: Services, actor: Operator, filename: str, content: bytes
) -> CardDefinition:
    """Upload the card's logo to WeChat and keep the URL it gives (audited)."""
    content_type = _logo_type(content)
    try:
        url = await services.official.upload_card_logo(filename or "logo", content, content_type)
    except WeChatError as exc:
        raise wechat_refusal(exc) from None
    return await _write(services, actor, "wallet_card.logo", {"logo_url": url})
