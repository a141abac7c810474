import pytest

from consultants.models import ConsultantProfile, VerificationDecision
from consultants.tests.factories import OnlineConsultantFactory

pytestmark = pytest.mark.django_db


def url(profile):
    return f"/api/v1/consultants/{profile.id}/verify"


def test_an_operator_verifies_a_consultant_and_the_decision_is_recorded(
    as_admin, admin_user, profile
):
    response = as_admin.patch(url(profile), {"is_verified": True}, format="json")
    assert response.status_code == 200
    assert response.json()["is_verified"] is True
    profile.refresh_from_db()
    assert profile.is_verified and profile.verified_at is not None
    decision = VerificationDecision.objects.get(profile=profile)
    assert decision.decided_by == admin_user
    assert decision.is_verified is True
    assert decision.via == "api"


def test_rejecting_needs_a_reason(as_admin, profile):
    for body in [{"is_verified": False}, {"is_verified": False, "reason": "   "}]:
        response = as_admin.patch(url(profile), body, format="json")
        assert response.status_code == 400
        assert "reason" in response.json()["fields"]
    assert not VerificationDecision.objects.exists()


def test_rejecting_an_online_consultant_takes_them_offline(as_admin):
    online = OnlineConsultantFactory()
    response = as_admin.patch(
        url(online), {"is_verified": False, "reason": "Licence expired"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["is_verified"] is False
    assert response.json()["is_online"] is False
    decision = VerificationDecision.objects.get(profile=online)
    assert decision.reason == "Licence expired"


def test_only_operators_may_verify(api, as_client, profile):
    response = as_client.patch(url(profile), {"is_verified": True}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    api.force_authenticate(profile.user)
    assert api.patch(url(profile), {"is_verified": True}, format="json").status_code == 403
    api.force_authenticate(None)
    assert api.patch(url(profile), {"is_verified": True}, format="json").status_code == 401
    assert ConsultantProfile.objects.get(pk=profile.pk).is_verified is False


def test_verifying_an_unknown_consultant_is_not_found(as_admin):
    response = as_admin.patch(
        "/api/v1/consultants/00000000-0000-0000-0000-000000000000/verify",
        {"is_verified": True},
        format="json",
    )
    assert response.status_code == 404


@pytest.mark.parametrize("value", ["true", 1, None])
def test_verify_wants_a_real_boolean(as_admin, profile, value):
    response = as_admin.patch(url(profile), {"is_verified": value}, format="json")
    assert response.status_code == 400
