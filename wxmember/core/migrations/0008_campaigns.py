"""Campaigns: an offer to a saved segment's members, and one delivery row per member recorded
at its start (held-out members included)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from wxmember.core.models.campaigns import CampaignState
from wxmember.core.models.reminders import Channel, DeliveryState
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_saved_segments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Campaign',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=40)),
                ('description', fields.CharField(default='', max_length=200)),
                ('segment', fields.ForeignKeyField('models.SavedSegment', source_field='segment_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('segment_name', fields.CharField(default='', max_length=40)),
                ('criteria', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('state', fields.CharEnumField(default=CampaignState.DRAFT, description='DRAFT: draft\nSCHEDULED: scheduled\nRUNNING: running\nPAUSED: paused\nFINISHED: finished\nCANCELLED: cancelled', enum_type=CampaignState, max_length=16)),
                ('coupon_template_id', fields.IntField(null=True)),
                ('points', fields.IntField(null=True)),
                ('channel', fields.CharEnumField(null=True, description='MINIAPP_SUBSCRIBE: miniapp_subscribe\nOFFICIAL_TEMPLATE: official_template', enum_type=Channel, max_length=24)),
                ('template_id', fields.CharField(null=True, max_length=64)),
                ('mapping', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('page', fields.CharField(null=True, max_length=200)),
                ('holdout_percent', fields.SmallIntField(default=10)),
                ('salt', fields.CharField(max_length=32)),
                ('start_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('launched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('frozen_after', fields.BigIntField(default=0)),
                ('frozen_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('recipients', fields.IntField(default=0)),
                ('held_out', fields.IntField(default=0)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('version', fields.IntField(default=1)),
                ('created_by', fields.ForeignKeyField('models.Operator', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'campaigns', 'app': 'models', 'indexes': [Index(fields=['state', 'start_at'])], 'pk_attr': 'id', 'table_description': 'What a campaign gives and says, to whom and from when, with its progress and counts.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CampaignDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('models.Campaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.RESTRICT)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='campaign_deliveries', on_delete=OnDelete.RESTRICT)),
                ('holdout', fields.BooleanField(default=False)),
                ('channel', fields.CharEnumField(null=True, description='MINIAPP_SUBSCRIBE: miniapp_subscribe\nOFFICIAL_TEMPLATE: official_template', enum_type=Channel, max_length=24)),
                ('template_id', fields.CharField(null=True, max_length=64)),
                ('page', fields.CharField(null=True, max_length=200)),
                ('payload', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('state', fields.CharEnumField(default=DeliveryState.CLAIMED, description='CLAIMED: claimed\nSENDING: sending\nSENT: sent\nSKIPPED: skipped\nFAILED: failed', enum_type=DeliveryState, max_length=16)),
                ('reason', fields.CharField(null=True, max_length=48)),
                ('errcode', fields.IntField(null=True)),
                ('attempts', fields.SmallIntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sending_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('first_sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('grant_spent', fields.BooleanField(default=False)),
                ('msgid', fields.CharField(null=True, max_length=32)),
                ('coupon_id', fields.BigIntField(null=True)),
                ('points_entry_id', fields.BigIntField(null=True)),
                ('gift_error', fields.CharField(null=True, max_length=48)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'campaign_deliveries', 'app': 'models', 'unique_together': (('campaign_id', 'member_id'),), 'indexes': [Index(fields=['campaign_id', 'state', 'next_attempt_at']), Index(fields=['state', 'sending_at'])], 'pk_attr': 'id', 'table_description': 'One member of a launched campaign, from claim to outcome.'},
            bases=['Model'],
        ),
    ]
