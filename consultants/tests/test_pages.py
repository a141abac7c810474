"""Discovery and the consultant's profile editor, through Django's test client."""

import pytest

from accounts.tests.factories import ClientFactory, ConsultantUserFactory
from consultants.models import ConsultantDocument, ConsultantProfile
from consultants.services import decide_verification
from consultants.tests.factories import (
    CategoryFactory,
    ConsultantProfileFactory,
    OnlineConsultantFactory,
    VerifiedConsultantFactory,
)

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    return [c.user.name for c in response.context["consultants"]]


@pytest.fixture
def experts(db):
    astrology = CategoryFactory(slug="astrology")
    return {
        "kapoor": OnlineConsultantFactory(
            user__name="Rohan Kapoor", languages=["English", "Hindi"], rate_chat=3000, rating=4.8
        ),
        "sen": VerifiedConsultantFactory(
            user__name="Ishita Sen", languages=["Bengali"], rate_chat=2500, rating=4.2
        ),
        "rao": OnlineConsultantFactory(
            user__name="Suresh Rao",
            category=astrology,
            rate_chat=1500,
            rate_video=6000,
            rating=4.9,
            bio="Vedic astrology and kundli",
            languages=["Telugu"],
        ),
        "hidden": ConsultantProfileFactory(user__name="Not Verified"),
    }


def test_discovery_lists_verified_consultants_by_rating(client, experts):
    response = client.get("/consultants/")
    assert response.status_code == 200
    assert names(response) == ["Suresh Rao", "Rohan Kapoor", "Ishita Sen"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=astrology", ["Suresh Rao"]),
        ("language=hindi", ["Rohan Kapoor"]),
        ("online=true", ["Suresh Rao", "Rohan Kapoor"]),
        ("channel=video", ["Suresh Rao"]),
        ("max_rate=2500&ordering=rate_per_minute", ["Suresh Rao", "Ishita Sen"]),
        ("min_rating=4.5", ["Suresh Rao", "Rohan Kapoor"]),
        ("search=kundli", ["Suresh Rao"]),
        ("ordering=-rate_per_minute", ["Rohan Kapoor", "Ishita Sen", "Suresh Rao"]),
    ],
)
def test_discovery_takes_the_apis_filters_as_query_parameters(client, experts, query, expected):
    assert names(client.get(f"/consultants/?{query}")) == expected


def test_a_bad_filter_is_shown_and_the_others_still_apply(client, experts):
    response = client.get("/consultants/?min_rating=nine&language=hindi")
    assert response.status_code == 200
    assert "min_rating" in response.context["form"].errors
    assert names(response) == ["Rohan Kapoor"]


def test_discovery_pages_through_with_a_next_link_keeping_the_filters(client, db):
    for n in range(25):
        VerifiedConsultantFactory(user__name=f"Expert {n:02d}", languages=["Tamil"])
    first = client.get("/consultants/?language=tamil")
    assert len(first.context["consultants"]) == 20
    next_url = first.context["next_url"]
    assert "language=tamil" in next_url and "cursor=" in next_url
    second = client.get(next_url)
    assert len(second.context["consultants"]) == 5
    assert not set(names(first)) & set(names(second))
    assert second.context["next_url"] is None


def test_a_forged_cursor_goes_back_to_the_first_page(client, experts):
    response = client.get("/consultants/?language=hindi&cursor=forged")
    assert response.status_code == 302
    assert response["Location"] == "/consultants/?language=hindi"


def test_discovery_is_one_query_a_page(client, experts, django_assert_num_queries):
    # The page's consultants (one query: ids then rows) and the category choices of the form.
    with django_assert_num_queries(2):
        client.get("/consultants/?online=true&language=hindi")


def test_the_home_page_leads_with_who_is_online(client, experts, django_assert_num_queries):
    with django_assert_num_queries(2):  # the categories, the consultants online
        response = client.get("/")
    assert [c.user.name for c in response.context["online"]] == ["Suresh Rao", "Rohan Kapoor"]


# --- The profile editor --------------------------------------------------------------------------


@pytest.fixture
def consultant(db):
    return ConsultantProfileFactory(user=ConsultantUserFactory(name="Vikram Rao"))


def profile_post(**changes) -> dict:
    data = {
        "action": "profile",
        "bio": "Career coach.",
        "category": "legal",
        "specializations": "Interviews, Leadership",
        "languages": "Hindi, English",
        "experience_years": "7",
        "rate_chat": "25",
        "rate_voice": "40.50",
        "rate_video": "",
    }
    data.update(changes)
    return data


def test_the_profile_editor_is_for_consultants(client, consultant):
    assert client.get("/dashboard/profile/")["Location"].startswith("/login/")
    client.force_login(ClientFactory())
    assert client.get("/dashboard/profile/").status_code == 404


def test_a_consultant_edits_bio_category_tags_and_rates_in_rupees(client, consultant):
    CategoryFactory(slug="legal")
    client.force_login(consultant.user)
    response = client.post("/dashboard/profile/", profile_post())
    assert response.status_code == 302
    profile = ConsultantProfile.objects.get(pk=consultant.pk)
    assert profile.bio == "Career coach."
    assert profile.specializations == ["Interviews", "Leadership"]
    assert profile.languages == ["Hindi", "English"]
    assert profile.rates == {"chat": 2500, "voice": 4050}
    assert profile.experience_years == 7


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("rate_chat", "-5", "Ensure this value is greater than or equal to 0.01."),
        ("languages", "Hindi, hindi", "Items must not repeat."),
        ("specializations", "a|b", "Each item is at most 50 characters, without '|'."),
        ("experience_years", "81", "Ensure this value is less than or equal to 80."),
    ],
)
def test_a_bad_value_is_told_next_to_its_field(client, consultant, field, value, error):
    client.force_login(consultant.user)
    response = client.post("/dashboard/profile/", profile_post(**{field: value}))
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [error]
    assert f'value="{value}"' in response.content.decode() or value in response.content.decode()


def test_a_document_is_uploaded_and_the_status_is_shown(client, consultant, tmp_path, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.PRIVATE_MEDIA_ROOT = tmp_path
    client.force_login(consultant.user)
    page = client.get("/dashboard/profile/").content.decode()
    assert "Not verified yet" in page
    upload = SimpleUploadedFile("degree.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = client.post(
        "/dashboard/profile/", {"action": "document", "kind": "qualification", "file": upload}
    )
    assert response.status_code == 302
    document = ConsultantDocument.objects.get(profile=consultant)
    assert document.original_name == "degree.pdf"
    page = client.get("/dashboard/profile/").content.decode()
    assert "degree.pdf" in page


def test_a_file_that_is_not_a_document_is_refused_in_words(client, consultant, tmp_path, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.PRIVATE_MEDIA_ROOT = tmp_path
    client.force_login(consultant.user)
    upload = SimpleUploadedFile("x.pdf", b"MZ not a pdf", content_type="application/pdf")
    response = client.post(
        "/dashboard/profile/", {"action": "document", "kind": "identity", "file": upload}
    )
    assert response.status_code == 400
    assert response.context["document_form"].errors["file"] == ["Upload a PDF, PNG or JPEG file."]


def test_the_verification_decision_is_shown(client, consultant):
    decide_verification(
        profile=consultant, decided_by=None, is_verified=False, reason="Blurry ID scan"
    )
    client.force_login(consultant.user)
    page = client.get("/dashboard/profile/").content.decode()
    assert "Blurry ID scan" in page
