"""Member tags: the tags, the members carrying them (indexed both ways) and bulk imports.

A member carries a tag once (unique member and tag); the (tag, member) index serves the
members of a tag and a segment's any/all/none filter over tags.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from wxmember.core.models.tags import ImportAction
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_dashboard')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Tag',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=32)),
                ('name_key', fields.CharField(unique=True, max_length=32)),
                ('colour', fields.CharField(null=True, max_length=7)),
                ('description', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'tags', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A label on members, named once whatever its case and spacing.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberTag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='tag_links', on_delete=OnDelete.CASCADE)),
                ('tag', fields.ForeignKeyField('models.Tag', source_field='tag_id', db_constraint=True, to_field='id', related_name='member_links', on_delete=OnDelete.CASCADE)),
                ('tagged_by', fields.ForeignKeyField('models.Operator', source_field='tagged_by_id', null=True, db_constraint=True, to_field='id', related_name='member_tags', on_delete=OnDelete.SET_NULL)),
                ('tagged_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'member_tags', 'app': 'models', 'unique_together': (('member_id', 'tag_id'),), 'indexes': [Index(fields=['tag_id', 'member_id'])], 'pk_attr': 'id', 'table_description': 'One member carrying one tag, with who put it there and when.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TagImport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('tag', fields.ForeignKeyField('models.Tag', source_field='tag_id', null=True, db_constraint=True, to_field='id', related_name='imports', on_delete=OnDelete.SET_NULL)),
                ('tag_name', fields.CharField(max_length=32)),
                ('action', fields.CharEnumField(description='ADD: add\nREMOVE: remove', enum_type=ImportAction, max_length=8)),
                ('filename', fields.CharField(default='', max_length=200)),
                ('operator', fields.ForeignKeyField('models.Operator', source_field='operator_id', null=True, db_constraint=True, to_field='id', related_name='tag_imports', on_delete=OnDelete.SET_NULL)),
                ('actor', fields.CharField(max_length=64)),
                ('rows', fields.IntField(default=0)),
                ('changed', fields.IntField(default=0)),
                ('unchanged', fields.IntField(default=0)),
                ('unknown', fields.IntField(default=0)),
                ('invalid', fields.IntField(default=0)),
                ('duplicates', fields.IntField(default=0)),
                ('problems', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'tag_imports', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One CSV of card numbers applied to a tag: its counts and the rows that were refused.'},
            bases=['Model'],
        ),
    ]
