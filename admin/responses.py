"""What the staff API answers, as pydantic models, for its OpenAPI document.

Each model mirrors exactly the dict its handler builds (`response=` on the route); the views
still return those dicts. Unknown fields are refused, so the tests that check real answers
against these models notice a field added to a handler and not here. Shapes the mini-program
answers too live beside their builders, in the capability's `shapes` module
(`handlers/<capability>/shapes.py`), and are imported here: the channels share no code.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from handlers.coupons.shapes import CouponTemplate, MemberCoupon, MemberCouponPage
from handlers.mall.shapes import MallOrder
from handlers.members.shapes import TierBrief
from handlers.points.shapes import LedgerEntry, LedgerPage
from handlers.segments.criteria import Criteria
from wxmember.core.answers import Answer
from wxmember.core.models.benefits import BenefitKind, GrantState
from wxmember.core.models.campaigns import CampaignState
from wxmember.core.models.mall import ItemKind, LimitPeriod
from wxmember.core.models.member_imports import ImportStatus
from wxmember.core.models.operators import Role
from wxmember.core.models.reminders import Channel, DeliveryState, ReminderKind
from wxmember.core.models.tags import ImportAction
from wxmember.core.models.tier_history import EvaluationStatus, TierChangeReason

__all__ = [
    "Answer",
    "CouponTemplate",
    "LedgerEntry",
    "LedgerPage",
    "MemberCoupon",
    "MemberCouponPage",
    "TierBrief",
]


# --------------------------------------------------------------------------- members


class StaffMember(Answer):
    """A member as staff see them; the phone masked unless an owner revealed it."""

    id: int
    card_no: str | None
    name: str | None
    gender: str | None
    birthday: date | None
    phone: str | None
    phone_revealed: bool
    tier: TierBrief | None
    points: int
    points_debt: int
    growth: int
    follows_official_account: bool
    card_opened_at: datetime | None
    created_at: datetime


class MemberDetail(StaffMember):
    birthday_changes: int


class MemberPage(Answer):
    items: list[StaffMember]
    next_cursor: str | None


# --------------------------------------------------------------------------- points


# --------------------------------------------------------------------------- coupon templates


class CouponTemplatePage(Answer):
    items: list[CouponTemplate]
    next_cursor: str | None


# --------------------------------------------------------------------------- tiers


class Tier(Answer):
    """A rung of the ladder."""

    id: int
    name: str
    level: int
    color: str
    growth_threshold: int
    retention_threshold: int
    multiplier_percent: int
    benefits: list[dict[str, Any]]
    upgrade_gift_points: int


class LadderTier(Tier):
    member_count: int


class Ladder(Answer):
    """The ladder, lowest level first."""

    items: list[LadderTier]


# --------------------------------------------------------------------------- the till


class TillTier(Answer):
    id: int
    name: str
    level: int


class TillMember(Answer):
    """A member as the till shows them, the phone masked."""

    member_id: int
    name: str | None
    phone: str | None
    card_no: str | None
    tier: TillTier | None
    points_balance: int
    points_debt: int


class TillPurchase(Answer):
    """A purchase, and the member's points after it; `replayed` when the order was recorded
    before (answered 200)."""

    order_no: str
    member_id: int
    amount_fen: int
    store: str | None
    multiplier_percent: int
    points: int
    growth: int
    refunded_fen: int
    points_taken_back: int
    growth_taken_back: int
    created_at: datetime
    balance: int
    debt: int
    replayed: bool


class TillRefund(Answer):
    """A refund, its purchase's totals after it, and the member's points now; `replayed`
    when the refund number was recorded before (answered 200)."""

    order_no: str
    refund_no: str
    amount_fen: int
    points_taken_back: int
    points_shortfall: int
    growth_taken_back: int
    store: str | None
    refunded_fen: int
    refundable_fen: int
    balance: int
    debt: int
    created_at: datetime
    replayed: bool


# --------------------------------------------------------------------------- coupons at the till


class CouponLookUp(Answer):
    """A coupon by its code: whether it can be used on the order (`reason`: the refusal's code
    when not), the discount and what the customer would pay (set with an order amount)."""

    coupon: MemberCoupon
    member_id: int
    usable: bool
    reason: str | None
    discount_fen: int | None
    payable_fen: int | None


class CouponWriteOff(Answer):
    """A coupon used on an order; `gift` names a gift coupon's present; `replayed` when the
    order had used it before."""

    coupon: MemberCoupon
    member_id: int
    order_no: str
    order_amount_fen: int
    discount_fen: int
    payable_fen: int
    store: str | None
    gift: str | None
    replayed: bool


class VoidedCoupon(Answer):
    """The coupon given back."""

    coupon: MemberCoupon


# --------------------------------------------------------------------------- mall


class StaffMallItem(Answer):
    """An item as staff see it, whatever its state; `limit_count` null for no limit."""

    id: int
    title: str
    description: str
    images: list[str]
    kind: ItemKind
    coupon_template_id: int | None
    points_price: int
    stock: int
    sold: int
    limit_period: LimitPeriod
    limit_count: int | None
    tier_levels: list[int]
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    display_order: int
    active: bool
    created_at: datetime | None
    updated_at: datetime | None


class StaffMallItemPage(Answer):
    items: list[StaffMallItem]
    next_cursor: str | None


class CodesAdded(Answer):
    """A virtual item after an upload, with how many codes were added and skipped."""

    item: StaffMallItem
    added: int
    skipped: int


class StaffMallOrder(MallOrder):
    """An order as staff see it: the member's view plus whose it is and who cancelled it."""

    member_id: int
    cancelled_by: str | None


