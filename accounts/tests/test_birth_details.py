"""Birth details: PATCH /auth/me (CONTRACT.md "Accounts"), the account page's form."""

from datetime import date, time, timedelta

import pytest
import time_machine

from accounts.models import User
from accounts.tests.factories import AdminFactory, ClientFactory, sign_in

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"
BORN = {"date": "1990-04-12", "time": "06:45", "place": "Varanasi, India"}


def test_a_new_user_has_no_birth_details(signed_in):
    assert signed_in.get(ME).json()["birth_details"] is None


def test_it_saves_birth_details_and_reads_them_back(signed_in, client_user):
    response = signed_in.patch(ME, {"birth_details": BORN}, format="json")
    assert response.status_code == 200
    assert response.json()["birth_details"] == BORN
    assert signed_in.get(ME).json()["birth_details"] == BORN
    client_user.refresh_from_db()
    assert (client_user.birth_date, client_user.birth_time) == (date(1990, 4, 12), time(6, 45))


def test_time_and_place_may_be_unknown(signed_in):
    body = signed_in.patch(ME, {"birth_details": {"date": "1990-04-12"}}, format="json").json()
    assert body["birth_details"] == {"date": "1990-04-12", "time": None, "place": None}
    details = {"date": "1990-04-12", "time": None, "place": None}
    assert (
        signed_in.patch(ME, {"birth_details": details}, format="json").json()["birth_details"]
        == details
    )


def test_null_clears_them(signed_in, client_user):
    signed_in.patch(ME, {"birth_details": BORN}, format="json")
    response = signed_in.patch(ME, {"birth_details": None}, format="json")
    assert response.status_code == 200
    assert response.json()["birth_details"] is None
    client_user.refresh_from_db()
    assert (client_user.birth_date, client_user.birth_time, client_user.birth_place) == (
        None,
        None,
        "",
    )


def test_a_patch_without_them_keeps_them(signed_in):
    signed_in.patch(ME, {"birth_details": BORN}, format="json")
    body = signed_in.patch(ME, {"name": "Asha Rao"}, format="json").json()
    assert body["name"] == "Asha Rao"
    assert body["birth_details"] == BORN


def test_name_and_phone_change_too(signed_in):
    body = signed_in.patch(ME, {"name": "Asha Rao", "phone": "+91 98765 43210"}, format="json")
    assert body.status_code == 200
    assert (body.json()["name"], body.json()["phone"]) == ("Asha Rao", "+919876543210")


