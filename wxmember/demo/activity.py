"""90 days of the demo brand's life, so that every chart of the dashboard has a shape.

Members open cards over the 90 days (more as the brand grows, more at weekends), check in, buy
at the till (points, growth, upgrades), claim coupons in the coupon centre and use them at the
till, redeem points in the mall, follow the Official Account (a few leave again) and accept
subscribe messages. Each card comes with 100 opening points valid for 30 days, so points
expire too. Each morning the reminder rules run for the day (birthdays, points and coupons
about to expire). Then the dashboard's daily figures are stored for every day that has ended.

Everything goes through the handlers, with the service's clock moved to each moment (a
`FrozenClock`), as if it had happened then: the ledgers, the audit log and the dashboard read
it like any other history. Today's part stops at the present moment. While it runs, reminders
go to a fake WeChat of the seed's own (the demo's is served only once seeding is done);
`register_followers` tells the demo's fake WeChat the same followers and grants afterwards.

The plan is random but repeatable (a fixed seed); it runs once: a second start finds the
activity's members and adds nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from fakeredis import FakeAsyncRedis
from tortoise import Tortoise

from handlers import points
from handlers.checkin.daily import check_in
from handlers.coupons.claims import claim
from handlers.coupons.issuing import mark_expired_coupons
from handlers.coupons.writeoff import redeem as write_off
from handlers.dashboard import backfill
from handlers.followers.links import record_subscribe, record_unsubscribe
from handlers.mall.redemption import Redemption, redeem
from handlers.members.cards import open_card
from handlers.members.sessions import member_for_openid
from handlers.messaging.pacing import SendPacer
from handlers.points.ledger import expire_due_lots
from handlers.pos.purchases import record_purchase
from handlers.reminders.runs import claim_rule_day, deliver_due
from handlers.segments import run_rfm
from handlers.subscriptions.grants import SOURCE_CLIENT, record_grants
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import DomainError
from wxmember.core.fake_wechat import FakeWeChat, create_fake_wechat_app
from wxmember.core.inputs import validate
from wxmember.core.localtime import end_of_local_day, local_today
from wxmember.core.models import Member, Operator
from wxmember.core.models.coupons import Coupon, CouponStatus, CouponTemplate, Obtain
from wxmember.core.models.mall import ItemKind, MallItem
from wxmember.core.models.reminders import ReminderRule
from wxmember.core.wechat import WeChatClient
from wxmember.demo.reminders import BIRTHDAY_TEMPLATE, POINTS_TEMPLATE, register_templates

log = logging.getLogger(__name__)

DAYS = 90
MEMBERS = 150
RANDOM_SEED = 20250301
OPENID = "demo-act-{:03d}"
OPENING_POINTS = 100
OPENING_POINTS_DAYS = 30
ADDRESS = {
    "recipient": "王芳",
    "phone": "13800138000",
    "region": "上海市 静安区",
    "detail": "南京西路 1 号",
}
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "杰", "娟", "涛", "明", "超", "婷")


@dataclass(frozen=True)
class Person:
    """Who one member of the demo activity is: fixed by their number alone."""

    number: int
    name: str
    birthday: date
    engagement: float  # how often they check in; purchases follow it
    spender: bool  # buys often and much (and so climbs the tiers)
    follows: bool
    leaves: bool  # unfollows the Official Account some weeks later
    grants: bool  # accepts the subscribe messages when opening the card
    revoked: bool  # ... and later turns them off in WeChat's settings

    @property
    def openid(self) -> str:
        return OPENID.format(self.number)

    @property
    def unionid(self) -> str:
        return f"demo-act-union-{self.number:03d}"

    @property
    def official_openid(self) -> str:
        return f"demo-act-oa-{self.number:03d}"


def person(number: int) -> Person:
    """Member number `number` of the demo activity."""
    rng = random.Random(RANDOM_SEED * 1000 + number)
    birthday = date(1965, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    follows = rng.random() < 0.45
    grants = rng.random() < 0.5
    return Person(
        number=number,
        name=rng.choice(_SURNAMES) + rng.choice(_GIVEN),
        birthday=birthday,
        engagement=rng.choices((0.03, 0.12, 0.35), weights=(0.5, 0.35, 0.15))[0],
        spender=rng.random() < 0.12,
        follows=follows,
        leaves=follows and rng.random() < 0.12,
        grants=grants,
        revoked=grants and rng.random() < 0.15,
    )


def register_followers(fake: FakeWeChat) -> None:
    """The activity's followers and subscribe grants on the demo's fake WeChat."""
    for number in range(MEMBERS):
        who = person(number)
        if who.follows and not who.leaves:
            fake.add_follower(who.official_openid, who.unionid)
        if who.grants and not who.revoked:
            for template_id in (BIRTHDAY_TEMPLATE, POINTS_TEMPLATE):
                fake.grant_subscription(who.openid, template_id, 20)


@dataclass
class _Brand:
    """What the activity acts on: the seeding services, staff, coupons, items, rules."""

    services: Services
    clock: FrozenClock
    fake: FakeWeChat
    cashier: Operator
    centre: list[CouponTemplate]
    items: dict[ItemKind, MallItem]
    rules: list[ReminderRule]
    members: dict[int, Member] = field(default_factory=dict)
    left: set[int] = field(default_factory=set)
    orders: int = 0

    @property
    def tz(self) -> ZoneInfo:
        return self.services.config.brand.tz

    def at(self, day: date, moment: time) -> datetime:
        """Move the clock to a local moment; that moment in UTC."""
        at = datetime.combine(day, moment, tzinfo=self.tz).astimezone(UTC)
        self.clock.set(at)
        return at

    def order_no(self, day: date) -> str:
        self.orders += 1
        return f"DEMO-{day:%Y%m%d}-{self.orders:05d}"


def _opening_days(rng: random.Random, first: date) -> list[date]:
    """When each member opens their card: more as the brand grows, more at weekends."""
    days = [first + timedelta(days=n) for n in range(DAYS + 1)]
    weights = [
        (1 + 2 * n / DAYS) * (1.5 if day.weekday() >= 5 else 1) for n, day in enumerate(days)
    ]
    return sorted(rng.choices(days, weights=weights, k=MEMBERS))


def _moment(rng: random.Random, start: int, end: int) -> time:
    """A random local time of day between the hours `start` and `end`."""
    seconds = rng.randrange(start * 3600, end * 3600)
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


async def _open(brand: _Brand, who: Person, day: date, moment: time) -> None:
    services = brand.services
    at = brand.clock.now()
    member, _ = await member_for_openid(who.openid, unionid=who.unionid)
    member = await open_card(services, member, name=who.name, birthday=who.birthday)
    brand.members[who.number] = member
    expires = end_of_local_day(day + timedelta(days=OPENING_POINTS_DAYS), brand.tz)
    await points.earn(
        services,
        member.id,
        OPENING_POINTS,
        reason="opening_gift",
        idempotency_key=f"demo-opening:{member.id}",
        expires_at=expires,
    )
    if who.grants:
        await record_grants(
            services, member.id, [BIRTHDAY_TEMPLATE, POINTS_TEMPLATE], source=SOURCE_CLIENT
        )
        if not who.revoked:
            for template_id in (BIRTHDAY_TEMPLATE, POINTS_TEMPLATE):
                brand.fake.grant_subscription(who.openid, template_id, 20)
    brand.clock.set(at + timedelta(minutes=2))
    if who.follows:
        await _follow(brand, who)


async def _follow(brand: _Brand, who: Person) -> None:
    brand.fake.add_follower(who.official_openid, who.unionid)
    await record_subscribe(brand.services, who.official_openid, unionid=who.unionid)


async def _leave(brand: _Brand, who: Person) -> None:
    brand.fake.unfollow(who.official_openid)
    await record_unsubscribe(brand.services, who.official_openid)


async def _purchase(
    brand: _Brand, who: Person, member: Member, day: date, rng: random.Random
) -> None:
    """A purchase at the till, paying with a coupon the member holds now and then."""
    if who.spender:
        amount = rng.choice((16800, 26800, 38800, 52800, 88800))
    else:
        amount = rng.choice((1800, 2600, 3200, 4500, 5800, 6800, 8800, 12800, 16800, 26800))
    order = brand.order_no(day)
    coupon = (
        await Coupon.filter(
            member_id=member.id,
            status=CouponStatus.UNUSED,
            valid_until__gt=brand.clock.now(),
            template__threshold_fen__lte=amount,
        )
        .order_by("valid_until")
        .first()
    )
    if coupon is not None and rng.random() < 0.7:
        await _quietly(
            write_off(
                brand.services, brand.cashier, coupon.code, order_no=order, order_amount_fen=amount
            )
        )
    await record_purchase(brand.services, brand.cashier, member.id, order, amount)


async def _claim(brand: _Brand, member: Member, rng: random.Random) -> None:
    if brand.centre:
        fresh = await Member.get(id=member.id)
        await _quietly(claim(brand.services, fresh, rng.choice(brand.centre).id))


async def _shop(brand: _Brand, member: Member, rng: random.Random) -> None:
    """Points into the mall: a coupon most often, the tumbler for the patient, a video card."""
    fresh = await Member.get(id=member.id)
    choices = [ItemKind.COUPON, ItemKind.COUPON, ItemKind.PHYSICAL, ItemKind.VIRTUAL]
    item = brand.items.get(rng.choice(choices))
    if item is None or fresh.points_balance < item.points_price:
        return
    body: dict[str, Any] = {"item_id": item.id}
    if item.kind == ItemKind.PHYSICAL:
        body["address"] = ADDRESS
    key = f"demo-act-{fresh.id}-{brand.order_no(brand.clock.now().date())}"
    await _quietly(redeem(brand.services, fresh, validate(Redemption, body), key))


async def _quietly(call: Any) -> None:
    """A member's try that the service may refuse (sold out, a limit reached, ...)."""
    try:
        await call
    except DomainError:
        pass