class StaffMallOrderPage(Answer):
    items: list[StaffMallOrder]
    next_cursor: str | None


# --------------------------------------------------------------------------- staff accounts


class Operator(Answer):
    """A staff account (never its password)."""

    id: int
    username: str
    display_name: str
    role: Role
    active: bool


class Operators(Answer):
    items: list[Operator]


class StaffSession(Answer):
    """A staff session: the token to send as `Authorization: Bearer`, its lifetime in seconds."""

    token: str
    expires_in: int
    operator: Operator


class AuditRecord(Answer):
    """One write by an operator: what it was done to, and the record before and after."""

    id: int
    actor: str
    action: str
    target_type: str
    target_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    created_at: datetime


class AuditPage(Answer):
    items: list[AuditRecord]
    next_cursor: str | None


# --------------------------------------------------------------------------- check-in rules


class StreakBonus(Answer):
    """Extra points on a day of the cycle."""

    day: int
    points: int


class CheckinRuleSet(Answer):
    """A check-in rule set; `effective_from` (the brand's day) null and `is_default` true when
    no operator has set one."""

    enabled: bool
    base_points: int
    cycle_days: int
    bonuses: list[StreakBonus]
    makeup_per_month: int
    makeup_price_points: int
    adds_growth: bool
    effective_from: date | None
    is_default: bool


class CheckinRulesOverview(Answer):
    """The rules in force today and, if a change is pending, those from tomorrow."""

    current: CheckinRuleSet
    next: CheckinRuleSet | None


# --------------------------------------------------------------------------- tier history


class TierChange(Answer):
    """A member's move between tiers; `growth` and `period_key` for evaluations, `operator_id`
    and `note` for moves by staff."""

    id: int
    member_id: int
    from_tier_id: int | None
    to_tier_id: int | None
    from_tier: str
    to_tier: str
    reason: TierChangeReason
    growth: int | None
    period_key: str | None
    operator_id: int | None
    note: str
    created_at: datetime


class TierChangePage(Answer):
    items: list[TierChange]
    next_cursor: str | None


class EvaluationRun(Answer):
    """A run of the tier evaluation over a period; `cursor` is the last member id it checked."""

    id: int
    period_key: str
    period_start: date
    period_end: date
    status: EvaluationStatus
    cursor: int
    checked: int
    downgraded: int
    skipped: int
    started_at: datetime
    finished_at: datetime | None


class EvaluationRunPage(Answer):
    items: list[EvaluationRun]
    next_cursor: str | None


# --------------------------------------------------------------------------- tier benefits


class BenefitItem(Answer):
    """One gift a grant gives: points, or a coupon of a template."""

    points: int | None
    template_id: int | None


class PaidBenefitItem(BenefitItem):
    """A gift given: the points ledger entry or the coupon."""

    points_entry_id: int | None
    coupon_id: int | None


class FailedBenefitItem(BenefitItem):
    """A gift refused (template_stopped, sold_out, template_expired, member_not_found...)."""

    code: str


class BenefitGrant(Answer):
    """A tier benefit paid to a member for an occasion ("2026": a birthday gift's year,
    "2026-05": a month of coupons): claimed, granted, or failed (not retried)."""

    id: int
    member_id: int
    kind: BenefitKind
    occasion: str
    day: date
    tier_id: int | None
    tier_name: str
    state: GrantState
    items: list[BenefitItem]
    paid: list[PaidBenefitItem]
    failures: list[FailedBenefitItem]
    created_at: datetime
    updated_at: datetime


