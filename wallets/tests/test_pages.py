"""The wallet page and the offline checkout, through Django's test client."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.tests.factories import ClientFactory, ConsultantUserFactory
from wallets.models import Payment, PaymentStatus
from wallets.services import wallet_for
from wallets.tests.factories import fund, paid_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_user(client):
    user = ClientFactory()
    client.force_login(user)
    return user


def test_the_wallet_shows_balance_held_and_available(client, client_user):
    fund(client_user, 123_450)
    html = client.get("/wallet/").content.decode()
    assert 'data-testid="balance">₹1,234.50<' in html
    assert 'data-testid="held">₹0.00<' in html
    assert 'data-testid="available">₹1,234.50<' in html
    assert '<label for="id_amount">Amount (₹)</label>' in html
    assert ">Recharge</button>" in html


def test_the_wallet_is_for_clients(client):
    assert client.get("/wallet/")["Location"] == "/login/?next=/wallet/"
    client.force_login(ConsultantUserFactory())
    assert client.get("/wallet/").status_code == 404


def test_what_a_consultation_needs_is_prefilled_and_told(client, client_user):
    fund(client_user, 10_000)
    html = client.get("/wallet/?need=25000").content.decode()
    assert 'value="250.00"' in html
    assert "Add at least ₹150.00 to start that consultation." in html


@pytest.mark.parametrize("need", ["²", "١٢٠٠", "9" * 5000, "-5", "12.5", ""])
def test_a_need_that_is_no_amount_is_ignored_not_a_500(client, client_user, need):
    # "²".isdigit() is True and int("²") a ValueError; int() refuses 5,000 digits
    response = client.get("/wallet/", {"need": need})
    assert response.status_code == 200
    assert "Add at least" not in response.content.decode()


def test_recharge_opens_an_order_and_goes_to_the_offline_checkout(client, client_user):
    response = client.post("/wallet/", {"amount": "500"})
    payment = Payment.objects.get(user=client_user)
    assert payment.amount == 50_000 and payment.status == PaymentStatus.CREATED
    assert response["Location"] == f"/wallet/checkout/{payment.id}/"


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("0.50", "Ensure this value is greater than or equal to 1."),
        ("100000.01", "Ensure this value is less than or equal to 100000."),
        ("12.345", "Ensure that there are no more than 2 decimal places."),
        ("ten", "Enter a number."),
    ],
)
def test_a_bad_amount_is_told_next_to_the_field(client, client_user, amount, error):
    response = client.post("/wallet/", {"amount": amount})
    assert response.status_code == 400
    assert response.context["form"].errors["amount"] == [error]
    assert not Payment.objects.exists()


def test_pay_at_the_checkout_credits_the_wallet_through_verify(client, client_user):
    client.post("/wallet/", {"amount": "750.25"})
    payment = Payment.objects.get(user=client_user)
    page = client.get(f"/wallet/checkout/{payment.id}/").content.decode()
    assert ">Pay</button>" in page and "₹750.25" in page
    response = client.post(f"/wallet/checkout/{payment.id}/")
    assert response["Location"] == "/wallet/"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED and payment.gateway_payment_id
    assert wallet_for(user=client_user).balance == 75_025
    # Paying twice credits nothing more.
    client.post(f"/wallet/checkout/{payment.id}/")
    assert wallet_for(user=client_user).balance == 75_025


def test_after_paying_the_client_returns_where_they_were_going(client, client_user):
    client.post("/wallet/?next=/consultants/", {"amount": "100", "next": "/consultants/"})
    payment = Payment.objects.get(user=client_user)
    response = client.post(f"/wallet/checkout/{payment.id}/", {"next": "/consultants/"})
    assert response["Location"] == "/consultants/"


def test_someone_elses_checkout_is_a_404(client, client_user):
    other = ClientFactory()
    client.post("/wallet/", {"amount": "100"})
    payment = Payment.objects.get(user=client_user)
    client.force_login(other)
    assert client.get(f"/wallet/checkout/{payment.id}/").status_code == 404
    assert client.post(f"/wallet/checkout/{payment.id}/").status_code == 404
    assert wallet_for(user=client_user).balance == 0


def test_the_checkout_exists_only_with_the_local_gateway(client, client_user, settings):
    client.post("/wallet/", {"amount": "100"})
    payment = Payment.objects.get(user=client_user)
    settings.PAYMENT_GATEWAY = "razorpay"
    assert client.get(f"/wallet/checkout/{payment.id}/").status_code == 404


def test_in_razorpay_mode_the_page_opens_checkout_and_verify_credits(client, client_user, settings):
    from wallets.gateway import payment_signature

    settings.PAYMENT_GATEWAY = "razorpay"
    payment = Payment.objects.create(
        user=client_user, gateway_order_id="order_rzp1", amount=20_000, currency="INR"
    )
    session = client.session
    session["razorpay_order"] = {
        "key": "rzp_test_x",
        "order_id": "order_rzp1",
        "amount": 20_000,
        "currency": "INR",
        "next": "",
    }
    session.save()
    page = client.get("/wallet/").content.decode()
    assert 'src="https://checkout.razorpay.com/v1/checkout.js"' in page
    assert 'data-order="order_rzp1"' in page
    # The handler's answer, posted by static/js/recharge.js.
    response = client.post(
        "/wallet/verify/",
        {
            "razorpay_order_id": "order_rzp1",
            "razorpay_payment_id": "pay_rzp1",
            "razorpay_signature": payment_signature("order_rzp1", "pay_rzp1"),
        },
    )
    assert response["Location"] == "/wallet/"
    assert wallet_for(user=client_user).balance == 20_000
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED


def test_a_forged_signature_credits_nothing(client, client_user):
    client.post("/wallet/", {"amount": "100"})
    payment = Payment.objects.get(user=client_user)
    response = client.post(
        "/wallet/verify/",
        {
            "razorpay_order_id": payment.gateway_order_id,
            "razorpay_payment_id": "pay_forged",
            "razorpay_signature": "0" * 64,
        },
        follow=True,
    )
    assert "We could not confirm this payment" in response.content.decode()
    assert wallet_for(user=client_user).balance == 0


def test_transactions_are_listed_newest_first_and_filtered(client, client_user):
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        paid_payment(client_user, 30_000)
    paid_payment(client_user, 20_000)
    fund(client_user, 5_000)
    rows = client.get("/wallet/").context["entries"]
    assert [abs(e.amount) for e in rows] == [5_000, 20_000, 30_000]
    recharges = client.get("/wallet/?kind=recharge").context["entries"]
    assert [e.amount for e in recharges] == [20_000, 30_000]
    since = (timezone.localdate() - timedelta(days=2)).isoformat()
    recent = client.get(f"/wallet/?kind=recharge&since={since}").context["entries"]
    assert [e.amount for e in recent] == [20_000]


def test_the_wallet_page_reads_a_fixed_number_of_queries(
    client, client_user, django_assert_num_queries
):
    for _ in range(3):
        paid_payment(client_user, 10_000)
    client.get("/wallet/")
    # session, user, wallet, one page of entries (with their transactions)
    with django_assert_num_queries(4):
        client.get("/wallet/")