async def _remind(brand: _Brand, day: date) -> None:
    """The morning's reminders of every rule for the day, sent through the seed's fake WeChat."""
    pacer = SendPacer(brand.services.redis, 1000)
    for rule in brand.rules:
        await claim_rule_day(brand.services, rule, day)
    await deliver_due(brand.services, pacer=pacer)


def _plan_day(
    brand: _Brand, day: date, rng: random.Random, opening: list[int]
) -> list[tuple[time, int, str]]:
    """The day's events in time order: (local time, member number or -1, what happens)."""
    events: list[tuple[time, int, str]] = [(time(0, 5), -1, "expire"), (time(10, 0), -1, "remind")]
    events += [(_moment(rng, 9, 22), number, "open") for number in opening]
    weekend = day.weekday() >= 5
    for number in [*brand.members, *opening]:
        who = person(number)
        if rng.random() < who.engagement:
            events.append((_moment(rng, 7, 23), number, "check_in"))
        buys = 0.02 + 0.15 * who.engagement + (0.1 if who.spender else 0)
        if rng.random() < buys * (1.6 if weekend else 1):
            events.append((_moment(rng, 10, 22), number, "purchase"))
        if rng.random() < 0.02 + 0.06 * who.engagement:
            events.append((_moment(rng, 8, 23), number, "claim"))
        if rng.random() < 0.02 + 0.06 * who.engagement + (0.06 if who.spender else 0):
            events.append((_moment(rng, 12, 23), number, "shop"))
        if who.leaves and number not in brand.left and rng.random() < 0.03:
            events.append((_moment(rng, 9, 23), number, "leave"))
    return sorted(events)


