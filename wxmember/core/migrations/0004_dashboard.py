"""The dashboard's daily figures, and indexes on the timestamps it counts by day.

Each day's figures are range queries on these timestamps (cards opened and closed, points
entries, check-ins, purchases, coupons handed out and used, mall orders, tier moves, follows).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_audit_filters')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DashboardDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField(unique=True)),
                ('members', fields.IntField(default=0)),
                ('new_cards', fields.IntField(default=0)),
                ('closed_cards', fields.IntField(default=0)),
                ('active_members', fields.IntField(default=0)),
                ('checkins', fields.IntField(default=0)),
                ('points_issued', fields.BigIntField(default=0)),
                ('points_spent', fields.BigIntField(default=0)),
                ('points_expired', fields.BigIntField(default=0)),
                ('points_net', fields.BigIntField(default=0)),
                ('points_liability', fields.BigIntField(default=0)),
                ('coupons_claimed', fields.IntField(default=0)),
                ('coupons_redeemed', fields.IntField(default=0)),
                ('coupons', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('mall_redemptions', fields.IntField(default=0)),
                ('tiers', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reminders', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('followers', fields.IntField(default=0)),
                ('new_followers', fields.IntField(default=0)),
                ('unfollows', fields.IntField(default=0)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dashboard_days', 'app': 'models', 'pk_attr': 'id', 'table_description': "The figures of one local day (the brand's time zone)."},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Checkin',
            index=Index(fields=['created_at']),
        ),
        ops.AddIndex(
            model_name='Coupon',
            index=Index(fields=['created_at']),
        ),
        ops.AddIndex(
            model_name='Coupon',
            index=Index(fields=['used_at']),
        ),
        ops.AddIndex(
            model_name='Follower',
            index=Index(fields=['subscribed', 'subscribed_at']),
        ),
        ops.AddIndex(
            model_name='Follower',
            index=Index(fields=['unsubscribed_at']),
        ),
        ops.AddIndex(
            model_name='MallOrder',
            index=Index(fields=['created_at']),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['card_opened_at']),
        ),
        ops.AddIndex(
            model_name='Member',
            index=Index(fields=['deleted_at']),
        ),
        ops.AddIndex(
            model_name='PointsEntry',
            index=Index(fields=['created_at']),
        ),
        ops.AddIndex(
            model_name='Purchase',
            index=Index(fields=['created_at']),
        ),
        ops.AddIndex(
            model_name='TierChange',
            index=Index(fields=['created_at']),
        ),
    ]
