"""The error envelope on real endpoints: every 4xx is {code, detail} (+fields on invalid)."""

import json

import pytest

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"


def test_a_malformed_json_body_is_invalid_not_500(api):
    response = api.post(LOGIN, data='{"email": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()) >= {"code", "detail"}


@pytest.mark.parametrize("body", ["[]", "[1, 2]", '"text"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_invalid(api, body):
    response = api.post(LOGIN, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_validation_error_names_its_fields(api):
    response = api.post("/api/v1/auth/register", {}, format="json")
    data = response.json()
    assert data["code"] == "invalid"
    assert set(data["fields"]) == {"email", "password", "name", "role"}
    assert all(isinstance(m, str) for msgs in data["fields"].values() for m in msgs)


def test_huge_strings_are_invalid_not_500(api):
    body = {"email": "a" * 100_000, "password": "p" * 100_000, "name": "n" * 100_000}
    response = api.post("/api/v1/auth/register", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) >= {"email", "password", "name"}


def test_a_lone_surrogate_is_invalid_not_500(api):
    body = '{"email": "a\\ud800@example.com", "password": "x\\ud800yzzy-long", "name": "N"}'
    response = api.post("/api/v1/auth/login", data=body, content_type="application/json")
    assert response.status_code == 400


def test_a_huge_integer_is_invalid_not_500(api):
    body = json.dumps({"email": "a@example.com", "password": "x"})[:-1] + ', "otp": ' + "9" * 5000
    response = api.post(LOGIN, data=body + "}", content_type="application/json")
    assert response.status_code == 400


def test_form_data_is_unsupported(api):
    response = api.post(
        LOGIN,
        data="email=a%40example.com&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", LOGIN),
        ("get", "/api/v1/auth/register"),
        ("put", "/api/v1/auth/refresh"),
        ("delete", "/api/v1/auth/me"),
        ("get", "/api/v1/auth/mfa/setup"),
    ],
)
def test_a_wrong_method_is_405(signed_in, method, path):
    response = getattr(signed_in, method)(path)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_routes_answer_with_a_trailing_slash_too(signed_in):
    assert signed_in.get("/api/v1/auth/me/").status_code == 200


def test_no_token_is_not_authenticated(api):
    response = api.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "detail": response.json()["detail"],
    }


@pytest.mark.parametrize(
    "header", ["Bearer garbage", "Bearer a.b.c", "Bearer " + "x" * 5000, "Bearer"]
)
def test_a_garbage_bearer_token_is_refused(api, header):
    response = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] in {"token_not_valid", "not_authenticated"}


def test_a_deactivated_users_access_token_is_refused(signed_in, client_user):
    client_user.is_active = False
    client_user.save()
    response = signed_in.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_garbage_token_does_not_stop_a_login(api, client_user):
    from accounts.tests.factories import PASSWORD

    response = api.post(
        LOGIN,
        {"email": "asha@example.com", "password": PASSWORD},
        format="json",
        HTTP_AUTHORIZATION="Bearer garbage",
    )
    assert response.status_code == 200


def test_the_schema_documents_every_auth_route_and_its_errors(api):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for route in ["register", "login", "refresh", "logout", "me", "mfa/setup", "mfa/enable"]:
        assert f"/api/v1/auth/{route}" in paths
    login = paths["/api/v1/auth/login"]["post"]
    assert {"200", "400", "401", "423", "429"} <= set(login["responses"])
    assert set(paths["/api/v1/auth/register"]["post"]["responses"]) >= {"201", "400", "409"}
