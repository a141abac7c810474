"""Random sequences of credits, debits, transfers, holds, releases, recharges and refunds keep
every invariant of the books after each step."""

import pytest
from django.db import transaction
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from accounts.tests.factories import ClientFactory, ConsultantUserFactory
from config.errors import ApiError
from wallets import payments, services
from wallets.models import Account, EntryKind, Hold, HoldStatus
from wallets.reconcile import check_ledger
from wallets.tests import factories as ledger
from wallets.tests.factories import paid_payment

amounts = st.integers(min_value=1, max_value=30_000)


class Books(RuleBasedStateMachine):
    """Each example runs in a savepoint rolled back at teardown, over the same three users."""

    users: list = []

    @initialize()
    def start(self):
        self.savepoint = transaction.atomic()
        # Like the test case's own block: the services' durable blocks may open inside it.
        self.savepoint._from_testcase = True
        self.savepoint.__enter__()
        *self.clients, self.consultant = self.users
        self.paid = []
        self.model = {u.id: services.wallet_for(user=u).balance for u in self.users}
        self.step = 0

    def teardown(self):
        if hasattr(self, "savepoint"):
            transaction.set_rollback(True)
            self.savepoint.__exit__(None, None, None)

    def key(self, name):
        self.step += 1
        return f"{name}:{id(self)}:{self.step}"

    @rule(who=st.integers(0, 1), amount=amounts)
    def credit(self, who, amount):
        user = self.clients[who]
        ledger.credit(
            user=user, amount=amount, kind=EntryKind.ADJUSTMENT, idempotency_key=self.key("c")
        )
        self.model[user.id] += amount

    @rule(who=st.integers(0, 1), amount=amounts)
    def debit(self, who, amount):
        user = self.clients[who]
        wallet = services.wallet_for(user=user)
        try:
            ledger.debit(
                user=user, amount=amount, kind=EntryKind.ADJUSTMENT, idempotency_key=self.key("d")
            )
            self.model[user.id] -= amount
            assert amount <= wallet.available
        except ApiError:
            assert amount > wallet.available

    @rule(who=st.integers(0, 1), amount=amounts, use_hold=st.booleans())
    def charge(self, who, amount, use_hold):
        user = self.clients[who]
        hold = Hold.objects.filter(account__user=user, status=HoldStatus.OPEN).first()
        try:
            ledger.transfer(
                from_user=user,
                to_user=self.consultant,
                amount=amount,
                commission=services.commission_for(amount),
                idempotency_key=self.key("t"),
                consume_hold=hold if use_hold else None,
            )
            self.model[user.id] -= amount
            self.model[self.consultant.id] += amount - services.commission_for(amount)
        except ApiError:
            pass

    @rule(who=st.integers(0, 1), amount=amounts)
    def hold(self, who, amount):
        try:
            services.hold(user=self.clients[who], amount=amount, idempotency_key=self.key("h"))
        except ApiError:
            pass

    @rule(who=st.integers(0, 1), partial=st.one_of(st.none(), amounts))
    def release(self, who, partial):
        hold = Hold.objects.filter(account__user=self.clients[who], status="open").first()
        if hold is not None:
            services.release(hold=hold, amount=partial)

    @rule(who=st.integers(0, 1), amount=st.integers(100, 50_000))
    def recharge(self, who, amount):
        user = self.clients[who]
        self.paid.append(paid_payment(user, amount))
        self.model[user.id] += amount

    @rule(data=st.data())
    def refund(self, data):
        if not self.paid:
            return
        payment = data.draw(st.sampled_from(self.paid))
        amount = data.draw(st.integers(1, payment.amount))
        try:
            payments.refund_payment(payment_id=payment.id, amount=amount)
            self.model[payment.user_id] -= amount
        except ApiError:
            pass

    @invariant()
    def books_are_exact(self):
        if not hasattr(self, "clients"):
            return
        report = check_ledger()
        assert report.clean, report.violations
        for user_id, expected in self.model.items():
            wallet = Account.objects.get(user_id=user_id)
            assert wallet.balance == expected
            assert 0 <= wallet.held <= wallet.balance


@pytest.mark.django_db
def test_the_books_stay_exact_under_random_operations():
    from hypothesis.stateful import run_state_machine_as_test

    Books.users = [ClientFactory(), ClientFactory(), ConsultantUserFactory()]
    run_state_machine_as_test(
        Books,
        settings=hypothesis_settings(
            max_examples=15, stateful_step_count=15, deadline=None, database=None
        ),
    )
