"""`ledger_transaction_balanced`, checked once per transaction instead of once per entry.

Before: a deferred constraint trigger FOR EACH ROW of `wallets_ledgerentry` summed the entries
of the row's transaction at commit: a 2,000-charge billing batch (6,000 entries) ran 6,000
plpgsql calls and 6,000 index scans, the same sum three times per transaction.

Now the rule is kept by two triggers that together say the same thing:

1. `ledger_transaction_balanced`, a deferred constraint trigger FOR EACH ROW of
   `wallets_ledgertransaction` (the same name, so `SET CONSTRAINTS ledger_transaction_balanced
   IMMEDIATE` still works): at commit, the entries of each transaction inserted in this database
   transaction sum to zero. One call per ledger transaction.
2. `ledger_entry_joins_new_transaction`, a statement-level AFTER INSERT trigger on
   `wallets_ledgerentry` with a transition table: an entry may only be added to a ledger
   transaction inserted by the SAME database transaction. Otherwise an entry added later to an
   old, committed transaction would never be checked by (1); this trigger refuses it at once,
   with the rule's name in the message. One call per INSERT statement, a join of the inserted
   rows with their transactions.

How (2) knows: `wallets_ledgertransaction.created_xact` (xid8, default `pg_current_xact_id()`),
a column only PostgreSQL knows about (the Django model does not list it; it fills itself). It
is the TOP-LEVEL transaction id even inside savepoints (Django's nested `atomic`), which the
row's `xmin` is not (a row inserted in a savepoint carries the subtransaction's xid), so
balanced inserts in savepoints work. Old rows get a created_xact of 0 here, never a live
transaction's.

What it still guarantees, as before: a transaction whose entries do not sum to zero cannot be
committed (raw SQL included); entries can be neither updated nor deleted
(`ledger_entry_immutable`, unchanged), so a committed transaction stays balanced.

SQLite (the embedded mode) gets none of this; the services' Python checks apply there.
"""

from django.db import migrations

FORWARD = """
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON wallets_ledgerentry;
DROP FUNCTION IF EXISTS wallets_ledger_transaction_balanced();

ALTER TABLE wallets_ledgertransaction ADD COLUMN created_xact xid8;
UPDATE wallets_ledgertransaction SET created_xact = '0'::xid8;
ALTER TABLE wallets_ledgertransaction
    ALTER COLUMN created_xact SET DEFAULT pg_current_xact_id(),
    ALTER COLUMN created_xact SET NOT NULL;

CREATE OR REPLACE FUNCTION wallets_ledger_transaction_balanced() RETURNS trigger AS $$
DECLARE
    total numeric;
BEGIN
    SELECT COALESCE(SUM(amount), 0) INTO total
      FROM wallets_ledgerentry WHERE transaction_id = NEW.id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger_transaction_balanced: transaction % sums to %, not 0',
            NEW.id, total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON wallets_ledgertransaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallets_ledger_transaction_balanced();

CREATE OR REPLACE FUNCTION wallets_ledger_entry_joins_new_transaction() RETURNS trigger AS $$
DECLARE
    late uuid;
BEGIN
    SELECT t.id INTO late
      FROM new_entries e JOIN wallets_ledgertransaction t ON t.id = e.transaction_id
     WHERE t.created_xact <> pg_current_xact_id()
     LIMIT 1;
    IF late IS NOT NULL THEN
        RAISE EXCEPTION 'ledger_transaction_balanced: transaction % was committed before; '
            'entries are added only with their transaction', late
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_entry_joins_new_transaction
    AFTER INSERT ON wallets_ledgerentry
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_ledger_entry_joins_new_transaction();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS ledger_entry_joins_new_transaction ON wallets_ledgerentry;
DROP FUNCTION IF EXISTS wallets_ledger_entry_joins_new_transaction();
DROP TRIGGER IF EXISTS ledger_transaction_balanced ON wallets_ledgertransaction;
DROP FUNCTION IF EXISTS wallets_ledger_transaction_balanced();
ALTER TABLE wallets_ledgertransaction DROP COLUMN IF EXISTS created_xact;

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
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0002_ledger_triggers")]

    operations = [migrations.RunPython(forward, backward)]
