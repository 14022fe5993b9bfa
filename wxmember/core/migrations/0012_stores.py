"""Stores (门店): the shops, cashiers bound to them, where members opened their cards, and the
store of each refund and coupon write-off.

Purchases kept their free-text `store` column: it now holds a store's code. Every text the till
recorded before becomes a store of its own (code and name that text, active), so the history
keeps its store and the tills that send those texts keep working.
"""

from datetime import datetime, timezone

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from wxmember.core.models.stores import OpeningSource
from tortoise import fields
from tortoise.indexes import Index



async def stores_from_purchases(apps, schema_editor) -> None:
    store = apps.get_model("models", "Store")
    purchase = apps.get_model("models", "Purchase")
    conn = schema_editor.client
    texts = await (
        purchase.filter(store__isnull=False)
        .using_db(conn)
        .distinct()
        .values_list("store", flat=True)
    )
    known = set(await store.all().using_db(conn).values_list("code", flat=True))
    now = datetime.now(timezone.utc)
    for text in sorted({str(text) for text in texts if text} - known):
        await store.create(
            code=text, name=text, created_at=now, updated_at=now, using_db=conn
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0011_referrals')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Store',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=64)),
                ('city', fields.CharField(default='', max_length=32)),
                ('address', fields.CharField(default='', max_length=200)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'stores', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One offline shop, known to the till and the Official Account QR codes by its code.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OperatorStore',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('operator', fields.ForeignKeyField('models.Operator', source_field='operator_id', db_constraint=True, to_field='id', related_name='store_links', on_delete=OnDelete.CASCADE)),
                ('store', fields.ForeignKeyField('models.Store', source_field='store_id', db_constraint=True, to_field='id', related_name='operator_links', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'operator_stores', 'app': 'models', 'unique_together': (('operator_id', 'store_id'),), 'indexes': [Index(fields=['store_id', 'operator_id'])], 'pk_attr': 'id', 'table_description': 'A cashier bound to a store: a bound cashier acts for its stores only.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StoreCardOpening',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.OneToOneField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='store_opening', on_delete=OnDelete.CASCADE)),
                ('store', fields.ForeignKeyField('models.Store', source_field='store_id', db_constraint=True, to_field='id', related_name='card_openings', on_delete=OnDelete.RESTRICT)),
                ('source', fields.CharEnumField(description='MINIAPP_SCENE: miniapp_scene\nOFFICIAL_SCENE: official_scene\nIMPORT: import', enum_type=OpeningSource, max_length=16)),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'store_card_openings', 'app': 'models', 'indexes': [Index(fields=['store_id', 'opened_at'])], 'pk_attr': 'id', 'table_description': 'The store a member opened their card at, once per member, and how it was known.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Coupon',
            name='store',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddIndex(
            model_name='Coupon',
            index=Index(fields=['store', 'used_at']),
        ),
        ops.AddIndex(
            model_name='Purchase',
            index=Index(fields=['store', 'created_at']),
        ),
        ops.AddField(
            model_name='PurchaseRefund',
            name='store',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddIndex(
            model_name='PurchaseRefund',
            index=Index(fields=['store', 'created_at']),
        ),
        # Going back keeps the rows: the table goes with the step before.
        ops.RunPython(stores_from_purchases, ops.RunPython.noop),
    ]
