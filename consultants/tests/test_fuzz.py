"""Schemathesis over the consultants operations as a consultant and as an operator (the project
fuzz in config/tests runs everything as a client, who is refused most of these)."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tests.factories import AdminFactory
from config.wsgi import application
from consultants.tests.factories import ConsultantProfileFactory

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(tag="consultants")


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def bearer(user):
    from rest_framework_simplejwt.tokens import RefreshToken

    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


@pytest.fixture(params=["consultant", "admin"])
def auth_headers(request, db, private_media):
    if request.param == "admin":
        return bearer(AdminFactory())
    return bearer(ConsultantProfileFactory(is_verified=True).user)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_consultant_operations_never_fail_and_match_their_schema(case, auth_headers):
    case.call_and_validate(
        headers=auth_headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
