"""Points expiry: a partial index of the lots that still hold points, and room for balances.

The expiry job pages through the lots past their date in (expires_at, id) order. Lots that were
spent or expired keep their row (`remaining` 0) and would otherwise be read and passed over on
every page, and by every run from the first lot ever earned: in `points_lots_due` they are not.
SQLite and PostgreSQL take the same statement.

PostgreSQL only: members' pages keep a tenth free (`fillfactor` 90). Every points change
rewrites its member's row for the balance, and with room on the page the new version stays
there without a new entry in each of the table's indexes (a "HOT" update). It applies to pages
written from now on.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


async def members_fillfactor(apps, schema_editor) -> None:
    conn = schema_editor.client
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script("ALTER TABLE members SET (fillfactor = 90)")


async def members_fillfactor_reset(apps, schema_editor) -> None:
    conn = schema_editor.client
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script("ALTER TABLE members RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [('models', '0013_coupons_by_member_and_validity')]

    initial = False

    operations = [
        ops.RunSQL(
            "CREATE INDEX points_lots_due ON points_lots (expires_at, id) WHERE remaining > 0",
            reverse_sql="DROP INDEX points_lots_due",
        ),
        ops.RunPython(members_fillfactor, members_fillfactor_reset),
    ]
