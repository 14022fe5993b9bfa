"""A campaign's results and export: the interval formulas against hand computations, and every
figure of a randomly seeded campaign against a plain Python count over the same rows."""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.campaigns.results import (
    EXPORT_HEADER,
    Z95,
    campaign_results,
    csv_filename,
    export_rows,
    mean_difference_ci,
    sample_variance,
    two_proportion_ci,
)
from tests.factories import create_member
from wxmember.core.models.campaigns import Campaign, CampaignDelivery, CampaignState
from wxmember.core.models.coupons import (
    Coupon,
    CouponKind,
    CouponSource,
    CouponStatus,
    CouponTemplate,
)
from wxmember.core.models.members import Member
from wxmember.core.models.pos import Purchase
from wxmember.core.models.reminders import DeliveryState

STARTED = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
DAY = timedelta(days=1)
# purchase moments on and beside every window's edges
EDGES = [
    -US,
    timedelta(0),
    7 * DAY - US,
    7 * DAY,
    14 * DAY - US,
    14 * DAY,
    30 * DAY - US,
    30 * DAY,
    -3 * DAY,
]
SKIP_REASONS = ["no_grant", "recipient_unavailable", None]
FAIL_REASONS = ["rejected", "retries_exhausted", "unknown_outcome"]


class TestTwoProportionCi:
    def test_hand_computed(self) -> None:
        # 30/100 against 20/100: se = sqrt(.3*.7/100 + .2*.8/100) = sqrt(.0037) = 0.0608276...
        found = two_proportion_ci(30, 100, 20, 100)
        assert found is not None and found.ci95 is not None
        assert found.value == pytest.approx(0.10)
        assert found.ci95 == pytest.approx((-0.0192200, 0.2192200), abs=1e-6)

    def test_certain_proportions_have_a_zero_width_interval(self) -> None:
        found = two_proportion_ci(10, 10, 0, 5)
        assert found is not None
        assert found.ci95 == pytest.approx((1.0, 1.0))

    @pytest.mark.parametrize("sizes", [(0, 10), (10, 0), (0, 0)])
    def test_an_empty_group_gives_nothing(self, sizes: tuple[int, int]) -> None:
        assert two_proportion_ci(0, sizes[0], 0, sizes[1]) is None


class TestMeanDifferenceCi:
    def test_hand_computed(self) -> None:
        # [0, 0, 100, 300]: mean 100, variance (10000 + 10000 + 0 + 40000) / 3 = 20000
        # [0, 100]: mean 50, variance 5000; se = sqrt(20000/4 + 5000/2) = sqrt(7500) = 86.6025
        found = mean_difference_ci(4, 400, 100_000, 2, 100, 10_000)
        assert found is not None and found.ci95 is not None
        assert found.value == 50
        assert found.ci95 == pytest.approx((50 - 169.737861, 50 + 169.737861), abs=1e-5)

    def test_sample_variance_is_exact(self) -> None:
        values = [0, 0, 100, 300, 7, 123_456_789]
        found = sample_variance(len(values), sum(values), sum(v * v for v in values))
        assert found == pytest.approx(statistics.variance(values))
        assert sample_variance(1, 5, 25) is None

    def test_a_single_member_gives_a_difference_without_interval(self) -> None:
        found = mean_difference_ci(1, 300, 90_000, 3, 30, 900)
        assert found is not None
        assert found.value == 290 and found.ci95 is None

    def test_an_empty_group_gives_nothing(self) -> None:
        assert mean_difference_ci(0, 0, 0, 3, 30, 900) is None


@dataclass
class Row:
    """A seeded delivery row and what its member bought."""

    member: Member
    holdout: bool
    state: str
    reason: str | None
    coupon_id: int | None = None
    coupon_status: str | None = None
    points_entry_id: int | None = None
    # (moment, amount, refunded) of each purchase
    bought: list[tuple[datetime, int, int]] = field(default_factory=list)
    delivery_id: int = 0

    def net_in(self, days: int) -> list[int]:
        """The net amount of each purchase in the window of `days`."""
        return [fen - refunded for at, fen, refunded in self.bought if _in_window(at, days)]


