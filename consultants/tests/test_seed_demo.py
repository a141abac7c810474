from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from consultants.models import ConsultantProfile
from wallets.models import LedgerTransaction
from wallets.services import wallet_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development(settings):
    """seed_demo is a development tool (pytest-django runs tests with DEBUG off)."""
    settings.DEBUG = True


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_it_loads_a_living_platform_through_the_ledger():
    output = seed()

    assert "admin@demo.consult" in output
    assert User.objects.get(email="admin@demo.consult").is_admin
    verified = ConsultantProfile.objects.filter(is_verified=True)
    assert verified.count() == 10
    assert verified.filter(is_online=True).count() == 6
    assert not ConsultantProfile.objects.filter(is_verified=False, is_online=True).exists()
    # (less the demo booking she paid from her wallet: seed_demo_bookings, Rs 1,500)
    assert wallet_for(user=User.objects.get(email="asha@demo.consult")).balance == 500_000 - 150_000


def test_it_changes_nothing_when_run_again():
    seed()
    users, transactions = User.objects.count(), LedgerTransaction.objects.count()

    seed()

    assert User.objects.count() == users
    assert LedgerTransaction.objects.count() == transactions


def test_it_refuses_with_debug_off_and_makes_no_admin(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="known password"):
        seed()
    assert not User.objects.exists()
