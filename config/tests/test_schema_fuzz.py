"""Schemathesis over /api/schema/: every documented operation is fuzzed, signed in as a client
and as an admin.

Nothing may answer 5xx, and every answer must conform to the schema (status code, content
type, body). New endpoints are picked up automatically.
"""

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

from accounts.tests.factories import AdminFactory, ClientFactory
from config.wsgi import application


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calls go straight into the WSGI app, which closes the database connection at the end of
    each request; inside the test's transaction that would end the test. Django's own test
    client unhooks the same handlers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded at collection; the schema view needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@pytest.fixture(params=["client", "admin"])
def auth_headers(request, db):
    """Signed in as a client, then as an admin (who reaches the operators' routes)."""
    from rest_framework_simplejwt.tokens import RefreshToken

    user = ClientFactory() if request.param == "client" else AdminFactory()
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_fails_and_matches_its_schema(case, auth_headers):
    case.call_and_validate(
        headers=auth_headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
