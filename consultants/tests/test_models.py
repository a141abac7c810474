import pytest
from django.db import IntegrityError, transaction

from consultants.models import Category, ConsultantProfile
from consultants.tests.factories import ConsultantProfileFactory

pytestmark = pytest.mark.django_db


def test_the_contract_categories_exist_out_of_the_box():
    slugs = set(Category.objects.values_list("slug", flat=True))
    assert {"legal", "astrology", "coaching", "health", "finance"} <= slugs


def test_rate_for_answers_none_for_a_channel_not_offered():
    profile = ConsultantProfileFactory(rate_chat=2000, rate_voice=None, rate_video=5000)
    assert profile.rate_for("chat") == 2000
    assert profile.rate_for("voice") is None
    assert profile.rate_for("video") == 5000
    assert profile.rate_for("carrier-pigeon") is None
    assert profile.rates == {"chat": 2000, "video": 5000}


def test_it_keeps_the_derived_filter_columns_in_step():
    profile = ConsultantProfileFactory(
        rate_chat=None, rate_voice=3000, rate_video=1500, languages=["Hindi", " English "]
    )
    profile.refresh_from_db()
    assert profile.min_rate == 1500
    assert profile.languages_key == "|hindi|english|"

    profile.rate_video = None
    profile.save(update_fields=["rate_video"])
    profile.refresh_from_db()
    assert profile.min_rate == 3000


def test_the_database_refuses_an_unverified_consultant_online():
    profile = ConsultantProfileFactory(is_verified=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsultantProfile.objects.filter(pk=profile.pk).update(is_online=True)


def test_the_database_refuses_a_zero_rate():
    profile = ConsultantProfileFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsultantProfile.objects.filter(pk=profile.pk).update(rate_chat=0)
