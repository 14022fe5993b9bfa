"""The brand's WeChat member card (会员卡): its definition, and what WeChat said about it."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from wxmember.core.models.wallet_card import ReviewState
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0015_monthly_partitions')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WalletCard',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('logo_url', fields.CharField(default='', max_length=512)),
                ('color', fields.CharField(max_length=16)),
                ('title', fields.CharField(max_length=32)),
                ('notice', fields.CharField(max_length=64)),
                ('description', fields.TextField(unique=False)),
                ('prerogative', fields.TextField(unique=False)),
                ('show_points', fields.BooleanField(default=True)),
                ('show_tier', fields.BooleanField(default=True)),
                ('show_coupons', fields.BooleanField(default=True)),
                ('card_id', fields.CharField(null=True, unique=True, max_length=64)),
                ('review_state', fields.CharEnumField(default=ReviewState.DRAFT, description='DRAFT: draft\nSUBMITTED: submitted\nAPPROVED: approved\nREJECTED: rejected', enum_type=ReviewState, max_length=16)),
                ('refuse_reason', fields.CharField(null=True, max_length=512)),
                ('sync_error', fields.CharField(null=True, max_length=512)),
                ('version', fields.IntField(default=0)),
                ('synced_version', fields.IntField(default=0)),
                ('operator', fields.ForeignKeyField('models.Operator', source_field='operator_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('synced_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sync_claimed_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'wallet_cards', 'app': 'models', 'pk_attr': 'id', 'table_description': "The member card's definition (one row, saved whole by operators and audited)."},
            bases=['Model'],
        ),
    ]
