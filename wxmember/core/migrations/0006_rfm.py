"""RFM: each card holder's scores and segment, the daily runs, the monthly snapshot, the settings.

`member_rfm` is read by run day and segment (segment sizes now) and written a batch of members
at a time; `rfm_months` holds one row per month and pair of segments (from, to).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from wxmember.core.models.segments import RfmRunStatus
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_tags')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MemberRfm',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.OneToOneField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='rfm', on_delete=OnDelete.CASCADE)),
                ('recency_days', fields.IntField(null=True)),
                ('frequency', fields.IntField(default=0)),
                ('monetary_fen', fields.BigIntField(default=0)),
                ('r_score', fields.SmallIntField(null=True)),
                ('f_score', fields.SmallIntField(null=True)),
                ('m_score', fields.SmallIntField(null=True)),
                ('segment', fields.CharField(max_length=24)),
                ('first_purchase_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_purchase_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('computed_on', fields.DateField()),
                ('snapshot_month', fields.DateField(null=True)),
                ('snapshot_segment', fields.CharField(null=True, max_length=24)),
                ('previous_segment', fields.CharField(null=True, max_length=24)),
            ],
            options={'table': 'member_rfm', 'app': 'models', 'indexes': [Index(fields=['computed_on', 'segment']), Index(fields=['snapshot_month', 'previous_segment'])], 'pk_attr': 'id', 'table_description': "A card holder's RFM as of the run of `computed_on` (purchases before that local day)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RfmMonth',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('month', fields.DateField()),
                ('from_segment', fields.CharField(default='', max_length=24)),
                ('segment', fields.CharField(max_length=24)),
                ('members', fields.IntField(default=0)),
                ('taken_on', fields.DateField()),
            ],
            options={'table': 'rfm_months', 'app': 'models', 'unique_together': (('month', 'from_segment', 'segment'),), 'pk_attr': 'id', 'table_description': 'Members who were in `from_segment` at the snapshot before and in `segment` at this one.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RfmRun',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField()),
                ('settings_version', fields.IntField(default=0)),
                ('mode', fields.CharField(max_length=16)),
                ('cuts', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=RfmRunStatus.RUNNING, description='RUNNING: running\nFINISHED: finished', enum_type=RfmRunStatus, max_length=16)),
                ('cursor', fields.BigIntField(default=0)),
                ('scored', fields.IntField(default=0)),
                ('batches', fields.IntField(default=0)),
                ('snapshot_month', fields.DateField(null=True)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rfm_runs', 'app': 'models', 'unique_together': (('day', 'settings_version'),), 'pk_attr': 'id', 'table_description': 'The RFM run of one local day under one version of the settings, resumable from `cursor`.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RfmSettings',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('mode', fields.CharField(default='quintile', max_length=16)),
                ('thresholds', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('version', fields.IntField(default=0)),
                ('operator', fields.ForeignKeyField('models.Operator', source_field='operator_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rfm_settings', 'app': 'models', 'pk_attr': 'id', 'table_description': 'How scores are given: `quintile`, or `thresholds` set by operators (one row).'},
            bases=['Model'],
        ),
    ]
