"""The demo's referrals: the settings switched on (audited) and a few invitations, once."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from handlers.operators.accounts import create_operator
from tests.factories import create_member
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry, Role
from wxmember.core.models.referrals import Referral
from wxmember.demo.referrals import seed


class TestDemoSeed:
    async def test_switches_referrals_on_and_records_invitations_once(
        self, client: TestClient, services: Services
    ) -> None:
        older, newest = await create_member(), await create_member()
        await create_operator("cashier", "correct-horse-battery", Role.CASHIER)
        await seed(services)
        await seed(services)
        assert await AuditEntry.filter(action="referral_settings.replace").count() == 1
        made = await Referral.all().order_by("id").values_list("referrer_id", "status")
        assert made == [
            (newest.id, "rewarded"),
            (newest.id, "pending"),
            (newest.id, "pending"),
            (older.id, "pending"),
        ]
