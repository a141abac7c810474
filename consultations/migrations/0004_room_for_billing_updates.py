"""Half of every page of consultations is left free (fillfactor 50), so that the billing tick's
update of an active consultation is a HOT update (PostgreSQL only).

A tick rewrites every active consultation's billing state (`billed_seconds`, `total_amount`,
...), none of them indexed. When the row's page has room, PostgreSQL writes the new version in
the same page and no index is touched (heap-only tuple); when it has none, the new version goes
to another page and every one of the table's ten indexes gets a new entry. A consultation is
about 250 bytes: half a page leaves room for one new version of every row on it, and the next
tick's versions take the room of this tick's, pruned. Measured on 5,000 active consultations:
an UPDATE of all of them took 280-430 ms at the default (fillfactor 100) and 51-95 ms at 50
(bench/BILLING.md). The cost: the table's pages hold half as many rows (ended consultations
included). Pages written before this migration keep their layout until they are rewritten.
"""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE consultations_consultation SET (fillfactor = 50)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE consultations_consultation RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("consultations", "0003_event_status_known")]

    operations = [migrations.RunPython(forward, backward)]
