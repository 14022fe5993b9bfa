"""A member's coupons are found by (member, status, valid until), no longer (member, status, id).

A member's unused coupons are asked for with their validity ("unused and still valid"). With
only (status, valid_until) covering both of those columns, SQLite's planner, which keeps no
statistics, chose it over the member's index and read every unused coupon of every member to
answer one member. The member's index now ends in `valid_until`, so it covers the whole
question on both databases; listings by id sort the member's few rows.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index


class Migration(migrations.Migration):
    dependencies = [("models", "0012_stores")]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name="Coupon",
            name=None,
            fields=["member_id", "status", "id"],
        ),
        ops.AddIndex(
            model_name="Coupon",
            index=Index(fields=["member_id", "status", "valid_until"]),
        ),
    ]
