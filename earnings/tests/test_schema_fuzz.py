"""Schemathesis over the earnings, reviews and refund operations, signed in as the roles that
get past the permission check (config's fuzz runs as a client and mostly meets 403s here)."""

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
from consultants.tests.factories import OnlineConsultantFactory
from wallets.tests.factories import fund


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
OURS = (
    r"^/api/v1/(earnings|reviews|consultants/\{consultant_id\}/reviews|consultations/\{id\}/refund)"
)


def bearer(user) -> dict:
    from rest_framework_simplejwt.tokens import RefreshToken

    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


@pytest.fixture
def headers(db):
    consultant = OnlineConsultantFactory().user
    fund(consultant, 1_000_000)
    return {"consultant": bearer(consultant), "admin": bearer(AdminFactory())}


@pytest.mark.django_db
@schema.include(path_regex=OURS).parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@pytest.mark.parametrize("role", ["consultant", "admin"])
def test_our_operations_never_fail_and_match_the_schema(case, headers, role):
    case.call_and_validate(
        headers=headers[role],
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
