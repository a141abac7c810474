"""The ledger transactions' idempotency key keeps one index: its unique constraint.

`unique=True` on a `CharField` makes Django create, on PostgreSQL, a second index besides the
constraint's (`..._like`, `varchar_pattern_ops`), for `LIKE 'prefix%'` matches. No query matches
a key by prefix (the admin's search is `UPPER(...) LIKE '%...%'`, which neither index serves),
and every posting inserted a key into both: keys start with a random consultation or payment
id, so each insert lands on a random page of each index. Without it, a 20,000-session billing
tick took 1.6 s instead of 2.0 s (bench/BILLING.md).

The model now states the uniqueness as a `UniqueConstraint` with the existing constraint's name,
so the database keeps the index it has; only the `_like` index is dropped.
"""

from django.db import migrations, models

LIKE_INDEX = "wallets_ledgertransaction_idempotency_key_060bf444_like"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {LIKE_INDEX}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {LIKE_INDEX} ON wallets_ledgertransaction "
            "(idempotency_key varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("wallets", "0011_room_for_balance_updates")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ledgertransaction",
                    name="idempotency_key",
                    field=models.CharField(max_length=255),
                ),
                migrations.AddConstraint(
                    model_name="ledgertransaction",
                    constraint=models.UniqueConstraint(
                        fields=("idempotency_key",),
                        name="wallets_ledgertransaction_idempotency_key_key",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
