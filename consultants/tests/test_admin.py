import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from consultants import services
from consultants.models import ConsultantProfile, VerificationDecision
from consultants.tests.factories import ConsultantProfileFactory, OnlineConsultantFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:consultants_consultantprofile_changelist")


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser(email="root@example.com", password="pw", name="Root")
    client.force_login(user)
    return user


def test_the_changelist_shows_consultants_filters_and_searches(client, operator, profile):
    response = client.get(CHANGELIST, {"q": "vikram", "is_verified__exact": "0"})
    assert response.status_code == 200
    assert b"Vikram Iyer" in response.content
    assert b"Legal" in response.content


def test_the_verify_action_verifies_and_audits(client, operator, profile):
    other = ConsultantProfileFactory()
    response = client.post(
        CHANGELIST,
        {"action": "verify_selected", "_selected_action": [profile.pk, other.pk]},
    )
    assert response.status_code == 302
    assert ConsultantProfile.objects.filter(is_verified=True).count() == 2
    decision = VerificationDecision.objects.get(profile=profile)
    assert (decision.decided_by, decision.is_verified, decision.via) == (operator, True, "admin")


def test_the_reject_action_asks_for_a_reason_then_rejects(client, operator):
    online = OnlineConsultantFactory()
    selection = {"action": "reject_selected", "_selected_action": [online.pk]}
    response = client.post(CHANGELIST, selection)
    assert response.status_code == 200
    assert b"reason" in response.content
    assert ConsultantProfile.objects.get(pk=online.pk).is_verified is True

    response = client.post(CHANGELIST, {**selection, "reason": ""})
    assert response.status_code == 200
    assert ConsultantProfile.objects.get(pk=online.pk).is_verified is True

    response = client.post(CHANGELIST, {**selection, "reason": "Forged certificate"})
    assert response.status_code == 302
    online.refresh_from_db()
    assert (online.is_verified, online.is_online) == (False, False)
    decision = VerificationDecision.objects.get(profile=online)
    assert (decision.decided_by, decision.reason) == (operator, "Forged certificate")


def test_the_change_page_has_buttons_that_verify_and_reject(client, operator, profile):
    change = reverse("admin:consultants_consultantprofile_change", args=[profile.pk])
    page = client.get(change)
    assert page.status_code == 200
    verify = reverse("admin:consultants_consultantprofile_verify", args=[profile.pk])
    reject = reverse("admin:consultants_consultantprofile_reject", args=[profile.pk])
    assert verify.encode() in page.content and reject.encode() in page.content

    assert client.post(verify).status_code == 302
    assert ConsultantProfile.objects.get(pk=profile.pk).is_verified is True

    assert client.get(reject).status_code == 200
    response = client.post(reject, {"reason": "Licence revoked"})
    assert response.status_code == 302
    assert ConsultantProfile.objects.get(pk=profile.pk).is_verified is False
    decisions = list(VerificationDecision.objects.filter(profile=profile).order_by("created_at"))
    assert [(d.is_verified, d.reason, d.decided_by) for d in decisions] == [
        (True, "", operator),
        (False, "Licence revoked", operator),
    ]


def test_a_get_on_the_verify_button_changes_nothing(client, operator, profile):
    client.get(reverse("admin:consultants_consultantprofile_verify", args=[profile.pk]))
    assert ConsultantProfile.objects.get(pk=profile.pk).is_verified is False


def test_staff_download_documents_and_nobody_else_does(client, operator, profile, private_media):
    document = services.add_document(
        profile=profile,
        kind="identity",
        upload=SimpleUploadedFile("id.png", b"\x89PNG\r\n\x1a\nDATA", content_type="image/png"),
    )
    change = reverse("admin:consultants_consultantprofile_change", args=[profile.pk])
    assert b"Download" in client.get(change).content
    download = reverse(
        "admin:consultants_consultantprofile_document", args=[profile.pk, document.pk]
    )
    response = client.get(download)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\x89PNG\r\n\x1a\nDATA"
    assert response["Content-Type"] == "image/png"

    client.logout()
    client.force_login(profile.user)  # not staff
    assert client.get(download).status_code == 302  # to the admin login


def admin_form(profile, **changes):
    data = {
        "user": profile.user_id,
        "category": profile.category_id,
        "bio": profile.bio,
        "specializations": '["Family law"]',
        "languages": '["English"]',
        "experience_years": 10,
        "rate_chat": 2000,
        "rate_voice": "",
        "rate_video": "",
        **changes,
    }
    for prefix in ["documents", "verification_decisions"]:
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    return data


def test_an_operator_edits_a_profile_within_the_rules(client, operator, profile):
    change = reverse("admin:consultants_consultantprofile_change", args=[profile.pk])
    response = client.post(change, admin_form(profile, rate_chat=2500, languages='["Tamil"]'))
    assert response.status_code == 302, response.context["adminform"].form.errors
    profile.refresh_from_db()
    assert (profile.rate_chat, profile.min_rate, profile.languages_key) == (2500, 2500, "|tamil|")


@pytest.mark.parametrize(
    "changes",
    [{"rate_chat": 10**9}, {"rate_chat": 0}, {"languages": '"Hindi"'}, {"languages": "[1, 2]"}],
)
def test_the_admin_form_refuses_what_the_api_refuses(client, operator, profile, changes):
    change = reverse("admin:consultants_consultantprofile_change", args=[profile.pk])
    response = client.post(change, admin_form(profile, **changes))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert ConsultantProfile.objects.get(pk=profile.pk).rate_chat == 2000


def test_the_audit_trail_is_listed_and_read_only(client, operator, profile):
    services.decide_verification(profile=profile, decided_by=operator, is_verified=True)
    audit = reverse("admin:consultants_verificationdecision_changelist")
    response = client.get(audit)
    assert response.status_code == 200
    assert b"Vikram Iyer" in response.content
    assert client.get(reverse("admin:consultants_verificationdecision_add")).status_code == 403
