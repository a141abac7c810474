"""The schema says what the server accepts: what drf-spectacular cannot learn from the
serializers is added by config.schema.make_exact, and the server keeps to it."""

import re

import pytest

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/categories",
    "/api/v1/consultants",
    "/api/v1/wallet/transactions",
    "/api/v1/payments",
    "/api/v1/consultations",
]


@pytest.fixture
def schema(api):
    return api.get("/api/schema?format=json").json()


@pytest.fixture
def as_client(api):
    from accounts.tests.factories import ClientFactory

    api.force_authenticate(ClientFactory())
    return api


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("page_size", ["null", "", "abc", "0", "-3", "101", "2.5", "1e2", "+5"])
def test_a_page_size_that_is_not_1_to_100_is_invalid(as_client, path, page_size):
    response = as_client.get(f"{path}?page_size={page_size}")
    assert response.status_code == 400, (path, page_size)
    assert response.json()["code"] == "invalid"
    assert "page_size" in response.json()["fields"]


@pytest.mark.parametrize("path", LISTS)
def test_a_page_size_from_1_to_100_is_taken(as_client, path):
    assert as_client.get(f"{path}?page_size=1").status_code == 200
    assert as_client.get(f"{path}?page_size=100").status_code == 200


def test_every_page_size_in_the_schema_is_1_to_100(schema):
    found = [
        parameter["schema"]
        for operations in schema["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "page_size"
    ]
    assert len(found) >= 8
    assert all(s == {"type": "integer", "minimum": 1, "maximum": 100} for s in found)


def test_free_text_refuses_nul_characters_and_says_so(schema, api):
    comment = schema["components"]["schemas"]["ReviewInRequest"]["properties"]["comment"]
    assert not re.search(comment["pattern"].replace("\\u0000", "\\x00"), "a\x00b")
    name = schema["components"]["schemas"]["RegisterRequest"]["properties"]["name"]
    assert not re.search(name["pattern"], "   ")  # trimmed, it would be blank
    response = api.post(
        "/api/v1/auth/register",
        {
            "email": "a@example.com",
            "password": "a long passphrase",
            "name": "A\x00",
            "role": "client",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "name" in response.json()["fields"]


def test_category_lists_the_categories_that_exist(schema, api):
    from consultants.tests.factories import CategoryFactory

    parameters = schema["paths"]["/api/v1/consultants"]["get"]["parameters"]
    category = next(p for p in parameters if p["name"] == "category")
    assert category["schema"]["enum"] == ["astrology", "coaching", "finance", "health", "legal"]
    CategoryFactory(slug="tarot", name="Tarot")
    fresh = api.get("/api/schema?format=json").json()
    register = fresh["components"]["schemas"]["RegisterRequest"]["properties"]["category"]
    assert "tarot" in register["enum"] and None in register["enum"]


def test_times_and_phones_have_their_shape_in_the_schema(schema):
    components = schema["components"]["schemas"]
    login_otp = components["LoginRequest"]["properties"]["otp"]
    assert "oneOf" not in login_otp or all("pattern" not in b for b in login_otp["oneOf"])
    time = components["BirthDetailsRequest"]["properties"]["time"]["pattern"]
    assert re.search(time, "06:45") and not re.search(time, "6:45") and not re.search(time, "0")
    phone = components["PatchedMeUpdateRequest"]["properties"]["phone"]["pattern"]
    for good in ["", "+91 98765 43210", "(022) 555-1234"]:
        assert re.search(phone, good), good
    for bad in ["0" * 16, "12345", "1+234567", "phone"]:
        assert not re.search(phone, bad), bad


@pytest.mark.parametrize(
    "phone, accepted",
    [("+91 98765 43210", True), ("(022) 555-1234", True), ("", True), ("0" * 16, False)]
    + [("+91" + " " * 30 + "9876543210", False)],  # 10 digits, but 43 characters as sent
)
def test_the_server_keeps_the_phone_rule_of_the_schema(as_client, phone, accepted):
    response = as_client.patch("/api/v1/auth/me", {"phone": phone}, format="json")
    assert (response.status_code == 200) is accepted, response.json()


@pytest.mark.parametrize("name", ["language", "specialization"])
def test_a_list_filter_says_it_refuses_a_bar_as_the_server_does(schema, as_client, name):
    # schemathesis: `language=…|…` matched the schema's pattern and the server answered 400
    parameters = schema["paths"]["/api/v1/consultants"]["get"]["parameters"]
    pattern = next(p for p in parameters if p["name"] == name)["schema"]["pattern"]
    assert re.search(pattern, "Hindi") and not re.search(pattern, "Hindi|Tamil")
    assert not re.search(pattern, "  ")
    response = as_client.get("/api/v1/consultants", {name: "Hindi|Tamil"})
    assert response.status_code == 400 and name in response.json()["fields"]
    assert as_client.get("/api/v1/consultants", {name: "Hindi"}).status_code == 200


def test_a_schedules_times_have_the_shape_the_server_takes(schema):
    weekly = schema["components"]["schemas"]["WeeklyRangeRequest"]["properties"]
    start, end = weekly["start"]["pattern"], weekly["end"]["pattern"]
    assert re.search(start, "09:30") and re.search(end, "24:00")
    for bad in ["24:00", "9:30", "25:00", "09:60", "99:99"]:
        assert not re.search(start, bad), bad
    assert not re.search(end, "24:30")


def test_rates_take_only_the_channels_and_the_schema_says_so(schema, api):
    from consultants.tests.factories import VerifiedConsultantFactory

    # schemathesis: `rates: {"<any key>": …}` matched the schema and the server answered 400
    assert schema["components"]["schemas"]["RatesRequest"]["additionalProperties"] is False
    api.force_authenticate(VerifiedConsultantFactory().user)
    answer = api.patch("/api/v1/consultants/me", {"rates": {"fax": 100}}, format="json")
    assert answer.status_code == 400 and "rates" in answer.json()["fields"]


def test_a_schedules_time_zone_is_one_the_schema_lists(schema, api):
    from consultants.tests.factories import VerifiedConsultantFactory

    # schemathesis: `timezone: "0"` matched the schema (any string) and the server answered 400
    timezone = schema["components"]["schemas"]["ScheduleRequest"]["properties"]["timezone"]
    assert timezone["allOf"] == [{"$ref": "#/components/schemas/TimezoneEnum"}]
    zones = schema["components"]["schemas"]["TimezoneEnum"]["enum"]
    assert "Asia/Kolkata" in zones and "0" not in zones and "Mars/Olympus" not in zones
    api.force_authenticate(VerifiedConsultantFactory().user)
    for zone, status in [("0", 400), (zones[-1], 200)]:
        body = {"timezone": zone, "weekly": []}
        assert api.put("/api/v1/consultants/me/schedule", body, format="json").status_code == status


def test_public_reads_that_check_a_token_document_its_401(schema, api):
    from consultants.tests.factories import VerifiedConsultantFactory

    profile = VerifiedConsultantFactory()
    assert "401" in schema["paths"]["/api/v1/consultants/{id}"]["get"]["responses"]
    assert "401" not in schema["paths"]["/api/v1/categories"]["get"]["responses"]
    reviews = schema["paths"]["/api/v1/consultants/{consultant_id}/reviews"]["get"]
    assert "401" not in reviews["responses"]
    api.credentials(HTTP_AUTHORIZATION="Bearer expired.or.forged")
    answer = api.get(f"/api/v1/consultants/{profile.id}")
    assert answer.status_code == 401 and answer.json()["code"] == "token_not_valid"
    # the reviews list reads no token, as its schema says (`auth=[]`)
    assert api.get(f"/api/v1/consultants/{profile.id}/reviews").status_code == 200
