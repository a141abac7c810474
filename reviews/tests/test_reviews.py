"""Reviews: by the client, after the end, once; the rating kept exact."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from accounts.tests.factories import AdminFactory, ClientFactory
from consultations.tests.factories import ActiveConsultationFactory, ConsultationFactory
from earnings.tests.factories import ended_consultation
from reviews.models import Review
from reviews.services import average_rating, create_review
from reviews.tests.conftest import as_user

pytestmark = pytest.mark.django_db

FIELDS = {
    "id",
    "consultation_id",
    "consultant_id",
    "client_name",
    "rating",
    "comment",
    "created_at",
}


def review(api, user, consultation_id, rating=5, **extra):
    body = {"consultation_id": str(consultation_id), "rating": rating, **extra}
    return as_user(api, user).post("/api/v1/reviews", body, format="json")


def test_the_client_reviews_an_ended_consultation(api, consultant):
    consultation = ended_consultation(consultant=consultant)

    response = review(api, consultation.client, consultation.id, 4, comment="Clear and kind.")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == FIELDS
    assert body["consultation_id"] == str(consultation.id)
    assert body["consultant_id"] == str(consultant.id)
    assert body["client_name"] == consultation.client.public_name
    assert (body["rating"], body["comment"]) == (4, "Clear and kind.")
    assert body["created_at"].endswith("Z")
    consultant.refresh_from_db()
    assert (consultant.rating, consultant.rating_count) == (Decimal("4.00"), 1)


def test_a_force_ended_consultation_can_be_reviewed_too(api, consultant):
    consultation = ended_consultation(consultant=consultant)
    type(consultation).objects.filter(id=consultation.id).update(status="force_ended")

    assert review(api, consultation.client, consultation.id).status_code == 201


def test_the_rating_is_the_average_to_two_decimals(api, consultant):
    for rating in (5, 4, 4):
        consultation = ended_consultation(consultant=consultant)
        review(api, consultation.client, consultation.id, rating)

    consultant.refresh_from_db()
    assert (consultant.rating, consultant.rating_count) == (Decimal("4.33"), 3)


def test_the_rounding_is_half_up():
    assert average_rating(total=9, count=2) == Decimal("4.50")
    assert average_rating(total=35, count=8) == Decimal("4.38")  # 4.375
    assert average_rating(total=0, count=0) == Decimal("0.00")


def test_a_second_review_is_refused(api, consultant):
    consultation = ended_consultation(consultant=consultant)
    review(api, consultation.client, consultation.id, 5)

    response = review(api, consultation.client, consultation.id, 1)

    assert response.status_code == 409
    assert response.json()["code"] == "already_reviewed"
    consultant.refresh_from_db()
    assert (consultant.rating, consultant.rating_count) == (Decimal("5.00"), 1)


@pytest.mark.parametrize("factory", [ConsultationFactory, ActiveConsultationFactory])
def test_an_open_consultation_cannot_be_reviewed_yet(api, consultant, factory):
    consultation = factory(consultant=consultant)

    response = review(api, consultation.client, consultation.id)

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"


def test_anyone_but_the_client_gets_404_or_403(api, consultant):
    consultation = ended_consultation(consultant=consultant)
    stranger = ClientFactory()

    assert review(api, stranger, consultation.id).status_code == 404
    assert review(api, stranger, "6f1b9c1e-0000-4000-8000-000000000000").status_code == 404
    assert review(api, consultant.user, consultation.id).status_code == 403
    assert review(api, AdminFactory(), consultation.id).status_code == 403
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"rating": 0},
        {"rating": 6},
        {"rating": 4.5},
        {"rating": 4.0},
        {"rating": "5"},
        {"rating": True},
        {"rating": None},
        {"comment": "x" * 2001},
        {"comment": 5},
        {"consultation_id": "not-a-uuid"},
        {"consultation_id": 12345},
    ],
)
def test_bad_input_is_refused_with_400(api, consultant, change):
    consultation = ended_consultation(consultant=consultant)
    body = {"consultation_id": str(consultation.id), "rating": 5, **change}

    response = as_user(api, consultation.client).post("/api/v1/reviews", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_comment_of_2000_characters_is_fine(api, consultant):
    consultation = ended_consultation(consultant=consultant)

    assert review(api, consultation.client, consultation.id, comment="x" * 2000).status_code == 201


def test_the_database_refuses_a_rating_out_of_range_and_a_second_review(consultant):
    consultation = ended_consultation(consultant=consultant)
    fields = {"consultation": consultation, "consultant": consultant}
    fields |= {"client": consultation.client, "created_at": datetime.now(UTC)}
    with pytest.raises(IntegrityError, match="rating_between_1_and_5"), transaction.atomic():
        Review.objects.create(rating=6, **fields)
    Review.objects.create(rating=5, **fields)
    with (
        pytest.raises(
            IntegrityError, match="review_one_per_consultation|reviews_review.consultation_id"
        ),
        transaction.atomic(),
    ):
        Review.objects.create(rating=4, **fields)


# --- GET /consultants/{id}/reviews ------------------------------------------------------------


def test_anyone_lists_a_consultants_reviews_newest_first(
    api, consultant, django_assert_num_queries
):
    written = []
    for rating in (3, 5):
        consultation = ended_consultation(consultant=consultant)
        written.append(
            create_review(
                client=consultation.client, consultation_id=consultation.id, rating=rating
            )
        )
    Review.objects.filter(id=written[0].id).update(created_at=datetime(2026, 3, 1, tzinfo=UTC))
    other = ended_consultation()
    create_review(client=other.client, consultation_id=other.id, rating=1)

    api.force_authenticate(user=None)
    with django_assert_num_queries(2):  # the consultant exists; one page of reviews
        response = api.get(f"/api/v1/consultants/{consultant.id}/reviews")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    assert [r["rating"] for r in body["results"]] == [5, 3]
    assert set(body["results"][0]) == FIELDS


def test_an_unknown_or_unverified_consultant_has_no_reviews_page(api):
    from consultants.tests.factories import ConsultantProfileFactory

    for consultant_id in ("6f1b9c1e-0000-4000-8000-000000000000", ConsultantProfileFactory().id):
        response = api.get(f"/api/v1/consultants/{consultant_id}/reviews")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


# --- Concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_reviews_of_one_consultant_are_all_counted(consultant):
    ratings = [1, 2, 3, 4, 5, 5, 4, 5, 2, 5, 3, 5, 4, 1, 5, 5]
    ended = [ended_consultation(consultant=consultant) for _ in ratings]

    def write(job):
        consultation, rating = job
        try:
            return create_review(
                client=consultation.client, consultation_id=consultation.id, rating=rating
            ).rating
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        written = list(pool.map(write, zip(ended, ratings, strict=True)))

    assert sorted(written) == sorted(ratings)
    consultant.refresh_from_db()
    assert consultant.rating_count == len(ratings)
    assert consultant.rating == average_rating(total=sum(ratings), count=len(ratings))


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_a_review_submitted_ten_times_at_once_is_written_once(consultant):
    consultation = ended_consultation(consultant=consultant)

    def write(_):
        try:
            create_review(client=consultation.client, consultation_id=consultation.id, rating=5)
            return "ok"
        except Exception as exc:  # noqa: BLE001 - the outcome is what we count
            return getattr(exc, "code", repr(exc))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(write, range(10)))

    assert outcomes.count("ok") == 1
    assert outcomes.count("already_reviewed") == 9
    consultant.refresh_from_db()
    assert consultant.rating_count == 1


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Asha Verma", "Asha V."),
        ("Asha Rani verma", "Asha V."),
        ("  Meera   Iyer ", "Meera I."),
        ("Rahul", "Rahul"),
        ("प्रिया शर्मा", "प्रिया श."),
    ],
)
def test_a_review_shows_the_first_name_and_the_initial_of_the_last(api, consultant, name, shown):
    consultation = ended_consultation(consultant=consultant)
    User.objects.filter(pk=consultation.client_id).update(name=name)
    review(api, consultation.client, consultation.id, 5)
    listed = api.get(f"/api/v1/consultants/{consultant.id}/reviews").json()["results"]
    assert [row["client_name"] for row in listed] == [shown]
    surname = name.split()[-1]
    assert len(name.split()) == 1 or surname not in str(listed)


def test_the_consultants_page_shows_reviewers_the_same_way(api, client, consultant):
    consultation = ended_consultation(consultant=consultant)
    User.objects.filter(pk=consultation.client_id).update(name="Asha Verma")
    review(api, consultation.client, consultation.id, 5, comment="Helpful.")
    page = client.get(f"/consultants/{consultant.id}/").content.decode()
    assert "Asha V." in page
    assert "Verma" not in page
