"""PostgreSQL keeps the books by itself: balanced transactions, immutable entries.

SQLite (the embedded mode) gets neither trigger; there the services' Python checks apply.
"""

from django.db import migrations

BALANCED = """
CREATE OR REPLACE FUNCTION wallets_ledger_transaction_balanced() RETURNS trigger AS $$
DECLARE
    total numeric;
BEGIN
    SELECT COALESCE(SUM(amount), 0) INTO total
      FROM wallets_ledgerentry WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger_transaction_balanced: transaction % sums to %, not 0',
            NEW.transaction_id, total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON wallets_ledgerentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallets_ledger_transaction_balanced();

CREATE OR REPLACE FUNCTION wallets_ledger_entry_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entry_immutable: ledger entries are never updated or deleted'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_entry_immutable
    BEFORE UPDATE OR DELETE ON wallets_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION wallets_ledger_entry_immutable();
"""

UNDO = """
DROP TRIGGER IF EXISTS ledger_entry_immutable ON wallets_ledgerentry;
DROP FUNCTION IF EXISTS wallets_ledger_entry_immutable();
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON wallets_ledgerentry;
DROP FUNCTION IF EXISTS wallets_ledger_transaction_balanced();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BALANCED, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNDO, params=None)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
