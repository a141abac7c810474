"""The room's recharge with PAYMENT_GATEWAY=stripe: the dialog gets Stripe's client secret and
publishable key, and the wallet is credited only when Stripe says the intent succeeded."""

import pytest
import responses

from wallets.models import Payment
from wallets.services import wallet_for
from wallets.tests.stripe_fakes import API, PUBLISHABLE_KEY, intent, use_stripe
from web.tests.test_room import _frozen_clock, accepted, room_url  # noqa: F401
from web.tests.test_room import people as people  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_api(settings):
    use_stripe(settings)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_the_rooms_recharge_confirms_a_payment_intent_and_credits_once(
    client,
    people,
    stripe_api,  # noqa: F811 - the fixture imported above
):
    client_user, _ = people
    consultation = accepted(people)
    client.force_login(client_user)
    stripe_api.post(f"{API}/payment_intents", json=intent("pi_room", 30_000))
    order = client.post(room_url(consultation, "recharge/"), {"amount": "300"}).json()
    assert order["gateway"] == "stripe"
    assert order["client_secret"] == "pi_room_secret_abc"
    assert order["publishable_key"] == PUBLISHABLE_KEY
    assert "pay_url" not in order and "key_id" not in order
    verify = room_url(consultation, "recharge/verify/")
    stripe_api.get(f"{API}/payment_intents/pi_room", json=intent("pi_room", 30_000))
    answer = client.post(verify, {"payment_id": order["payment_id"]})
    assert answer.status_code == 409 and answer.json()["code"] == "payment_not_captured"
    stripe_api.upsert(
        responses.GET,
        f"{API}/payment_intents/pi_room",
        json=intent("pi_room", 30_000, status="succeeded", charge="ch_room"),
    )
    paid = client.post(verify, {"payment_id": order["payment_id"]}).json()
    assert paid["meter"]["balance"] == 80_000
    again = client.post(verify, {"payment_id": order["payment_id"]}).json()
    assert again["meter"]["balance"] == 80_000
    assert wallet_for(user=client_user).balance == 80_000
    assert Payment.objects.get(id=order["payment_id"]).status == "captured"
    # The offline checkout's route is not Stripe's.
    pay = room_url(consultation, f"recharge/{order['payment_id']}/pay/")
    assert client.post(pay).status_code == 404
