"""Half of every page of accounts is left free (fillfactor 50), so that a balance update is a
HOT update (PostgreSQL only): the billing tick writes the balance of every wallet it bills, and
no indexed column (`id`, `user_id`, `kind`) changes, so with room in the page no index is
touched (see consultations' migration 0004). An account is about 100 bytes; the table has one
row per user.
"""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE wallets_account SET (fillfactor = 50)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE wallets_account RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("wallets", "0010_entry_references_checked_per_statement")]

    operations = [migrations.RunPython(forward, backward)]