class BenefitGrantPage(Answer):
    items: list[BenefitGrant]
    next_cursor: str | None


# --------------------------------------------------------------------------- reminders


class GiftCoupon(Answer):
    coupon_template_id: int


class GiftPoints(Answer):
    points: int


class ReminderRule(Answer):
    """A reminder rule; `mapping` names, per template key, the member field it shows; `gift`
    (birthday rules) a coupon template or points."""

    id: int
    name: str
    kind: ReminderKind
    send_time: str
    days_before: int
    channel: Channel
    template_id: str
    mapping: dict[str, Any]
    page: str | None
    gift: GiftCoupon | GiftPoints | None
    enabled: bool
    version: int
    created_at: datetime | None
    updated_at: datetime | None


class ReminderRulePage(Answer):
    items: list[ReminderRule]
    next_cursor: str | None


class ReminderField(Answer):
    """A member field a mapping may name: what it renders as, its longest rendering, and the
    kinds of rule that may use it."""

    name: str
    renders: str
    max_length: int
    kinds: list[ReminderKind]
    description: str


class ReminderFields(Answer):
    items: list[ReminderField]


class ReminderDelivery(Answer):
    """One reminder to one member on one send day, and how far it got."""

    id: int
    rule_id: int
    member_id: int
    occasion: str
    day: date
    channel: Channel
    template_id: str
    page: str | None
    data: dict[str, str]
    state: DeliveryState
    reason: str | None
    errcode: int | None
    attempts: int
    next_attempt_at: datetime | None
    gift_state: str | None
    gift_ref: str | None
    msgid: str | None
    created_at: datetime | None
    updated_at: datetime | None
    finished_at: datetime | None


class ReminderDeliveryPage(Answer):
    items: list[ReminderDelivery]
    next_cursor: str | None


class RuleDeliveryCounts(Answer):
    """A rule's deliveries of the day, by state."""

    rule_id: int
    rule_name: str
    counts: dict[str, int]
    total: int


class DeliveryStats(Answer):
    date: date
    rules: list[RuleDeliveryCounts]


class PreviewedReminder(Answer):
    """A reminder the rule would send: to whom, for which occasion, with which values.

    `status` is `will_send`, `already_<state>` when a delivery exists, `invalid_value`,
    `no_grant` (no subscription left) or why the member cannot be reached."""

    cursor: int
    member_id: int
    occasion: str
    target_day: date
    channel: Channel
    template_id: str
    page: str | None
    data: dict[str, str]
    gift: str | None
    status: str


class ReminderPreview(Answer):
    """Whom a rule would remind on a send day, a page at a time."""

    date: date
    items: list[PreviewedReminder]
    next_cursor: str | None


# --------------------------------------------------------------------------- tags


class TagBrief(Answer):
    """A tag: its name (unique whatever its case), colour and what it is for."""

    id: int
    name: str
    colour: str | None
    description: str
    created_at: datetime


class StaffTag(TagBrief):
    """A tag with how many live members carry it."""

    members: int


class StaffTagPage(Answer):
    items: list[StaffTag]
    next_cursor: str | None


class TagDeleted(Answer):
    """A deleted tag, and how many members it was taken off."""

    id: int
    name: str
    members_untagged: int


class MemberTagLink(Answer):
    """A tag a member carries, when it was put on and by whom (a username, if still known)."""

    tag: TagBrief
    tagged_at: datetime
    tagged_by: str | None


class MemberTagList(Answer):
    items: list[MemberTagLink]


class TagRemoved(Answer):
    """Whether the member carried the tag (and so lost it) or not."""

    removed: bool


class TaggedMemberBrief(Answer):
    id: int
    card_no: str | None
    name: str | None
    tier: TierBrief | None


class TaggedMember(Answer):
    """A member carrying a tag."""

    member: TaggedMemberBrief
    tagged_at: datetime
    tagged_by: str | None


class TaggedMemberPage(Answer):
    items: list[TaggedMember]
    next_cursor: str | None


class TagImportSummary(Answer):
    """A bulk tagging from CSV: rows read, members changed, unchanged, and rows refused."""

    id: int
    tag_id: int | None
    tag_name: str
    action: ImportAction
    filename: str
    actor: str
    rows: int
    changed: int
    unchanged: int
    unknown: int
    invalid: int
    duplicates: int
    created_at: datetime


