"""A fresh installation starts with one entry tier, so member cards can be opened at once.

Operators rename it or build the ladder above it; the ladder rules keep it the only entry tier
and refuse to delete it. A database whose ladder already has tiers is left as it is.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

ENTRY_TIER = {
    "name": "普通会员",
    "level": 0,
    "color": "#6B7280",
    "growth_threshold": 0,
    "retention_threshold": 0,
    "multiplier_percent": 100,
    "benefits": [],
    "upgrade_gift_points": 0,
}


async def create_entry_tier(apps, schema_editor) -> None:
    tier = apps.get_model("models", "Tier")
    conn = schema_editor.client
    if not await tier.all().using_db(conn).exists():
        await tier.create(**ENTRY_TIER, using_db=conn)


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [
        # Going back keeps the tier: members may hold it by then.
        ops.RunPython(create_entry_tier, ops.RunPython.noop),
    ]
