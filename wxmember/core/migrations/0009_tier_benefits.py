"""Tier benefits paid by the scheduler: one grant row per member, benefit and occasion, and the
monthly coupons' run of each month."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from wxmember.core.models.benefits import BenefitKind, BenefitRunStatus, GrantState
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_campaigns')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BenefitGrant',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='benefit_grants', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='BIRTHDAY_GIFT: birthday_gift\nMONTHLY_COUPONS: monthly_coupons', enum_type=BenefitKind, max_length=24)),
                ('occasion', fields.CharField(max_length=16)),
                ('day', fields.DateField()),
                ('tier', fields.ForeignKeyField('models.Tier', source_field='tier_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('tier_name', fields.CharField(default='', max_length=32)),
                ('items', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('state', fields.CharEnumField(default=GrantState.CLAIMED, description='CLAIMED: claimed\nGRANTED: granted\nFAILED: failed', enum_type=GrantState, max_length=16)),
                ('paid', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('failures', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'benefit_grants', 'app': 'models', 'unique_together': (('member_id', 'kind', 'occasion'),), 'indexes': [Index(fields=['kind', 'occasion', 'state']), Index(fields=['state', 'id'])], 'pk_attr': 'id', 'table_description': 'One tier benefit paid to one member for one occasion (a birthday year, a local month).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BenefitRun',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='BIRTHDAY_GIFT: birthday_gift\nMONTHLY_COUPONS: monthly_coupons', enum_type=BenefitKind, max_length=24)),
                ('occasion', fields.CharField(max_length=16)),
                ('status', fields.CharEnumField(default=BenefitRunStatus.RUNNING, description='RUNNING: running\nFINISHED: finished', enum_type=BenefitRunStatus, max_length=16)),
                ('cursor', fields.BigIntField(default=0)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'benefit_runs', 'app': 'models', 'unique_together': (('kind', 'occasion'),), 'pk_attr': 'id', 'table_description': 'The monthly coupons of one local month: one run per month, resumable from `cursor`.'},
            bases=['Model'],
        ),
    ]