@dataclass
class Seeded:
    campaign: Campaign
    rows: list[Row]


async def _seed(rng: random.Random, members: int = 300) -> Seeded:
    campaign = await _campaign("春季回馈", STARTED)
    other = await _campaign("别的活动", STARTED - 10 * DAY)
    template = await CouponTemplate.create(title="满100减10", kind=CouponKind.CASH, value=1000)
    rows: list[Row] = []
    for n in range(members):
        member = await create_member()
        holdout = rng.random() < 0.2
        row = _outcome(rng, member, holdout)
        if not holdout and rng.random() < 0.5:
            status = rng.choice(list(CouponStatus))
            coupon = await Coupon.create(
                code=f"C{n:06d}",
                template=template,
                member=member,
                source=CouponSource.ISSUE,
                status=status,
                valid_from=STARTED,
                valid_until=STARTED + 60 * DAY,
                used_at=STARTED + DAY if status == CouponStatus.USED else None,
            )
            row.coupon_id, row.coupon_status = coupon.id, status.value
        if not holdout and rng.random() < 0.3:
            row.points_entry_id = rng.randint(1, 10**9)
        row.bought = _purchases(rng)
        await _buy(member, row.bought)
        rows.append(row)
    await _write(campaign, rows)
    # another campaign with some of the same members, and someone outside both, who buy too
    await _write(other, [Row(r.member, False, "sent", None) for r in rows[::3]])
    outsider = await create_member()
    await _buy(outsider, [(STARTED + DAY, 5_000, 0)])
    return Seeded(campaign, rows)


async def _campaign(name: str, started: datetime | None) -> Campaign:
    return await Campaign.create(
        name=name,
        salt="s" * 16,
        state=CampaignState.RUNNING if started else CampaignState.DRAFT,
        started_at=started,
        created_at=STARTED - 20 * DAY,
        updated_at=STARTED,
    )


def _outcome(rng: random.Random, member: Member, holdout: bool) -> Row:
    if holdout:
        return Row(member, True, DeliveryState.SKIPPED.value, "holdout")
    state = rng.choice(list(DeliveryState))
    reason = None
    if state == DeliveryState.SKIPPED:
        reason = rng.choice(SKIP_REASONS)
    elif state == DeliveryState.FAILED:
        reason = rng.choice(FAIL_REASONS)
    return Row(member, False, state.value, reason)


def _purchases(rng: random.Random) -> list[tuple[datetime, int, int]]:
    """Up to four purchases around the windows, some refunded in part or in full."""
    found = []
    for _ in range(rng.choice([0, 0, 1, 1, 2, 4])):
        offset = (
            rng.choice(EDGES)
            if rng.random() < 0.4
            else timedelta(seconds=rng.randint(-5 * 86400, 35 * 86400))
        )
        fen = rng.randint(100, 50_000)
        refunded = rng.choice([0, 0, 0, fen, rng.randint(1, fen)])
        found.append((STARTED + offset, fen, refunded))
    return found


async def _write(campaign: Campaign, rows: list[Row]) -> None:
    for row in rows:
        delivery = await CampaignDelivery.create(
            campaign=campaign,
            member=row.member,
            holdout=row.holdout,
            state=row.state,
            reason=row.reason,
            coupon_id=row.coupon_id,
            points_entry_id=row.points_entry_id,
            created_at=campaign.started_at,
            updated_at=campaign.started_at,
        )
        row.delivery_id = delivery.id