async def _live_day(
    brand: _Brand, day: date, rng: random.Random, opening: list[int], until: datetime
) -> None:
    """One day: the night's expiry, cards opened, the morning's reminders (days that have
    ended; today's are the scheduler's), and members' doings, in order, up to `until`."""
    services = brand.services
    for moment, number, kind in _plan_day(brand, day, rng, opening):
        at = brand.at(day, moment)
        if at >= until:
            return
        if kind == "expire":
            await expire_due_lots(services)
            await mark_expired_coupons(services)
            continue
        if kind == "remind":
            if day < until.astimezone(brand.tz).date():
                await _remind(brand, day)
            continue
        if kind == "open":
            await _open(brand, person(number), day, moment)
            continue
        member = brand.members.get(number)
        opened = member.card_opened_at if member is not None else None
        if member is None or opened is None or opened >= at:
            continue  # not a card holder yet at that moment
        if kind == "check_in":
            await _quietly(check_in(services, member))
        elif kind == "purchase":
            await _purchase(brand, person(number), member, day, rng)
        elif kind == "claim":
            await _claim(brand, member, rng)
        elif kind == "shop":
            await _shop(brand, member, rng)
        elif kind == "leave" and number not in brand.left:
            brand.left.add(number)
            await _leave(brand, person(number))


