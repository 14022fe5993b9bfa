"""Member import: imports with their progress and refused rows, the members each brought in,
the store that opened a card, and the `import` reason of a tier change."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from wxmember.core.models.member_imports import ImportStatus
from wxmember.core.models.tier_history import TierChangeReason
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_tier_benefits')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MemberImport',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('file_sha256', fields.CharField(db_index=True, max_length=64)),
                ('filename', fields.CharField(default='', max_length=200)),
                ('status', fields.CharEnumField(default=ImportStatus.RUNNING, description='RUNNING: running\nFINISHED: finished', enum_type=ImportStatus, max_length=16)),
                ('operator', fields.ForeignKeyField('models.Operator', source_field='operator_id', null=True, db_constraint=True, to_field='id', related_name='member_imports', on_delete=OnDelete.SET_NULL)),
                ('actor', fields.CharField(max_length=64)),
                ('cursor', fields.IntField(default=0)),
                ('rows', fields.IntField(default=0)),
                ('created', fields.IntField(default=0)),
                ('unchanged', fields.IntField(default=0)),
                ('changed', fields.IntField(default=0)),
                ('refused', fields.IntField(default=0)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'member_imports', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One CSV of members applied batch by batch: its file, its progress and its counts.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ImportedMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.OneToOneField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='imported', on_delete=OnDelete.RESTRICT)),
                ('member_import', fields.ForeignKeyField('models.MemberImport', source_field='member_import_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.RESTRICT)),
                ('line', fields.IntField()),
                ('fingerprint', fields.CharField(max_length=64)),
                ('claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'imported_members', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A member created by an import, with the fingerprint of the row that made them.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberImportProblem',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member_import', fields.ForeignKeyField('models.MemberImport', source_field='member_import_id', db_constraint=True, to_field='id', related_name='problems', on_delete=OnDelete.CASCADE)),
                ('line', fields.IntField()),
                ('card_no', fields.CharField(default='', max_length=32)),
                ('problem', fields.CharField(max_length=32)),
                ('detail', fields.CharField(default='', max_length=200)),
            ],
            options={'table': 'member_import_problems', 'app': 'models', 'indexes': [Index(fields=['member_import_id', 'line'])], 'pk_attr': 'id', 'table_description': 'A row of an import that was not applied: its line, what it names and why.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='TierChange',
            name='reason',
            field=fields.CharEnumField(description='UPGRADE: upgrade\nDOWNGRADE: downgrade\nOPERATOR: operator\nIMPORT: import', enum_type=TierChangeReason, max_length=16),
        ),
    ]
