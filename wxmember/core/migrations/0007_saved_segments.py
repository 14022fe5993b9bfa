"""Saved segments: operators' named filters over the card holders, an index on a follower's
member for the filter "follows the Official Account", and an index covering what the purchase
criteria aggregate (member, time, amount, refunded).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_rfm')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SavedSegment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=40)),
                ('name_key', fields.CharField(unique=True, max_length=40)),
                ('description', fields.CharField(default='', max_length=200)),
                ('criteria', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_by', fields.ForeignKeyField('models.Operator', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('updated_by', fields.ForeignKeyField('models.Operator', source_field='updated_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'saved_segments', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A named filter over the card holders, unique by name whatever its case and spacing.'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Follower',
            index=Index(fields=['member_id']),
        ),
        ops.AddIndex(
            model_name='Purchase',
            index=Index(fields=['member_id', 'created_at', 'amount_fen', 'refunded_fen']),
        ),
    ]