class TagImportPage(Answer):
    items: list[TagImportSummary]
    next_cursor: str | None


# --------------------------------------------------------------------------- member import


class MemberImportSummary(Answer):
    """An import of members: rows read, members created, rows unchanged, changed and refused."""

    id: int
    filename: str
    status: ImportStatus
    actor: str
    rows: int
    created: int
    unchanged: int
    changed: int
    refused: int
    started_at: datetime
    finished_at: datetime | None


class MemberImportPage(Answer):
    items: list[MemberImportSummary]
    next_cursor: str | None


# --------------------------------------------------------------------------- segments (RFM)


class MemberRfmScores(Answer):
    """A member's RFM as of `computed_on` (purchases before that local day)."""

    recency_days: int | None
    frequency: int
    monetary_fen: int
    r_score: int | None
    f_score: int | None
    m_score: int | None
    segment: str
    segment_label: str | None
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    computed_on: date
    previous_segment: str | None
    previous_segment_label: str | None


class MemberRfm(Answer):
    """A member's RFM; `rfm` is null until a run has scored them."""

    member_id: int
    rfm: MemberRfmScores | None


class SegmentSize(Answer):
    segment: str
    label: str | None
    members: int


class SegmentSizes(Answer):
    """Members per segment as of the latest finished run's day (null before any run)."""

    day: date | None
    total: int
    items: list[SegmentSize]


class SegmentMove(Answer):
    """Members in `from_segment` at the previous snapshot and in `to_segment` at this one;
    `from_segment` is null for members not scored at the previous snapshot."""

    from_segment: str | None
    from_label: str | None
    to_segment: str
    to_label: str | None
    members: int


class SegmentMovement(Answer):
    """A month's snapshot: segment sizes and the moves since the previous snapshot."""

    month: str | None
    previous_month: str | None
    months: list[str]
    sizes: list[SegmentSize]
    moves: list[SegmentMove]


class RfmThresholds(Answer):
    recency_days: list[int]
    frequency: list[int]
    monetary_fen: list[int]


class RfmSettings(Answer):
    """How scores are given; `thresholds` are kept while the mode is `quintile`."""

    mode: str
    version: int
    thresholds: RfmThresholds | None
    updated_at: datetime | None
    operator_id: int | None


class RfmRun(Answer):
    """The RFM run of a day under a version of the settings, with the cuts it applied."""

    id: int
    day: date
    settings_version: int
    mode: str
    status: str
    cuts: RfmThresholds
    cursor: int
    scored: int
    batches: int
    snapshot_month: date | None
    started_at: datetime
    finished_at: datetime | None


class RfmRunPage(Answer):
    items: list[RfmRun]
    next_cursor: str | None


class RfmRunReport(Answer):
    """What a run started by staff did: `already_finished` when the day was scored already
    under the current settings."""

    day: date
    settings_version: int
    mode: str
    status: str
    cuts: RfmThresholds
    resumed_from: int
    scored: int
    batches: int
    snapshot_month: date | None


# --------------------------------------------------------------------------- saved segments


class SavedSegment(Answer):
    """A saved segment (会员分群): a named filter over the card holders."""

    id: int
    name: str
    description: str
    filter: Criteria
    created_at: datetime
    updated_at: datetime
    created_by_id: int | None
    updated_by_id: int | None


class SavedSegmentPage(Answer):
    items: list[SavedSegment]
    next_cursor: str | None


class SavedSegmentDeleted(Answer):
    id: int
    name: str


class SavedSegmentCount(Answer):
    """How many live card holders the saved segment's filter selects now."""

    segment_id: int
    members: int


class SegmentMember(Answer):
    """A member a filter selects, the phone masked."""

    id: int
    card_no: str | None
    name: str | None
    phone: str | None
    tier: TierBrief | None


class SegmentSample(Answer):
    """The newest members a saved segment selects now."""

    segment_id: int
    items: list[SegmentMember]


class SegmentPreview(Answer):
    """A filter's live count and its newest 20 members."""

    members: int
    sample: list[SegmentMember]


# --------------------------------------------------------------------------- campaigns


class Campaign(Answer):
    """A campaign (营销活动): to which saved segment, what it gives (coupon, points) and says
    (a message), its holdout share, its state and progress. `segment_name` and the filter are
    the segment's as of the launch."""

    id: int
    name: str
    description: str
    segment_id: int | None
    segment_name: str
    state: CampaignState
    coupon_template_id: int | None
    points: int | None
    channel: Channel | None
    template_id: str | None
    mapping: dict[str, Any] | None
    page: str | None
    holdout_percent: int
    start_at: datetime | None
    launched_at: datetime | None
    started_at: datetime | None
    frozen_at: datetime | None
    finished_at: datetime | None
    recipients: int
    held_out: int
    version: int
    created_at: datetime | None
    updated_at: datetime | None


