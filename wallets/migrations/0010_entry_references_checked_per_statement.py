"""A ledger entry's two references (its transaction, its account) are checked once per INSERT
statement instead of once per row (PostgreSQL; SQLite keeps Django's PROTECT only).

A foreign key's check is a query per inserted row, queued until commit: a billing tick inserts
three entries a consultation, and those 240,000 checks per 40,000 sessions were 15-20 % of the
tick (bench/BILLING.md). The statement trigger that already joins every new entry to its
transaction (`ledger_entry_joins_new_transaction`, migration 0003) now also refuses, for the
whole statement in one query each:

* an entry whose transaction does not exist (or was not inserted by this database
  transaction: unchanged);
* an entry whose account does not exist.

What the foreign keys also prevented stays prevented: a transaction is never deleted
(`ledger_transaction_immutable`, migration 0008), and an account with entries cannot be deleted
(`ledger_account_keeps_its_entries`, a statement trigger on `wallets_account`). A row lock is
not needed for either: every posting updates its accounts' balances in the same database
transaction (a delete waits for it, then sees its entries), and its transaction is new.

`account_id`'s own index goes too: `ledger_entry_account_time` and `ledger_entry_account_kind`
both start with the column and serve every read by account.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION wallets_ledger_entry_joins_new_transaction() RETURNS trigger AS $$
DECLARE
    found text;
    absent boolean;
BEGIN
    -- One probe per transaction of the statement (not per entry), one per entry's account.
    SELECT e.transaction_id::text, t.id IS NULL INTO found, absent
      FROM (SELECT DISTINCT transaction_id FROM new_entries) e
      LEFT JOIN wallets_ledgertransaction t ON t.id = e.transaction_id
     WHERE t.id IS NULL OR t.created_xact <> pg_current_xact_id()
     LIMIT 1;
    IF absent THEN
        RAISE EXCEPTION 'ledger_entry_transaction_exists: entry of transaction %, which does '
            'not exist', found USING ERRCODE = 'foreign_key_violation';
    ELSIF found IS NOT NULL THEN
        RAISE EXCEPTION 'ledger_transaction_balanced: transaction % was committed before; '
            'entries are added only with their transaction', found
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT e.account_id::text INTO found
      FROM new_entries e LEFT JOIN wallets_account a ON a.id = e.account_id
     WHERE a.id IS NULL
     LIMIT 1;
    IF found IS NOT NULL THEN
        RAISE EXCEPTION 'ledger_entry_account_exists: entry of account %, which does not exist',
            found USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION wallets_ledger_account_keeps_its_entries() RETURNS trigger AS $$
DECLARE
    kept bigint;
BEGIN
    SELECT g.id INTO kept
      FROM gone_accounts g
     WHERE EXISTS (SELECT 1 FROM wallets_ledgerentry e WHERE e.account_id = g.id)
     LIMIT 1;
    IF kept IS NOT NULL THEN
        RAISE EXCEPTION 'ledger_account_keeps_its_entries: account % has ledger entries', kept
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_account_keeps_its_entries
    AFTER DELETE ON wallets_account
    REFERENCING OLD TABLE AS gone_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION wallets_ledger_account_keeps_its_entries();
"""

# Before going back, the foreign keys (restored by the AlterFields, which run after) would
# refuse what the triggers refuse; the old trigger function is put back.
BACKWARD = """
DROP TRIGGER IF EXISTS ledger_account_keeps_its_entries ON wallets_account;
DROP FUNCTION IF EXISTS wallets_ledger_account_keeps_its_entries();

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
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0009_payment_fees")]

    operations = [
        migrations.RunPython(forward, backward),
        migrations.AlterField(
            model_name="ledgerentry",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="wallets.account",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="transaction",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="entries",
                to="wallets.ledgertransaction",
            ),
        ),
    ]
