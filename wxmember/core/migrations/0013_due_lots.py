"""Due lots: a partial index of the lots that still hold points, by expiry.

The expiry job pages through the lots past their date in (expires_at, id) order. Lots that were
spent or expired keep their row (`remaining` 0) and would otherwise be read and passed over on
every page; in this index they are not. SQLite and PostgreSQL take the same statement.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0012_stores')]

    initial = False

    operations = [
        ops.RunSQL(
            "CREATE INDEX points_lots_due ON points_lots (expires_at, id) WHERE remaining > 0",
            reverse_sql="DROP INDEX points_lots_due",
        ),
    ]