class CampaignPage(Answer):
    items: list[Campaign]
    next_cursor: str | None


class CampaignDeleted(Answer):
    id: int
    name: str


class CampaignField(Answer):
    """A field a campaign's message may show; `needs`: the gift the campaign must give."""

    name: str
    renders: str
    max_length: int
    description: str
    needs: str | None


class CampaignFields(Answer):
    items: list[CampaignField]


class PreviewedMessage(Answer):
    card_no: str | None
    data: dict[str, str]


class CampaignPreview(Answer):
    """Whom the campaign would reach now, and its message as the first of them would read it."""

    campaign_id: int
    members: int
    holdout: int
    recipients: int
    messages: list[PreviewedMessage]


class CampaignDeliveryRow(Answer):
    """One member of a campaign: held out or treated, and what happened."""

    id: int
    member_id: int
    card_no: str | None
    holdout: bool
    state: DeliveryState
    reason: str | None
    errcode: int | None
    coupon_id: int | None
    points_entry_id: int | None
    attempts: int
    updated_at: datetime | None
    finished_at: datetime | None


class CampaignDeliveryPage(Answer):
    items: list[CampaignDeliveryRow]
    next_cursor: str | None


class CampaignDeliveryCounts(Answer):
    """The treated members' outcomes; `waiting`: not settled yet (claimed or sending)."""

    sent: int
    skipped: int
    failed: int
    waiting: int
    skip_reasons: dict[str, int]
    fail_reasons: dict[str, int]


class CampaignGroupFigures(Answer):
    members: int
    purchasers: int
    purchases: int
    amount_fen: int
    rate: float | None
    amount_per_member_fen: float | None


class CampaignDifference(Answer):
    """Treated minus holdout, with 95 % intervals (`method` says how)."""

    rate: float | None
    rate_ci95: list[float] | None
    amount_per_member_fen: float | None
    amount_ci95: list[float] | None


class CampaignWindow(Answer):
    """Purchases within `days` of the start; `complete` once those days have passed."""

    days: int
    complete: bool
    treated: CampaignGroupFigures
    holdout: CampaignGroupFigures
    difference: CampaignDifference


class CampaignResults(Answer):
    """Who the campaign reached, what it gave, and the purchases of the treated members
    against the holdout's within 7, 14 and 30 days of its start."""

    campaign_id: int
    state: CampaignState
    started_at: datetime | None
    method: str
    groups: dict[str, int]
    deliveries: CampaignDeliveryCounts
    coupons: dict[str, int]
    windows: list[CampaignWindow]


# --------------------------------------------------------------------------- stores


class StaffStore(Answer):
    """A store (门店): its code is what the till sends and what the records keep."""

    id: int
    code: str
    name: str
    city: str
    address: str
    active: bool
    created_at: datetime
    updated_at: datetime


class StaffStorePage(Answer):
    items: list[StaffStore]
    next_cursor: str | None


class StoreDeleted(Answer):
    """A store deleted before anything named it."""

    id: int
    code: str


class BoundStore(Answer):
    id: int
    code: str
    name: str
    active: bool


class CashierStores(Answer):
    """The stores a cashier is bound to (none: the cashier may name any active store)."""

    operator_id: int
    username: str
    stores: list[BoundStore]


class StoreDayFigures(Answer):
    """One local day at a store: cards opened, purchases, refunds and coupon write-offs there."""

    day: date
    cards_opened: int
    purchases: int
    purchase_fen: int
    refunds: int
    refund_fen: int
    redemptions: int
    discount_fen: int


class StoreTotals(Answer):
    cards_opened: int
    purchases: int
    purchase_fen: int
    refunds: int
    refund_fen: int
    redemptions: int
    discount_fen: int


class StoreFigures(Answer):
    """A store's figures by local day, oldest first, up to today, and their totals."""

    store: StaffStore
    days: list[StoreDayFigures]
    totals: StoreTotals


class StoreMember(Answer):
    """A member who opened their card at the store, and how the store was known."""

    member_id: int
    name: str | None
    card_no: str | None
    source: str
    opened_at: datetime


class StoreMemberPage(Answer):
    items: list[StoreMember]
    next_cursor: str | None