@pytest.mark.parametrize(
    "details, field",
    [
        ({"date": "2999-01-01"}, "date"),
        ({"date": "1899-12-31"}, "date"),
        ({"date": "12/04/1990"}, "date"),
        ({"date": "1990-02-30"}, "date"),
        ({"date": 19900412}, "date"),
        ({"time": "06:45"}, "date"),
        ({"date": "1990-04-12", "time": "6:45"}, "time"),
        ({"date": "1990-04-12", "time": "24:00"}, "time"),
        ({"date": "1990-04-12", "time": "06:45:00"}, "time"),
        ({"date": "1990-04-12", "time": 645}, "time"),
        ({"date": "1990-04-12", "place": 5}, "place"),
        ({"date": "1990-04-12", "place": "x" * 201}, "place"),
    ],
)
def test_bad_birth_details_are_400_invalid_and_change_nothing(signed_in, details, field):
    signed_in.patch(ME, {"birth_details": BORN}, format="json")
    response = signed_in.patch(ME, {"birth_details": details}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert f"birth_details.{field}" in body["fields"]
    assert signed_in.get(ME).json()["birth_details"] == BORN


def test_birth_details_must_be_an_object_or_null(signed_in):
    response = signed_in.patch(ME, {"birth_details": "1990-04-12"}, format="json")
    assert response.status_code == 400
    assert "birth_details" in response.json()["fields"]


def test_today_is_a_birth_date_but_tomorrow_is_not(api, client_user):
    with time_machine.travel("2026-03-01 20:00:00+00:00"):  # 2 March already, east of UTC+4
        signed_in = sign_in(api, client_user)
        ok = signed_in.patch(ME, {"birth_details": {"date": "2026-03-02"}}, format="json")
        assert ok.status_code == 200, ok.json()
        late = signed_in.patch(ME, {"birth_details": {"date": "2026-03-03"}}, format="json")
        assert late.status_code == 400


def test_a_blank_place_is_no_place(signed_in):
    details = {"date": "1990-04-12", "place": "  "}
    body = signed_in.patch(ME, {"birth_details": details}, format="json").json()
    assert body["birth_details"]["place"] is None


def test_patch_needs_a_sign_in(api):
    assert api.patch(ME, {"name": "x"}, format="json").status_code == 401


def test_the_database_refuses_a_time_without_a_date(db):
    from django.db import IntegrityError, transaction

    user = ClientFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(id=user.id).update(birth_time=time(6, 45))


def test_the_user_admin_does_not_show_birth_details(client):
    admin = AdminFactory()
    person = ClientFactory(birth_date=date(1990, 4, 12), birth_place="Varanasi")
    client.force_login(admin, backend="accounts.backends.AccountBackend")
    listing = client.get("/admin/accounts/user/").content.decode()
    page = client.get(f"/admin/accounts/user/{person.id}/change/").content.decode()
    for html in (listing, page):
        assert "Varanasi" not in html
        assert "1990" not in html


# --- The account page ----------------------------------------------------------------------------


def _signed_in_page(client, user):
    client.force_login(user, backend="accounts.backends.AccountBackend")
    return client


def test_the_account_page_saves_birth_details(client, client_user):
    page = _signed_in_page(client, client_user)
    form = page.get("/account/").content.decode()
    assert 'for="id_birth_date"' in form and "Date of birth" in form
    response = page.post(
        "/account/",
        {
            "action": "birth",
            "birth_date": "1990-04-12",
            "birth_time": "06:45",
            "birth_place": "Varanasi",
        },
    )
    assert response.status_code == 302
    client_user.refresh_from_db()
    assert client_user.birth_details == {"date": "1990-04-12", "time": "06:45", "place": "Varanasi"}
    shown = page.get("/account/").content.decode()
    assert 'value="1990-04-12"' in shown and 'value="06:45"' in shown


def test_the_account_page_shows_a_future_date_as_an_error_and_keeps_what_was_typed(
    client, client_user
):
    page = _signed_in_page(client, client_user)
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    response = page.post(
        "/account/", {"action": "birth", "birth_date": tomorrow, "birth_place": "Pune"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "A birth date cannot be in the future." in html
    assert 'value="Pune"' in html
    client_user.refresh_from_db()
    assert client_user.birth_date is None


def test_the_account_page_removes_them(client, client_user):
    client_user.birth_date = date(1990, 4, 12)
    client_user.save()
    page = _signed_in_page(client, client_user)
    assert "Remove my birth details" in page.get("/account/").content.decode()
    assert page.post("/account/", {"action": "birth_clear"}).status_code == 302
    client_user.refresh_from_db()
    assert client_user.birth_details is None


def test_consultants_have_no_birth_details_form(client, consultant_user):
    page = _signed_in_page(client, consultant_user)
    assert "id_birth_date" not in page.get("/account/").content.decode()


def test_the_schema_says_the_earliest_year_the_server_takes(signed_in):
    # schemathesis --checks all: 1899 matched the schema and was refused.
    import re

    schema = signed_in.get("/api/schema?format=json").json()["components"]["schemas"]
    pattern = schema["BirthDetailsRequest"]["properties"]["date"]["pattern"]
    for day, fits in [("1899-12-31", False), ("1900-01-01", True), ("2000-02-29", True)]:
        assert bool(re.search(pattern, day)) is fits
        answer = signed_in.patch(ME, {"birth_details": {**BORN, "date": day}}, format="json")
        assert (answer.status_code == 200) is fits