@asynccontextmanager
async def _own_wechat(services: Services) -> AsyncIterator[tuple[Services, FakeWeChat]]:
    """Services whose WeChat is a fake of the seed's own, served on a free local port."""
    fake = FakeWeChat()
    config = services.config
    for app_config in (config.miniapp, config.official):
        fake.register_app(app_config.appid, app_config.secret.get_secret_value())
    register_templates(fake)
    # no access log: its lines would carry the access tokens of the seed's requests
    runner = web.AppRunner(create_fake_wechat_app(fake), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    tokens = FakeAsyncRedis()  # the fake's tokens stay out of the service's Redis
    try:
        async with aiohttp.ClientSession() as session:

            def client(appid: str, secret: str) -> WeChatClient:
                return WeChatClient(
                    session=session,
                    redis=tokens,
                    appid=appid,
                    secret=secret,
                    api_base=f"http://{host}:{port}",
                    timeout=5,
                    network_retries=0,
                )

            yield (
                dataclasses.replace(
                    services,
                    miniapp=client(config.miniapp.appid, config.miniapp.secret.get_secret_value()),
                    official=client(
                        config.official.appid, config.official.secret.get_secret_value()
                    ),
                ),
                fake,
            )
    finally:
        await tokens.aclose()
        await runner.cleanup()


@asynccontextmanager
async def _fast_sqlite() -> AsyncIterator[None]:
    """On SQLite, commits without waiting for the disk while seeding (a demo's own file: a
    power cut during it costs only the demo database); the setting is put back after."""
    conn = Tortoise.get_connection("default")
    if conn.capabilities.dialect != "sqlite":
        yield
        return
    _, found = await conn.execute_query("PRAGMA synchronous")
    before = int(found[0][0])
    await conn.execute_script("PRAGMA synchronous = OFF")
    try:
        yield
    finally:
        await conn.execute_script(f"PRAGMA synchronous = {before}")


async def seed(services: Services) -> None:
    """Seed the 90 days once, then store the dashboard's figures of every ended day and score
    the members' RFM."""
    if not await Member.exists(openid=OPENID.format(0)):
        async with _fast_sqlite():
            await _seed_activity(services)
    await backfill(services)
    await _score_rfm(services)


async def _score_rfm(services: Services) -> None:
    """RFM as the daily job would have scored it on the first of each month of the history
    (each taking that month's snapshot), then today: segments and their moves from the start.
    Runs already finished do nothing."""
    today = local_today(services)
    month = (today - timedelta(days=DAYS)).replace(day=1)
    while month <= today:
        if month > today - timedelta(days=DAYS):
            await run_rfm(services, month)
        month = (month + timedelta(days=32)).replace(day=1)
    await run_rfm(services, today)


async def _seed_activity(services: Services) -> None:
    cashier = await Operator.get_or_none(username="cashier")
    if cashier is None:
        return
    now = services.clock.now()
    today = local_today(services)
    first = today - timedelta(days=DAYS)
    rng = random.Random(RANDOM_SEED)
    openings = _opening_days(rng, first)
    items = {item.kind: item for item in await MallItem.filter(active=True).order_by("id")}
    centre = await CouponTemplate.filter(obtain=Obtain.CLAIMABLE, stopped=False).order_by("id")
    rules = await ReminderRule.filter(enabled=True, deleted_at__isnull=True).order_by("id")
    async with _own_wechat(services) as (wechat, fake):
        clock = FrozenClock(now)
        brand = _Brand(
            dataclasses.replace(wechat, clock=clock), clock, fake, cashier, centre, items, rules
        )
        day = first
        while day <= today:
            opening = [number for number, opened in enumerate(openings) if opened == day]
            await _live_day(brand, day, rng, opening, now)
            day += timedelta(days=1)
    log.info("demo activity seeded", extra={"members": len(brand.members), "days": DAYS})