async def _buy(member: Member, bought: list[tuple[datetime, int, int]]) -> None:
    if not bought:
        return
    await Purchase.bulk_create(
        [
            Purchase(
                order_no=f"P{member.id}-{i}",
                member_id=member.id,
                amount_fen=fen,
                refunded_fen=refunded,
                created_at=at,
            )
            for i, (at, fen, refunded) in enumerate(bought)
        ]
    )


@pytest.fixture
async def seeded(client: TestClient) -> Seeded:
    return await _seed(random.Random(20250601))


def _in_window(at: datetime, days: int) -> bool:
    return STARTED <= at < STARTED + days * DAY


def _expected_group(rows: list[Row], days: int) -> tuple[dict[str, Any], list[int]]:
    """A group's figures in a window, and each member's net amount there."""
    amounts = [sum(r.net_in(days)) for r in rows]
    purchasers = sum(1 for r in rows if r.net_in(days))
    n = len(rows)
    figures = {
        "members": n,
        "purchasers": purchasers,
        "purchases": sum(len(r.net_in(days)) for r in rows),
        "amount_fen": sum(amounts),
        "rate": purchasers / n if n else None,
        "amount_per_member_fen": sum(amounts) / n if n else None,
    }
    return figures, amounts


def _expected_difference(treated: list[Row], holdout: list[Row], days: int) -> dict[str, Any]:
    """The difference and its intervals, from the textbook formulas over the member values."""
    (t, a1), (h, a2) = _expected_group(treated, days), _expected_group(holdout, days)
    p1, n1, p2, n2 = t["rate"], len(a1), h["rate"], len(a2)
    rate_se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    mean_se = math.sqrt(statistics.variance(a1) / n1 + statistics.variance(a2) / n2)
    rate, amount = p1 - p2, statistics.mean(a1) - statistics.mean(a2)
    return {
        "rate": rate,
        "rate_ci95": [rate - Z95 * rate_se, rate + Z95 * rate_se],
        "amount_per_member_fen": amount,
        "amount_ci95": [amount - Z95 * mean_se, amount + Z95 * mean_se],
    }


def _counts(values: list[str | None]) -> dict[str, int]:
    found: dict[str, int] = {}
    for value in values:
        key = value or "unknown"
        found[key] = found.get(key, 0) + 1
    return found


