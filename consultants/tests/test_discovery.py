from decimal import Decimal

import pytest
from django.db.models import F

from consultants.models import ConsultantProfile
from consultants.tests.factories import (
    CategoryFactory,
    ConsultantProfileFactory,
    OnlineConsultantFactory,
    VerifiedConsultantFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/consultants"


def ids(response):
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_anyone_lists_categories(api):
    response = api.get("/api/v1/categories")
    assert response.status_code == 200
    slugs = [row["slug"] for row in response.json()["results"]]
    assert {"legal", "astrology", "coaching", "health", "finance"} <= set(slugs)
    assert set(response.json()["results"][0]) == {"slug", "name"}


def test_discovery_is_public_and_shows_only_verified_consultants(api):
    verified = VerifiedConsultantFactory()
    ConsultantProfileFactory()  # unverified
    response = api.get(URL)
    assert ids(response) == [str(verified.id)]
    assert set(response.json()) == {"results", "next", "previous"}


def test_a_verified_consultant_is_found_by_id_and_an_unverified_one_is_not(api):
    verified = VerifiedConsultantFactory()
    unverified = ConsultantProfileFactory()
    assert api.get(f"{URL}/{verified.id}").json()["id"] == str(verified.id)
    for path in [f"{URL}/{unverified.id}", f"{URL}/{unverified.user_id}", f"{URL}/not-a-uuid"]:
        response = api.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_it_filters_by_category(api):
    CategoryFactory(slug="health")
    legal = VerifiedConsultantFactory()
    VerifiedConsultantFactory(category=CategoryFactory(slug="health"))
    assert ids(api.get(URL, {"category": "legal"})) == [str(legal.id)]


def test_an_unknown_category_filter_is_invalid(api):
    response = api.get(URL, {"category": "plumbing"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"category": ["Unknown category."]}


def test_it_filters_by_language_ignoring_case(api):
    tamil = VerifiedConsultantFactory(languages=["Tamil", "English"])
    VerifiedConsultantFactory(languages=["Hindi"])
    VerifiedConsultantFactory(languages=["Tamilian"])  # a whole item, not a substring
    assert ids(api.get(URL, {"language": "tAMIL"})) == [str(tamil.id)]


def test_it_filters_by_specialization_ignoring_case(api):
    divorce = VerifiedConsultantFactory(specializations=["Divorce", "Property"])
    VerifiedConsultantFactory(specializations=["Tax"])
    assert ids(api.get(URL, {"specialization": "divorce"})) == [str(divorce.id)]


def test_it_filters_by_online(api):
    online = OnlineConsultantFactory()
    offline = VerifiedConsultantFactory()
    assert ids(api.get(URL, {"online": "true"})) == [str(online.id)]
    assert ids(api.get(URL, {"online": "false"})) == [str(offline.id)]


def test_it_filters_by_min_rating(api):
    good = VerifiedConsultantFactory(rating=Decimal("4.50"))
    VerifiedConsultantFactory(rating=Decimal("3.99"))
    assert ids(api.get(URL, {"min_rating": "4"})) == [str(good.id)]


def test_max_rate_uses_the_cheapest_channel_without_a_channel_filter(api):
    cheap_chat = VerifiedConsultantFactory(rate_chat=1000, rate_voice=9000)
    VerifiedConsultantFactory(rate_chat=5000, rate_voice=6000)
    assert ids(api.get(URL, {"max_rate": 1000})) == [str(cheap_chat.id)]


def test_max_rate_uses_the_channels_rate_with_a_channel_filter(api):
    VerifiedConsultantFactory(rate_chat=1000, rate_voice=9000)
    cheap_voice = VerifiedConsultantFactory(rate_chat=5000, rate_voice=6000)
    assert ids(api.get(URL, {"max_rate": 6000, "channel": "voice"})) == [str(cheap_voice.id)]


def test_the_channel_filter_shows_only_consultants_offering_it(api):
    video = VerifiedConsultantFactory(rate_video=7000)
    VerifiedConsultantFactory(rate_video=None)
    assert ids(api.get(URL, {"channel": "video"})) == [str(video.id)]


def test_search_matches_name_bio_and_specializations(api):
    by_name = VerifiedConsultantFactory(user__name="Meenakshi Sundaram")
    by_bio = VerifiedConsultantFactory(bio="Former judge of the high court")
    by_tag = VerifiedConsultantFactory(specializations=["Cyber law"])
    VerifiedConsultantFactory(user__name="Somebody Else", bio="Nothing", specializations=[])
    assert ids(api.get(URL, {"search": "meenak"})) == [str(by_name.id)]
    assert ids(api.get(URL, {"search": "JUDGE"})) == [str(by_bio.id)]
    assert ids(api.get(URL, {"search": "cyber"})) == [str(by_tag.id)]


def test_search_treats_wildcards_literally(api):
    VerifiedConsultantFactory(bio="plain")
    assert ids(api.get(URL, {"search": "%"})) == []
    assert ids(api.get(URL, {"search": "_"})) == []


def test_orderings_sort_as_asked(api):
    a = VerifiedConsultantFactory(rating=Decimal("4.9"), rate_chat=5000, experience_years=3)
    b = VerifiedConsultantFactory(rating=Decimal("3.1"), rate_chat=1000, experience_years=20)
    c = VerifiedConsultantFactory(rating=Decimal("4.0"), rate_chat=3000, experience_years=9)
    ConsultantProfile.objects.update(rate_voice=None, min_rate=F("rate_chat"))
    a, b, c = str(a.id), str(b.id), str(c.id)
    assert ids(api.get(URL)) == [a, c, b]  # default: best rated first
    assert ids(api.get(URL, {"ordering": "rating"})) == [b, c, a]
    assert ids(api.get(URL, {"ordering": "rate_per_minute"})) == [b, c, a]
    assert ids(api.get(URL, {"ordering": "-rate_per_minute"})) == [a, c, b]
    assert ids(api.get(URL, {"ordering": "-experience_years"})) == [b, c, a]


def test_rate_per_minute_ordering_uses_the_channel_filters_rate(api):
    a = VerifiedConsultantFactory(rate_chat=100, rate_voice=9000)
    b = VerifiedConsultantFactory(rate_chat=5000, rate_voice=2000)
    assert ids(api.get(URL, {"ordering": "rate_per_minute"})) == [str(a.id), str(b.id)]
    assert ids(api.get(URL, {"ordering": "rate_per_minute", "channel": "voice"})) == [
        str(b.id),
        str(a.id),
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"ordering": "password"},
        {"ordering": "-user__email"},
        {"channel": "fax"},
        {"min_rating": "6"},
        {"min_rating": "abc"},
        {"max_rate": "-1"},
        {"max_rate": "12.5"},
        {"max_rate": "99999999999999999999999"},
        {"online": "maybe"},
        {"search": "x" * 101},
        {"language": "a|b"},
        {"cursor": "garbage"},
        {"search": "nul\x00byte"},
    ],
)
def test_bad_filters_are_invalid_not_errors(api, params):
    response = api.get(URL, params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def walk(api, params, direction="next"):
    """Every page of the list, following `next` links; returns the ids in order."""
    seen = []
    response = api.get(URL, params)
    while True:
        body = response.json()
        seen.extend(row["id"] for row in body["results"])
        if not body[direction]:
            return seen, body
        response = api.get(body[direction])


@pytest.mark.parametrize(
    "ordering",
    [
        "rating",
        "-rating",
        "rate_per_minute",
        "-rate_per_minute",
        "experience_years",
        "-experience_years",
        "total_sessions",
        "-total_sessions",
        "rating_count",
        "-rating_count",
    ],
)
def test_cursor_pagination_visits_everyone_once_with_every_ordering(api, ordering):
    # Many ties (three ratings, two rates, one without any rate) across 3-row pages.
    for i in range(11):
        VerifiedConsultantFactory(
            rating=Decimal(["4.00", "4.50", "5.00"][i % 3]),
            rate_chat=[1000, 2000, None][i % 3],
            rate_voice=None if i % 3 == 2 else 3000,
            experience_years=i % 2,
        )
    everyone = set(ConsultantProfile.objects.values_list("id", flat=True))
    forward, last = walk(api, {"ordering": ordering, "page_size": 3})
    assert len(forward) == len(set(forward)) == 11
    assert set(forward) == {str(pk) for pk in everyone}
    assert forward == ids(api.get(URL, {"ordering": ordering, "page_size": 100}))

    # ... and back again from the last page through `previous`.
    backward = [row["id"] for row in last["results"]]
    response = api.get(last["previous"])
    while True:
        body = response.json()
        backward = [row["id"] for row in body["results"]] + backward
        if not body["previous"]:
            break
        response = api.get(body["previous"])
    assert backward == forward


def test_a_cursor_of_another_ordering_is_invalid(api):
    for _ in range(3):
        VerifiedConsultantFactory()
    next_url = api.get(URL, {"ordering": "rating", "page_size": 1}).json()["next"]
    response = api.get(next_url.replace("ordering=rating", "ordering=-rating"))
    assert response.status_code == 400
    assert "cursor" in response.json()["fields"]


def test_the_list_costs_the_same_queries_for_1_or_30_consultants(api, django_assert_num_queries):
    VerifiedConsultantFactory()
    with django_assert_num_queries(1):
        assert len(api.get(URL).json()["results"]) == 1
    for _ in range(29):
        VerifiedConsultantFactory(category=CategoryFactory(slug="finance"))
    with django_assert_num_queries(1):
        assert len(api.get(URL, {"page_size": 30}).json()["results"]) == 30
    # A category filter adds its one lookup.
    with django_assert_num_queries(2):
        assert len(api.get(URL, {"category": "finance", "page_size": 50}).json()["results"]) == 29


def test_the_representation_matches_the_declared_fields():
    from rest_framework import serializers

    from consultants.api import ConsultantSerializer

    profile = VerifiedConsultantFactory(rating=Decimal("4.25"), rate_video=7000)

    class Reference(ConsultantSerializer):
        to_representation = serializers.ModelSerializer.to_representation

    assert ConsultantSerializer(profile).data == Reference(profile).data


def test_search_follows_a_renamed_consultant(api):
    profile = VerifiedConsultantFactory(user__name="Old Name")
    profile.user.name = "Lakshmi Narayanan"
    profile.user.save()
    assert ids(api.get(URL, {"search": "lakshmi"})) == [str(profile.id)]
    assert ids(api.get(URL, {"search": "old name"})) == []
