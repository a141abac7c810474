import pytest
from rest_framework import serializers

from accounts.models import User
from accounts.signals import user_registered
from accounts.tests.factories import PASSWORD, ClientFactory, ConsultantUserFactory
from consultants.models import ConsultantProfile

pytestmark = pytest.mark.django_db


def test_the_signal_makes_an_unverified_offline_profile_for_a_consultant():
    user = ConsultantUserFactory()
    user_registered.send(sender=User, user=user, category="health")
    profile = ConsultantProfile.objects.get(user=user)
    assert profile.category.slug == "health"
    assert (profile.is_verified, profile.is_online, profile.rates) == (False, False, {})


def test_the_signal_makes_nothing_for_a_client():
    user = ClientFactory()
    user_registered.send(sender=User, user=user, category=None)
    assert not ConsultantProfile.objects.exists()


def test_an_unknown_category_raises_a_field_error():
    user = ConsultantUserFactory()
    with pytest.raises(serializers.ValidationError) as error:
        user_registered.send(sender=User, user=user, category="plumbing")
    assert error.value.detail == {"category": ["Unknown category."]}


def register(api, **extra):
    body = {"email": "dr.rao@example.com", "password": PASSWORD, "name": "Dr Rao"}
    return api.post("/api/v1/auth/register", {**body, **extra}, format="json")


def test_a_consultant_registering_through_the_api_gets_a_profile(api):
    response = register(api, role="consultant", category="legal")
    assert response.status_code == 201, response.json()
    profile = ConsultantProfile.objects.get(user__email="dr.rao@example.com")
    assert profile.category.slug == "legal"


def test_a_consultant_may_register_without_a_category(api):
    assert register(api, role="consultant").status_code == 201
    assert ConsultantProfile.objects.get().category is None


def test_an_unknown_category_rolls_the_registration_back(api):
    response = register(api, role="consultant", category="plumbing")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "category" in response.json()["fields"]
    assert not User.objects.filter(email="dr.rao@example.com").exists()
    assert not ConsultantProfile.objects.exists()
