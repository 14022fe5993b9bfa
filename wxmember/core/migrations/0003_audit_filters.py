"""The audit log is read by staff member and by action, newest first: an index for each."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0002_entry_tier")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="AuditEntry",
            index=Index(fields=["operator_id", "id"]),
        ),
        ops.AddIndex(
            model_name="AuditEntry",
            index=Index(fields=["action", "id"]),
        ),
    ]
