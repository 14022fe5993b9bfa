"""The scheduler's leader killed with SIGKILL in the middle of a reminder run.

A second scheduler process waits beside it. The dead leader stops renewing its lease, the other
takes over within `lease_seconds`, and its next run finishes the day's reminders: the one cut
off mid-send is settled after `sending_timeout_seconds` and resent with the same
`client_msg_id`, which WeChat deduplicates. Every member gets the birthday message exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from datetime import datetime, timedelta

import aiohttp
from aiohttp import web

from handlers.reminders.rules import RuleCreate, create_rule
from jobs.lease import LEASE_KEY
from stack import Stack
from tests.factories import create_member
from tests.faults.invariants import assert_invariants
from tests.faults.load import wait_until
from wxmember.core import keys
from wxmember.core.inputs import validate
from wxmember.core.models import Member, Operator
from wxmember.core.models.bot import Follower
from wxmember.core.models.reminders import ReminderDelivery

MEMBERS = 150
TEMPLATE = "tpl-stack-birthday"


async def sent(stack: Stack) -> Counter[str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(stack.layout.wechat_url + "/_fake/sent") as r:
            messages = await r.json()
    return Counter(m["touser"] for m in messages if m.get("template_id") == TEMPLATE)


async def test_another_scheduler_finishes_the_run_and_nobody_gets_two(
    stack: Stack, services_app: web.Application
) -> None:
    services = services_app[keys.SERVICES]
    tz = services.config.brand.tz
    today = datetime.now(tz)
    openids = [f"o-oa-birthday-{i}" for i in range(MEMBERS)]
    async with aiohttp.ClientSession() as http:
        await http.post(
            stack.layout.wechat_url + "/_stack/template",
            json={"template_id": TEMPLATE, "keys": ["keyword1"]},
        )
        await http.post(stack.layout.wechat_url + "/_stack/followers", json={"openids": openids})
    for openid in openids:
        member = await create_member(birthday=today.date().replace(year=1990))
        await Member.filter(id=member.id).update(official_openid=openid)
        await Follower.create(openid=openid, member=member, subscribed=True)
    second = stack.spawn_scheduler("scheduler-2")
    leader_pid = int(str(await services.redis.get(LEASE_KEY), "utf-8").split(":")[1])
    assert leader_pid != second

    # Due now: the leader's next minute takes it (the job runs at second 0 of every minute).
    owner = await Operator.get(username="owner")
    send_time = (today - timedelta(minutes=1)).strftime("%H:%M")
    if send_time > today.strftime("%H:%M"):  # just after local midnight: due at 00:00
        send_time = "00:00"
    rule = await create_rule(
        owner,
        validate(
            RuleCreate,
            {
                "name": "生日祝福",
                "kind": "birthday",
                "send_time": send_time,
                "days_before": 0,
                "channel": "official_template",
                "template_id": TEMPLATE,
                "mapping": {"keyword1": "member_name"},
                "page": "pages/member/index",
            },
        ),
    )

    sent_now: Counter[str] = Counter()

    async def some_sent() -> bool:
        nonlocal sent_now
        sent_now = await sent(stack)
        return sum(sent_now.values()) >= MEMBERS // 4

    deadline = time.monotonic() + 90
    while not await some_sent():
        assert time.monotonic() < deadline, "the leader never started the run"
        await asyncio.sleep(0.2)
    os.kill(leader_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert sum(sent_now.values()) < MEMBERS, "the run was over before the leader died"

    async def new_leader() -> bool:
        holder = await services.redis.get(LEASE_KEY)
        return holder is not None and int(str(holder, "utf-8").split(":")[1]) == second

    while not await new_leader():
        assert time.monotonic() - killed_at < services.config.scheduler.lease_seconds + 5
        await asyncio.sleep(0.2)
    took_over = time.monotonic() - killed_at

    deadline = time.monotonic() + 180
    while (
        sum((await sent(stack)).values()) < MEMBERS
        or await ReminderDelivery.filter(rule_id=rule.id).exclude(state="sent").exists()
    ):
        assert time.monotonic() < deadline, await sent(stack)
        await asyncio.sleep(1.0)

    delivered = await sent(stack)
    assert delivered == Counter({openid: 1 for openid in openids})
    rows = await ReminderDelivery.filter(rule_id=rule.id).values_list("state", flat=True)
    assert Counter(rows) == Counter({"sent": MEMBERS})
    print(
        f"\nscheduler leader killed after {sum(sent_now.values())} of {MEMBERS} messages; "
        f"the other took over in {took_over:.1f} s and finished "
        f"{time.monotonic() - killed_at:.0f} s after the kill; each member got one"
    )
    await wait_until(lambda: stack.pid("scheduler") is None, timeout=5)
    await assert_invariants()
