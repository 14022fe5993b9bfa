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

from aiohttp import web

from jobs.lease import LEASE_KEY
from stack import Stack
from tests.faults.invariants import assert_invariants
from tests.faults.load import wait_until
from tests.faults.shop import birthday_followers, birthday_rule, template_messages
from wxmember.core import keys
from wxmember.core.context import Services
from wxmember.core.models.reminders import ReminderDelivery

MEMBERS = 150
TEMPLATE = "tpl-stack-birthday"


async def test_another_scheduler_finishes_the_run_and_nobody_gets_two(
    stack: Stack, services_app: web.Application
) -> None:
    services = services_app[keys.SERVICES]
    openids = [f"o-oa-birthday-{i}" for i in range(MEMBERS)]
    async with birthday_followers(stack, services, openids):
        await _leader_killed_mid_run(stack, services, openids)


async def _leader_killed_mid_run(stack: Stack, services: Services, openids: list[str]) -> None:
    second = stack.spawn_scheduler("scheduler-2")
    lease = await services.redis.get(LEASE_KEY)
    assert isinstance(lease, bytes)
    leader_pid = int(str(lease, "utf-8").split(":")[1])
    assert leader_pid != second
    rule = await birthday_rule(stack, services, "生日祝福", TEMPLATE)

    sent_now: Counter[str] = Counter()

    async def some_sent() -> bool:
        nonlocal sent_now
        sent_now = await template_messages(stack, TEMPLATE)
        return sum(sent_now.values()) >= MEMBERS // 4

    # The run begins at the scheduler's next minute; sending a quarter takes a few seconds.
    deadline = time.monotonic() + 150
    while not await some_sent():
        if time.monotonic() > deadline:
            states = await ReminderDelivery.filter(rule_id=rule.id).values_list("state", flat=True)
            raise AssertionError(
                f"the leader never started the run: sent {dict(sent_now)}, deliveries"
                f" {dict(Counter(states))}{stack.log_tail('scheduler')}"
                f"{stack.log_tail('scheduler-2')}"
            )
        await asyncio.sleep(0.2)
    os.kill(leader_pid, signal.SIGKILL)
    killed_at = time.monotonic()
    assert sum(sent_now.values()) < MEMBERS, "the run was over before the leader died"

    async def new_leader() -> bool:
        holder = await services.redis.get(LEASE_KEY)
        assert not isinstance(holder, str)
        return holder is not None and int(str(holder, "utf-8").split(":")[1]) == second

    while not await new_leader():
        assert time.monotonic() - killed_at < services.config.scheduler.lease_seconds + 5
        await asyncio.sleep(0.2)
    took_over = time.monotonic() - killed_at

    deadline = time.monotonic() + 180
    while (
        sum((await template_messages(stack, TEMPLATE)).values()) < MEMBERS
        or await ReminderDelivery.filter(rule_id=rule.id).exclude(state="sent").exists()
    ):
        assert time.monotonic() < deadline, await template_messages(stack, TEMPLATE)
        await asyncio.sleep(1.0)

    delivered = await template_messages(stack, TEMPLATE)
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
