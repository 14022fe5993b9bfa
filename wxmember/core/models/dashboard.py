"""The dashboard's daily figures (数据概览): one row per local day, written by a scheduled job.

A row holds what happened on the day (flows: new cards, check-ins, points issued, ...) and how
things stood at its end (stocks: card holders, outstanding points, members per tier,
followers). Stocks are carried from the day before plus the day's changes, so a day costs a
few range queries on indexed timestamps whatever the size of the membership
(handlers/dashboard/figures.py). Recomputing a day replaces its row.

The JSON columns are keyed by id or state as text (JSON keys are strings):
`tiers` {"<tier id>": members}, `coupons` {"<template id>": [handed out, redeemed]},
`reminders` {"<delivery state>": deliveries of reminders whose send day it was}.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class DashboardDay(Model):
    """The figures of one local day (the brand's time zone)."""

    id = fields.IntField(primary_key=True)
    day = fields.DateField(unique=True)

    members = fields.IntField(default=0)  # card holders at the end of the day
    new_cards = fields.IntField(default=0)
    closed_cards = fields.IntField(default=0)  # card holders who deleted their account
    active_members = fields.IntField(default=0)
    checkins = fields.IntField(default=0)

    points_issued = fields.BigIntField(default=0)
    points_spent = fields.BigIntField(default=0)
    points_expired = fields.BigIntField(default=0)
    points_net = fields.BigIntField(default=0)  # every change of balances that day, signed
    points_liability = fields.BigIntField(default=0)  # sum of balances at the end of the day

    coupons_claimed = fields.IntField(default=0)  # handed out: claimed or issued
    coupons_redeemed = fields.IntField(default=0)
    coupons: fields.JSONField[dict[str, list[int]]] = fields.JSONField(default=dict)
    mall_redemptions = fields.IntField(default=0)

    tiers: fields.JSONField[dict[str, int]] = fields.JSONField(default=dict)
    reminders: fields.JSONField[dict[str, int]] = fields.JSONField(default=dict)

    followers = fields.IntField(default=0)  # following the Official Account at the end of the day
    new_followers = fields.IntField(default=0)
    unfollows = fields.IntField(default=0)

    computed_at = fields.DatetimeField()

    class Meta:
        table = "dashboard_days"
