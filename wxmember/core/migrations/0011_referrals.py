"""Referrals: share codes, referrals recorded at card opening, their rewards, and the
operators' referral settings."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from wxmember.core.models.referrals import ReferralStatus, RewardMoment, RewardState
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0010_member_import')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Referral',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('referrer', fields.ForeignKeyField('models.Member', source_field='referrer_id', db_constraint=True, to_field='id', related_name='referrals_made', on_delete=OnDelete.RESTRICT)),
                ('invitee', fields.OneToOneField('models.Member', source_field='invitee_id', db_constraint=True, to_field='id', related_name='referral', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(description='PENDING: pending\nREWARDED: rewarded\nVOID: void', enum_type=ReferralStatus, max_length=16)),
                ('reward_on', fields.CharEnumField(description='CARD_OPENING: card_opening\nFIRST_PURCHASE: first_purchase', enum_type=RewardMoment, max_length=16)),
                ('referrer_rewarded', fields.BooleanField(default=True)),
                ('month', fields.DateField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('rewarded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('voided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('voided_by', fields.ForeignKeyField('models.Operator', source_field='voided_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('void_reason', fields.CharField(null=True, max_length=200)),
            ],
            options={'table': 'referrals', 'app': 'models', 'indexes': [Index(fields=['referrer_id', 'month']), Index(fields=['month', 'status'])], 'pk_attr': 'id', 'table_description': "An invitee who opened their card through a referrer's code (once per invitee)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.OneToOneField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='referral_code', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral_codes', 'app': 'models', 'pk_attr': 'id', 'table_description': "A member's share code: random, stored, the only thing a share link carries."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralReward',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('referral', fields.ForeignKeyField('models.Referral', source_field='referral_id', db_constraint=True, to_field='id', related_name='rewards', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='referral_rewards', on_delete=OnDelete.RESTRICT)),
                ('side', fields.CharField(max_length=8)),
                ('kind', fields.CharField(max_length=8)),
                ('points', fields.IntField(null=True)),
                ('coupon_template_id', fields.IntField(null=True)),
                ('state', fields.CharEnumField(description='PENDING: pending\nPAID: paid\nCANCELLED: cancelled\nFAILED: failed', enum_type=RewardState, max_length=16)),
                ('points_entry_id', fields.BigIntField(null=True)),
                ('coupon_id', fields.BigIntField(null=True)),
                ('error', fields.CharField(null=True, max_length=48)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral_rewards', 'app': 'models', 'unique_together': (('referral_id', 'side', 'kind'),), 'indexes': [Index(fields=['member_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One reward of a referral: points or a coupon, for the referrer or the invitee.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReferralSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('enabled', fields.BooleanField(default=False)),
                ('reward_on', fields.CharEnumField(default=RewardMoment.CARD_OPENING, description='CARD_OPENING: card_opening\nFIRST_PURCHASE: first_purchase', enum_type=RewardMoment, max_length=16)),
                ('referrer_points', fields.IntField(default=0)),
                ('referrer_coupon_template_id', fields.IntField(null=True)),
                ('invitee_points', fields.IntField(default=0)),
                ('invitee_coupon_template_id', fields.IntField(null=True)),
                ('monthly_limit', fields.IntField(default=10)),
                ('version', fields.IntField(default=0)),
                ('operator', fields.ForeignKeyField('models.Operator', source_field='operator_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'referral_settings', 'app': 'models', 'pk_attr': 'id', 'table_description': 'What a referral gives and when (one row, saved whole by operators and audited).'},
            bases=['Model'],
        ),
    ]
