import pytest

from accounts.tests.factories import ConsultantUserFactory
from consultants.models import ConsultantProfile
from consultants.tests.factories import CategoryFactory, ConsultantProfileFactory

pytestmark = pytest.mark.django_db

ME = "/api/v1/consultants/me"
AVAILABILITY = "/api/v1/consultants/me/availability"


def test_a_consultant_reads_their_own_profile_verified_or_not(as_consultant, profile):
    response = as_consultant.get(ME)
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {
        "id",
        "user_id",
        "name",
        "category",
        "specializations",
        "languages",
        "bio",
        "experience_years",
        "rates",
        "is_verified",
        "is_online",
        "is_busy",
        "rating",
        "rating_count",
        "total_sessions",
    }
    assert data["id"] == str(profile.id)
    assert data["user_id"] == str(profile.user_id)
    assert data["name"] == "Vikram Iyer"
    assert data["category"] == "legal"
    assert data["rates"] == {"chat": 2000, "voice": 3000}
    assert data["is_verified"] is False
    assert data["rating"] == 0


def test_a_consultant_without_a_profile_gets_one_on_first_use(api):
    user = ConsultantUserFactory()
    api.force_authenticate(user)
    response = api.get(ME)
    assert response.status_code == 200
    assert response.json()["category"] is None
    assert response.json()["rates"] == {}
    assert ConsultantProfile.objects.filter(user=user).exists()


def test_a_consultant_edits_their_profile(as_consultant, profile):
    CategoryFactory(slug="astrology")
    response = as_consultant.patch(
        ME,
        {
            "bio": "Vedic astrology, 12 years.",
            "category": "astrology",
            "specializations": ["Vedic", "Tarot"],
            "languages": ["Tamil", "English"],
            "experience_years": 12,
            "rates": {"chat": 1500, "video": 6000},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["category"] == "astrology"
    assert data["specializations"] == ["Vedic", "Tarot"]
    assert data["languages"] == ["Tamil", "English"]
    assert data["experience_years"] == 12
    assert data["rates"] == {"chat": 1500, "video": 6000}
    profile.refresh_from_db()
    assert profile.rate_for("voice") is None
    assert profile.min_rate == 1500
    assert profile.languages_key == "|tamil|english|"


def test_a_patch_without_rates_keeps_the_rates(as_consultant, profile):
    response = as_consultant.patch(ME, {"bio": "New bio"}, format="json")
    assert response.status_code == 200
    assert response.json()["rates"] == {"chat": 2000, "voice": 3000}


def test_a_null_rate_withdraws_the_channel(as_consultant, profile):
    response = as_consultant.patch(ME, {"rates": {"chat": None, "voice": 3000}}, format="json")
    assert response.json()["rates"] == {"voice": 3000}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"category": "plumbing"}, "category"),
        ({"category": 7}, "category"),
        ({"rates": {"chat": -100}}, "rates"),
        ({"rates": {"chat": 0}}, "rates"),
        ({"rates": {"chat": 10**12}}, "rates"),
        ({"rates": {"chat": 12.5}}, "rates"),
        ({"rates": {"chat": "2000"}}, "rates"),
        ({"rates": {"chat": True}}, "rates"),
        ({"rates": {"fax": 100}}, "rates"),
        ({"rates": [100]}, "rates"),
        ({"languages": ["Hindi", 3]}, "languages"),
        ({"languages": "Hindi"}, "languages"),
        ({"languages": ["Hindi", "hindi"]}, "languages"),
        ({"languages": [""]}, "languages"),
        ({"languages": ["x" * 51]}, "languages"),
        ({"specializations": [f"s{i}" for i in range(21)]}, "specializations"),
        ({"specializations": ["a|b"]}, "specializations"),
        ({"experience_years": -1}, "experience_years"),
        ({"experience_years": 81}, "experience_years"),
        ({"experience_years": "5"}, "experience_years"),
        ({"bio": "x" * 4001}, "bio"),
        ({"bio": None}, "bio"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_saved(as_consultant, profile, body, field):
    before = ConsultantProfile.objects.values().get(pk=profile.pk)
    response = as_consultant.patch(ME, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert ConsultantProfile.objects.values().get(pk=profile.pk) == before


def test_rates_are_capped_by_the_setting(as_consultant, settings):
    settings.MAX_RATE_PER_MINUTE = 5000
    response = as_consultant.patch(ME, {"rates": {"chat": 5001}}, format="json")
    assert response.status_code == 400
    assert "rates" in response.json()["fields"]


def test_a_client_may_not_use_consultant_routes(as_client):
    for response in [
        as_client.get(ME),
        as_client.patch(ME, {"bio": "mine now"}, format="json"),
        as_client.patch(AVAILABILITY, {"is_online": True}, format="json"),
        as_client.get(f"{ME}/documents"),
    ]:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


def test_anonymous_callers_must_sign_in(api):
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_consultant_can_only_ever_edit_their_own_profile(api, profile):
    other = ConsultantProfileFactory(bio="Other bio")
    api.force_authenticate(other.user)
    response = api.patch(ME, {"bio": "Edited", "id": str(profile.id)}, format="json")
    assert response.json()["id"] == str(other.id)
    profile.refresh_from_db()
    assert profile.bio == "Ten years of practice."
    assert api.patch(f"/api/v1/consultants/{profile.id}", {"bio": "x"}).status_code == 405


def test_an_unverified_consultant_cannot_go_online(as_consultant, profile):
    response = as_consultant.patch(AVAILABILITY, {"is_online": True}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "consultant_not_verified"
    profile.refresh_from_db()
    assert profile.is_online is False


def test_a_verified_consultant_goes_online_and_offline(as_consultant, profile):
    ConsultantProfile.objects.filter(pk=profile.pk).update(is_verified=True)
    response = as_consultant.patch(AVAILABILITY, {"is_online": True}, format="json")
    assert response.status_code == 200
    assert response.json()["is_online"] is True
    response = as_consultant.patch(AVAILABILITY, {"is_online": False}, format="json")
    assert response.json()["is_online"] is False


def test_going_offline_leaves_a_busy_consultant_busy(as_consultant, profile):
    ConsultantProfile.objects.filter(pk=profile.pk).update(
        is_verified=True, is_online=True, is_busy=True
    )
    response = as_consultant.patch(AVAILABILITY, {"is_online": False}, format="json")
    assert response.json()["is_online"] is False
    assert response.json()["is_busy"] is True


@pytest.mark.parametrize("value", ["true", 1, None, "yes"])
def test_availability_wants_a_real_boolean(as_consultant, value):
    response = as_consultant.patch(AVAILABILITY, {"is_online": value}, format="json")
    assert response.status_code == 400
    assert "is_online" in response.json()["fields"]


def test_nested_errors_are_flat_messages_naming_the_part(as_consultant):
    response = as_consultant.patch(
        ME, {"rates": {"video": 0}, "languages": ["Hindi", 3]}, format="json"
    )
    fields = response.json()["fields"]
    assert fields["rates"] == ["video: Ensure this value is greater than or equal to 1."]
    assert fields["languages"] == ["1: A string is required."]
