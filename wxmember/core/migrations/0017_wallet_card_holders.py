"""Members' cards in WeChat's wallet, their pushes, and the sync outbox the database keeps.

The triggers bump a held card's `wanted_version` in the transaction that changes what the card
shows: the member's points balance or tier (`members`), or one of their coupons (`coupons`).
Every write path goes through them, the set-based expiry included. The partial index
`wallet_card_holders_due` holds only the cards still to send.

On PostgreSQL they are constraint triggers deferred to the commit: the holder's row is then the
last lock a transaction takes, held only while it commits. Taken where the change happens, it
would sit between the member's row and, say, a coupon template's row in one transaction and
after that template's row in a coupon claim: the same member redeeming a coupon item and
claiming that coupon at once could deadlock. SQLite has one writer at a time and fires them
at once.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from wxmember.core.models.wallet_card import HolderState
from tortoise import fields
from tortoise.indexes import Index

_DUE = (
    "CREATE INDEX wallet_card_holders_due ON wallet_card_holders (attempt_after)"
    " WHERE wanted_version > sent_version AND state = 'held'"
)
_BUMP = (
    "UPDATE wallet_card_holders SET wanted_version = wanted_version + 1"
    " WHERE member_id = {member} AND state = 'held'"
)
_CHANGED = (
    "OLD.points_balance IS DISTINCT FROM NEW.points_balance"
    " OR OLD.tier_id IS DISTINCT FROM NEW.tier_id"
)

POSTGRES = f"""
CREATE FUNCTION wallet_card_member_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_BUMP.format(member="NEW.id")}; RETURN NULL; END $$;
CREATE FUNCTION wallet_card_coupon_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_BUMP.format(member="NEW.member_id")}; RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER wallet_card_member AFTER UPDATE OF points_balance, tier_id ON members
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION wallet_card_member_changed();
CREATE CONSTRAINT TRIGGER wallet_card_coupon_issued AFTER INSERT ON coupons
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION wallet_card_coupon_changed();
CREATE CONSTRAINT TRIGGER wallet_card_coupon_status AFTER UPDATE OF status ON coupons
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION wallet_card_coupon_changed();
"""
POSTGRES_REVERSE = """
DROP TRIGGER wallet_card_member ON members;
DROP TRIGGER wallet_card_coupon_issued ON coupons;
DROP TRIGGER wallet_card_coupon_status ON coupons;
DROP FUNCTION wallet_card_member_changed();
DROP FUNCTION wallet_card_coupon_changed();
"""
SQLITE = f"""
CREATE TRIGGER wallet_card_member AFTER UPDATE OF points_balance, tier_id ON members
  WHEN {_CHANGED.replace("IS DISTINCT FROM", "IS NOT")}
  BEGIN {_BUMP.format(member="NEW.id")}; END;
CREATE TRIGGER wallet_card_coupon_issued AFTER INSERT ON coupons
  BEGIN {_BUMP.format(member="NEW.member_id")}; END;
CREATE TRIGGER wallet_card_coupon_status AFTER UPDATE OF status ON coupons
  WHEN OLD.status IS NOT NEW.status
  BEGIN {_BUMP.format(member="NEW.member_id")}; END;
"""
SQLITE_REVERSE = """
DROP TRIGGER wallet_card_member;
DROP TRIGGER wallet_card_coupon_issued;
DROP TRIGGER wallet_card_coupon_status;
"""


async def triggers(apps, schema_editor) -> None:
    conn = schema_editor.client
    postgres = conn.capabilities.dialect == "postgres"
    await conn.execute_script(POSTGRES if postgres else SQLITE)


async def triggers_reset(apps, schema_editor) -> None:
    conn = schema_editor.client
    postgres = conn.capabilities.dialect == "postgres"
    await conn.execute_script(POSTGRES_REVERSE if postgres else SQLITE_REVERSE)


class Migration(migrations.Migration):
    dependencies = [("models", "0016_wallet_card")]

    initial = False

    operations = [
        ops.CreateModel(
            name="WalletCardEvent",
            fields=[
                (
                    "id",
                    fields.BigIntField(
                        generated=True, primary_key=True, unique=True, db_index=True
                    ),
                ),
                ("push_key", fields.CharField(unique=True, max_length=160)),
                ("event", fields.CharField(max_length=48)),
                ("card_id", fields.CharField(max_length=64)),
                ("code", fields.CharField(null=True, max_length=32)),
                ("official_openid", fields.CharField(null=True, max_length=64)),
                (
                    "member",
                    fields.ForeignKeyField(
                        "models.Member",
                        source_field="member_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.SET_NULL,
                    ),
                ),
                ("detail", fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "wallet_card_events",
                "app": "models",
                "indexes": [
                    Index(fields=["member_id", "created_at"]),
                    Index(fields=["event", "created_at"]),
                ],
                "pk_attr": "id",
                "table_description": "One push about the card in a member's wallet (added, deleted, viewed, …), kept as sent.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WalletCardHolder",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "member",
                    fields.ForeignKeyField(
                        "models.Member",
                        source_field="member_id",
                        unique=True,
                        db_constraint=True,
                        to_field="id",
                        related_name=False,
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("card_id", fields.CharField(max_length=64)),
                ("code", fields.CharField(max_length=32)),
                ("official_openid", fields.CharField(null=True, max_length=64)),
                (
                    "state",
                    fields.CharEnumField(
                        default=HolderState.HELD,
                        description="HELD: held\nDELETED: deleted",
                        enum_type=HolderState,
                        max_length=16,
                    ),
                ),
                (
                    "activated_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("wanted_version", fields.IntField(default=1)),
                ("sent_version", fields.IntField(default=0)),
                ("attempt_after", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("attempts", fields.IntField(default=0)),
                (
                    "claimed_until",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("last_error", fields.CharField(null=True, max_length=512)),
                ("sent_bonus", fields.IntField(null=True)),
                ("sent_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("added_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("deleted_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "wallet_card_holders",
                "app": "models",
                "unique_together": (("card_id", "code"),),
                "pk_attr": "id",
                "table_description": "A member who added the card to their WeChat wallet, and the wallet's sync state.",
            },
            bases=["Model"],
        ),
        ops.RunSQL(_DUE, reverse_sql="DROP INDEX wallet_card_holders_due"),
        ops.RunPython(triggers, triggers_reset),
    ]
