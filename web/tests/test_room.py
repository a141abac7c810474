"""The consultation room's page and its JSON routes (web/room.py), without a browser: who may
see it, what each state shows, and that every figure is the server's own."""

import re
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from chat.services import send_message
from consultants.tests.factories import OnlineConsultantFactory
from consultations import selectors, services
from consultations.models import Consultation, EndReason, Kind, Status
from reviews.models import Review
from wallets.gateway import payment_signature
from wallets.models import Payment, PaymentStatus
from wallets.services import wallet_for
from wallets.tests.factories import fund
from web.templatetags.site import format_rupees

pytestmark = pytest.mark.django_db

RATE = 6000  # paise a minute: ₹60.00, 100 paise a second


@pytest.fixture(autouse=True)
def _frozen_clock():
    """Time stands still unless a test moves it (`elapse`): figures are exact."""
    with time_machine.travel(timezone.now(), tick=False):
        yield


@pytest.fixture
def people(settings):
    settings.MIN_MINUTES = 1
    settings.PAYMENT_GATEWAY = "local"
    client_user = ClientFactory(name="Asha Client")
    fund(client_user, 50_000)
    expert = OnlineConsultantFactory(
        user__name="Rohan Kapoor", rate_chat=RATE, rate_voice=RATE, rate_video=RATE
    )
    return client_user, expert


def start(people, channel="chat") -> Consultation:
    client_user, expert = people
    return services.start_consultation(client=client_user, consultant_id=expert.id, channel=channel)


def accepted(people, channel="chat") -> Consultation:
    consultation = start(people, channel)
    return services.accept_consultation(consultation_id=consultation.id, actor=people[1].user)


def room_url(consultation, tail=""):
    return f"/consultations/{consultation.id}/{tail}"


