"""The database enforces more of what the code relies on (PostgreSQL; SQLite keeps the Python
checks only):

* `ledger_transaction_immutable`: a ledger transaction, like its entries, is never updated or
  deleted (a BEFORE UPDATE OR DELETE row trigger; inserts, the billing tick's only statement
  on this table, do not fire it).
* `ledger_transaction_two_legs`: the deferred `ledger_transaction_balanced` check (one call per
  ledger transaction at commit, unchanged in cost: the same one index scan) also counts the
  legs: a transaction with no entry, which summed to zero and passed before, is refused.
* `hold_status_known`, `wallet_status_change_action_known`: CHECKs on the status columns that
  had none.
"""

from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION wallets_ledger_transaction_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger_transaction_immutable: ledger transactions are never updated or deleted'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_transaction_immutable
    BEFORE UPDATE OR DELETE ON wallets_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION wallets_ledger_transaction_immutable();

CREATE OR REPLACE FUNCTION wallets_ledger_transaction_balanced() RETURNS trigger AS $$
DECLARE
    total numeric;
    legs bigint;
BEGIN
    SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO total, legs
      FROM wallets_ledgerentry WHERE transaction_id = NEW.id;
    IF legs < 2 THEN
        RAISE EXCEPTION 'ledger_transaction_two_legs: transaction % has % entries, not 2 or more',
            NEW.id, legs USING ERRCODE = 'check_violation';
    END IF;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger_transaction_balanced: transaction % sums to %, not 0',
            NEW.id, total USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

BACKWARD = """
DROP TRIGGER IF EXISTS ledger_transaction_immutable ON wallets_ledgertransaction;
DROP FUNCTION IF EXISTS wallets_ledger_transaction_immutable();

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
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("wallets", "0007_refund_claims_duplicate_payments")]

    operations = [
        migrations.AddConstraint(
            model_name="hold",
            constraint=models.CheckConstraint(
                condition=models.Q(status__in=["open", "closed"]), name="hold_status_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="walletstatuschange",
            constraint=models.CheckConstraint(
                condition=models.Q(action__in=["freeze", "unfreeze"]),
                name="wallet_status_change_action_known",
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