class TestCampaignResults:
    async def test_every_figure_matches_a_count_of_the_rows(self, seeded: Seeded) -> None:
        campaign = await Campaign.get(id=seeded.campaign.id)
        now = STARTED + 14 * DAY
        found = await campaign_results(campaign, now)

        treated = [r for r in seeded.rows if not r.holdout]
        holdout = [r for r in seeded.rows if r.holdout]
        assert treated and holdout
        assert found["groups"] == {"treated": len(treated), "holdout": len(holdout)}
        states = [r.state for r in treated]
        assert found["deliveries"] == {
            "sent": states.count("sent"),
            "skipped": states.count("skipped"),
            "failed": states.count("failed"),
            "waiting": states.count("claimed") + states.count("sending"),
            "skip_reasons": _counts([r.reason for r in treated if r.state == "skipped"]),
            "fail_reasons": _counts([r.reason for r in treated if r.state == "failed"]),
        }
        assert found["coupons"] == {
            "given": sum(1 for r in treated if r.coupon_id is not None),
            "redeemed": sum(1 for r in treated if r.coupon_status == "used"),
        }
        assert "Wald" in found["method"] and "Welch" in found["method"]
        assert [w["days"] for w in found["windows"]] == [7, 14, 30]
        assert [w["complete"] for w in found["windows"]] == [True, True, False]
        for window in found["windows"]:
            days = window["days"]
            assert window["treated"] == pytest.approx(_expected_group(treated, days)[0]), days
            assert window["holdout"] == pytest.approx(_expected_group(holdout, days)[0]), days
            want = _expected_difference(treated, holdout, days)
            got = window["difference"]
            for key in ("rate", "rate_ci95", "amount_per_member_fen", "amount_ci95"):
                assert got[key] == pytest.approx(want[key]), (days, key)

    async def test_the_edges_of_the_windows(self, client: TestClient) -> None:
        campaign = await _campaign("边界", STARTED)
        rows = [Row(await create_member(), holdout, "sent", None) for holdout in (False, True)]
        await _write(campaign, rows)
        # before the start, the start, each window's last microsecond and its end
        await _buy(rows[0].member, [(STARTED + e, 100, 0) for e in EDGES])
        await _buy(rows[1].member, [(STARTED + 30 * DAY - US, 1_000, 400)])
        found = await campaign_results(campaign, STARTED + 30 * DAY)
        windows = {w["days"]: w for w in found["windows"]}
        assert [w["complete"] for w in found["windows"]] == [True, True, True]
        assert [windows[d]["treated"]["purchases"] for d in (7, 14, 30)] == [2, 4, 6]
        assert [windows[d]["treated"]["amount_fen"] for d in (7, 14, 30)] == [200, 400, 600]
        assert [windows[d]["holdout"]["amount_fen"] for d in (7, 14, 30)] == [0, 0, 600]
        assert windows[30]["holdout"]["purchasers"] == 1
        # one member per group: rates differ, but a single value has no variance
        assert windows[7]["difference"]["rate"] == 1.0
        assert windows[7]["difference"]["amount_per_member_fen"] == 200
        assert windows[7]["difference"]["amount_ci95"] is None

    async def test_no_holdout_group_leaves_the_difference_out(self, client: TestClient) -> None:
        campaign = await _campaign("无对照", STARTED)
        await _write(campaign, [Row(await create_member(), False, "sent", None)])
        found = await campaign_results(campaign, STARTED + DAY)
        window = found["windows"][0]
        assert window["complete"] is False
        assert window["holdout"] == {
            "members": 0,
            "purchasers": 0,
            "purchases": 0,
            "amount_fen": 0,
            "rate": None,
            "amount_per_member_fen": None,
        }
        assert window["difference"] == {
            "rate": None,
            "rate_ci95": None,
            "amount_per_member_fen": None,
            "amount_ci95": None,
        }

    async def test_a_campaign_not_started_has_no_figures(self, client: TestClient) -> None:
        campaign = await _campaign("草稿", None)
        found = await campaign_results(campaign, STARTED)
        assert found["groups"] == {"treated": 0, "holdout": 0}
        assert found["deliveries"] == {
            "sent": 0,
            "skipped": 0,
            "failed": 0,
            "waiting": 0,
            "skip_reasons": {},
            "fail_reasons": {},
        }
        assert found["coupons"] == {"given": 0, "redeemed": 0}
        assert found["windows"] == []


class TestExportRows:
    @pytest.mark.parametrize("batch", [7, 1000])
    async def test_one_row_per_delivery_in_id_order(self, seeded: Seeded, batch: int) -> None:
        campaign = await Campaign.get(id=seeded.campaign.id)
        found = [row async for row in export_rows(campaign, batch=batch)]
        assert found[0] == EXPORT_HEADER
        assert "phone" not in " ".join(found[0]) and "name" not in found[0]
        expected = [
            [
                r.member.card_no or "",
                "holdout" if r.holdout else "treated",
                r.state,
                r.reason or "",
                "" if r.coupon_id is None else str(r.coupon_id),
                r.coupon_status or "",
                "" if r.points_entry_id is None else str(r.points_entry_id),
                str(len(r.net_in(30))),
                str(sum(r.net_in(30))),
            ]
            for r in sorted(seeded.rows, key=lambda r: r.delivery_id)
        ]
        assert found[1:] == expected

    async def test_a_campaign_not_started_exports_the_header(self, client: TestClient) -> None:
        campaign = await _campaign("草稿", None)
        assert [row async for row in export_rows(campaign)] == [EXPORT_HEADER]
        assert csv_filename(campaign) == f"campaign-{campaign.id}-results.csv"