def shown(html: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', html)
    assert found, f"no {name} in the page"
    return found.group(1)


def elapse(consultation, seconds: int) -> None:
    """Moves the consultation's clock back, as if `seconds` had passed since it started."""
    back = timedelta(seconds=seconds)
    row = Consultation.objects.get(id=consultation.id)
    Consultation.objects.filter(id=row.id).update(
        requested_at=row.requested_at - back,
        started_at=row.started_at - back if row.started_at else None,
        last_billed_at=row.last_billed_at - back if row.last_billed_at else None,
    )


# --- Who may see it ------------------------------------------------------------------------------


def test_only_the_two_participants_see_the_room(client, people):
    consultation = start(people)
    assert client.get(room_url(consultation)).status_code == 302  # a visitor: log in
    client.force_login(ClientFactory())
    assert client.get(room_url(consultation)).status_code == 404
    assert client.get(room_url(consultation, "state/")).status_code == 404
    assert client.get(room_url(consultation, "messages/")).json()["code"] == "not_found"
    client.force_login(people[0])
    assert client.get(room_url(consultation)).status_code == 200
    client.force_login(people[1].user)
    assert client.get(room_url(consultation)).status_code == 200


def test_the_json_routes_answer_a_visitor_401_not_a_login_page(client, people):
    consultation = start(people)
    answer = client.get(room_url(consultation, "state/"))
    assert answer.status_code == 401
    assert answer.json()["code"] == "not_authenticated"


# --- Ringing -------------------------------------------------------------------------------------


def test_the_client_sees_the_ring_with_the_seconds_left_and_can_cancel(client, people, settings):
    settings.RING_TIMEOUT_SECONDS = 60
    consultation = start(people)
    client.force_login(people[0])
    html = client.get(room_url(consultation)).content.decode()
    assert shown(html, "consultation-status") == "pending"
    assert "Calling Rohan Kapoor" in html
    assert re.search(r"data-ring-left>(00:[0-5]\d|01:00)<", html)
    assert ">Cancel request</button>" in html
    assert "Accept" not in html

    answer = client.post(room_url(consultation, "cancel/"), HTTP_ACCEPT="application/json")
    assert answer.json()["consultation"]["status"] == "cancelled"
    html = client.get(room_url(consultation)).content.decode()
    assert shown(html, "consultation-status") == "cancelled"
    assert "You cancelled the request. You were not charged." in html


def test_the_consultant_answers_a_ringing_request_from_the_room(client, people):
    consultation = start(people, "video")
    client.force_login(people[1].user)
    html = client.get(room_url(consultation)).content.decode()
    assert ">Accept</button>" in html and ">Decline</button>" in html
    assert "Cancel request" not in html
    assert client.post(room_url(consultation, "cancel/")).status_code == 404  # the client's
    response = client.post(room_url(consultation, "accept/"))
    assert response["Location"] == room_url(consultation)
    assert Consultation.objects.get(id=consultation.id).status == Status.ACTIVE


def test_an_expired_request_says_so_to_both(client, people, settings):
    settings.RING_TIMEOUT_SECONDS = 5
    consultation = start(people)
    elapse(consultation, 6)
    services.expire_stale_requests()
    client.force_login(people[0])
    html = client.get(room_url(consultation)).content.decode()
    assert shown(html, "consultation-status") == "expired"
    assert "Rohan Kapoor did not answer in time. You were not charged." in html
    client.force_login(people[1].user)
    html = client.get(room_url(consultation)).content.decode()
    assert "This request expired before you answered." in html


# --- Live ----------------------------------------------------------------------------------------


def test_the_client_sees_the_meter_as_the_billing_engine_reckons_it(client, people):
    consultation = accepted(people)
    elapse(consultation, 30)
    services.bill_due_consultations()
    consultation.refresh_from_db()
    assert consultation.billed_seconds == 30 and consultation.total_amount == 3000
    client.force_login(people[0])
    html = client.get(room_url(consultation)).content.decode()
    wallet = wallet_for(user=people[0])
    assert shown(html, "consultation-status") == "active"
    assert shown(html, "meter-seconds") == "30"
    assert shown(html, "meter-amount") == "₹30.00"
    assert shown(html, "balance") == "₹470.00" == f"₹{wallet.balance // 100}.00"
    assert shown(html, "available") == "₹470.00"
    # ₹470 at ₹60 a minute buys 470 s more (the hold of the first tick was used up)
    figures = selectors.meter(consultation, now=timezone.now())
    assert figures.remaining_seconds in (469, 470)
    assert shown(html, "time-left") in ("07:49", "07:50")
    assert ">Recharge</button>" in html and 'data-testid="time-left"' in html
    assert "End consultation</span></button>" in html


def test_the_consultant_sees_earnings_and_never_the_clients_wallet(client, people):
    consultation = accepted(people)
    elapse(consultation, 60)
    services.bill_due_consultations()
    consultation.refresh_from_db()
    client.force_login(people[1].user)
    html = client.get(room_url(consultation)).content.decode()
    assert shown(html, "meter-amount") == format_rupees(consultation.total_amount)
    # 80 % of the charge after the 20 % commission
    assert consultation.consultant_amount == consultation.total_amount * 4 // 5
    assert f"data-earned>{format_rupees(consultation.consultant_amount)}<" in html
    assert 'data-testid="balance"' not in html and 'data-testid="time-left"' not in html
    assert ">Recharge<" not in html
    state = client.get(room_url(consultation, "state/")).json()
    assert state["role"] == "consultant"
    assert state["meter"]["earned"] == consultation.consultant_amount
    assert "balance" not in state["meter"] and state["meter"]["remaining_seconds"] is None


def test_the_state_route_is_what_the_page_shows_after_a_reconnect(client, people):
    consultation = accepted(people)
    elapse(consultation, 20)
    services.bill_due_consultations()
    client.force_login(people[0])
    state = client.get(room_url(consultation, "state/")).json()
    assert state["consultation"]["status"] == "active"
    assert state["consultation"]["billed_seconds"] == 20
    assert state["meter"]["billed_seconds"] == 20
    assert state["meter"]["total_amount"] == 2000
    assert state["meter"]["balance"] == 48_000
    assert state["meter"]["balance_low"] is False
    assert state["peer_online"] is False
    assert state["role"] == "client"


def test_history_is_rendered_oldest_first_with_ticks_on_ones_own_messages(client, people):
    consultation = accepted(people)
    client_user, expert = people
    first = timezone.now()
    for n in range(35):
        sender = client_user if n % 2 == 0 else expert.user
        with time_machine.travel(first + timedelta(seconds=n), tick=False):
            send_message(
                session_id=consultation.id,
                sender_id=sender.id,
                client_msg_id=uuid.uuid4(),
                body=f"m{n}",
            )
    client.force_login(client_user)
    html = client.get(room_url(consultation)).content.decode()
    bodies = re.findall(r'data-testid="message"[^>]*>([^<]*)<', html)
    assert bodies == [f"m{n}" for n in range(5, 35)]  # the newest 30, oldest first
    assert 'data-testid="message" data-status="sent">m6<' in html
    assert 'data-testid="message">m5<' in html  # not ours: no status
    older = re.search(r'data-before="([^"]+)"', html).group(1)

    page = client.get(room_url(consultation, "messages/"), {"before": older}).json()
    assert [m["body"] for m in page["results"]] == [f"m{n}" for n in range(4, -1, -1)]
    assert page["next"] is None
    bad = client.get(room_url(consultation, "messages/"), {"before": str(uuid.uuid4())})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


def test_the_rtc_route_gives_ice_servers_for_a_call_only_while_it_runs(client, people, settings):
    settings.STUN_URLS = ["stun:stun.example.org:3478"]
    chat = accepted(people)
    client.force_login(people[0])
    answer = client.get(room_url(chat, "rtc/"))
    assert answer.status_code == 409 and answer.json()["code"] == "channel_not_offered"
    services.end_consultation(consultation_id=chat.id, actor=people[0])
    video = accepted(people, "video")
    answer = client.get(room_url(video, "rtc/")).json()
    assert answer["ice_servers"] == [{"urls": ["stun:stun.example.org:3478"]}]
    services.end_consultation(consultation_id=video.id, actor=people[0])
    answer = client.get(room_url(video, "rtc/"))
    assert answer.status_code == 409 and answer.json()["code"] == "invalid_state"


def test_a_booked_consultation_counts_down_to_its_end_without_a_meter(client, people):
    client_user, expert = people
    with transaction.atomic():
        consultation = services.open_consultation(
            client=client_user,
            consultant=expert,
            channel="chat",
            kind=Kind.BOOKED,
            booking_id=uuid.uuid4(),
            ends_at=timezone.now() + timedelta(minutes=30),
        )
    client.force_login(client_user)
    html = client.get(room_url(consultation)).content.decode()
    assert shown(html, "time-left") in ("29:59", "30:00")
    assert "Prepaid booking" in html
    assert 'data-testid="meter-amount"' not in html, html
    assert ">Recharge<" not in html
    state = client.get(room_url(consultation, "state/")).json()
    assert 1790 < state["meter"]["ends_in_seconds"] <= 1800


# --- The end -------------------------------------------------------------------------------------


def test_either_side_ends_it_and_both_read_the_receipt(client, people):
    consultation = accepted(people)
    elapse(consultation, 95)
    client.force_login(people[1].user)
    answer = client.post(room_url(consultation, "end/"), HTTP_ACCEPT="application/json")
    assert answer.status_code == 200
    assert answer.json()["consultation"]["status"] == "ended"
    again = client.post(room_url(consultation, "end/"), HTTP_ACCEPT="application/json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"

    html = client.get(room_url(consultation)).content.decode()
    assert 'data-testid="receipt"' in html
    assert "You ended the consultation." in html
    assert "You earned" in html and "₹76.00" in html  # 80 % of ₹95.00
    assert "Balance left" not in html and "Submit review" not in html

    client.force_login(people[0])
    html = client.get(room_url(consultation)).content.decode()
    assert shown(html, "consultation-status") == "ended"
    assert "Rohan Kapoor ended the consultation." in html
    assert "1 min 35 s" in html and "₹95.00" in html
    assert "₹405.00" in html  # balance left: ₹500 - ₹95
    assert ">Submit review</button>" in html


def test_a_force_end_tells_both_why(client, people):
    client_user, _ = people
    consultation = accepted(people)
    elapse(consultation, 600)  # ₹500 buys 500 s at ₹60 a minute
    services.bill_due_consultations()
    consultation.refresh_from_db()
    assert consultation.status == Status.FORCE_ENDED
    assert consultation.end_reason == EndReason.INSUFFICIENT_BALANCE
    client.force_login(client_user)
    html = client.get(room_url(consultation)).content.decode()
    assert "Your balance ran out, so the consultation ended by itself." in html
    assert "₹0.00" in html and "₹500.00" in html
    client.force_login(people[1].user)
    html = client.get(room_url(consultation)).content.decode()
    assert "The client&#x27;s balance ran out" in html


def test_the_end_form_works_without_the_script(client, people):
    consultation = accepted(people)
    client.force_login(people[0])
    response = client.post(room_url(consultation, "end/"))
    assert response.status_code == 302 and response["Location"] == room_url(consultation)
    response = client.post(room_url(consultation, "end/"), follow=True)
    assert "This consultation had already ended." in response.content.decode()


def test_the_client_reviews_once_with_errors_next_to_the_field(client, people):
    consultation = accepted(people)
    services.end_consultation(consultation_id=consultation.id, actor=people[0])
    client.force_login(people[0])
    response = client.post(room_url(consultation, "review/"), {"comment": "Kind and clear"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose from 1 to 5 stars." in html and "Kind and clear" in html

    response = client.post(room_url(consultation, "review/"), {"rating": "5", "comment": "Clear"})
    assert response.status_code == 302
    review = Review.objects.get(consultation=consultation)
    assert (review.rating, review.comment) == (5, "Clear")
    html = client.get(room_url(consultation)).content.decode()
    assert "Your review" in html and "Submit review" not in html
    client.post(room_url(consultation, "review/"), {"rating": "1"})
    assert Review.objects.get(consultation=consultation).rating == 5
    client.force_login(people[1].user)
    assert client.post(room_url(consultation, "review/"), {"rating": "1"}).status_code == 404


# --- Recharging in the room ----------------------------------------------------------------------


def test_a_recharge_in_the_room_credits_once_and_the_time_left_grows_at_once(client, people):
    client_user, _ = people
    consultation = accepted(people)
    client.force_login(client_user)
    before = client.get(room_url(consultation, "state/")).json()["meter"]["remaining_seconds"]

    order = client.post(room_url(consultation, "recharge/"), {"amount": "300"})
    assert order.status_code == 201
    order = order.json()
    assert order["pay_url"] and order["amount"] == 30_000
    paid = client.post(order["pay_url"])
    assert paid.status_code == 200
    paid = paid.json()
    assert paid["status"] == "captured" and paid["amount"] == 30_000
    assert paid["meter"]["balance"] == 80_000
    assert paid["meter"]["remaining_seconds"] >= before + 299  # ₹300 buys 300 s more
    assert paid["consultation"]["status"] == "active"

    again = client.post(order["pay_url"]).json()  # a double click pays nothing more
    assert again["meter"]["balance"] == 80_000
    assert wallet_for(user=client_user).balance == 80_000
    assert Payment.objects.get(id=order["payment_id"]).status == PaymentStatus.CAPTURED


def test_a_recharge_amount_is_checked_like_the_wallets(client, people):
    consultation = accepted(people)
    client.force_login(people[0])
    for amount, words in [
        ("", "required"),
        ("0.5", "greater than or equal to 1"),
        ("abc", "number"),
    ]:
        answer = client.post(room_url(consultation, "recharge/"), {"amount": amount})
        assert answer.status_code == 400
        assert answer.json()["code"] == "invalid"
        assert words in answer.json()["fields"]["amount"][0]


def test_only_the_client_recharges_and_only_their_own_payment(client, people):
    consultation = accepted(people)
    client.force_login(people[1].user)
    assert client.post(room_url(consultation, "recharge/"), {"amount": "100"}).status_code == 404
    other = ClientFactory()
    client.force_login(other)
    from wallets.payments import create_recharge

    payment = create_recharge(user=other, amount=10_000)
    client.force_login(people[0])
    answer = client.post(room_url(consultation, f"recharge/{payment.id}/pay/"))
    assert answer.status_code == 404
    assert Payment.objects.get(id=payment.id).status == PaymentStatus.CREATED


def test_razorpay_checkouts_answer_is_verified_by_its_signature(client, people, settings):
    from wallets.payments import create_recharge

    consultation = accepted(people)
    payment = create_recharge(user=people[0], amount=20_000)  # (made offline)
    settings.PAYMENT_GATEWAY = "razorpay"
    settings.RAZORPAY_KEY_ID = "rzp_test_room"
    client.force_login(people[0])
    url = room_url(consultation, "recharge/verify/")
    forged = {
        "razorpay_order_id": payment.gateway_order_id,
        "razorpay_payment_id": "pay_forged",
        "razorpay_signature": "0" * 64,
    }
    answer = client.post(url, forged)
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_signature"
    signed = {
        **forged,
        "razorpay_signature": payment_signature(payment.gateway_order_id, "pay_forged"),
    }
    answer = client.post(url, signed)
    assert answer.status_code == 200
    assert answer.json()["meter"]["balance"] == 70_000
    # local-only route refuses in razorpay mode
    assert client.post(room_url(consultation, f"recharge/{payment.id}/pay/")).status_code == 404


# --- The meter's arithmetic is the engine's -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_time_left_is_what_the_next_billing_tick_says(settings):
    from consultations.tests.conftest import Listener as listen

    settings.MIN_MINUTES = 1
    client_user = ClientFactory()
    fund(client_user, 12_345)
    expert = OnlineConsultantFactory(rate_chat=777)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        consultation = services.start_consultation(
            client=client_user, consultant_id=expert.id, channel="chat"
        )
        services.accept_consultation(consultation_id=consultation.id, actor=expert.user)
        listener = listen(client_user)
        clock.shift(37)
        consultation.refresh_from_db()
        reckoned = selectors.meter(consultation, now=timezone.now()).remaining_seconds
        services.bill_due_consultations()
    tick = next(f for f in listener.frames(timeout=0.3) if f["type"] == "billing_tick")
    assert tick["billed_seconds"] == 37
    assert reckoned == tick["remaining_seconds"]
