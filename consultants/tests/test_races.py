import threading

import pytest
from django.db import connection

from accounts.tests.factories import AdminFactory
from consultants import services
from consultants.models import ConsultantProfile
from consultants.tests.factories import VerifiedConsultantFactory


@pytest.mark.django_db(transaction=True)
def test_a_rejection_racing_a_go_online_never_leaves_an_unverified_consultant_online():
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    operator = AdminFactory()
    for _ in range(4):
        profile = VerifiedConsultantFactory()
        start = threading.Barrier(2)
        errors = []

        def go_online(profile=profile, start=start, errors=errors):
            start.wait()
            try:
                services.set_availability(profile=profile, is_online=True)
            except services.ConsultantNotVerified:
                pass
            except Exception as error:  # anything else is a failure
                errors.append(error)
            finally:
                connection.close()

        def reject(profile=profile, start=start, errors=errors):
            start.wait()
            try:
                services.decide_verification(
                    profile=profile, decided_by=operator, is_verified=False, reason="Audit"
                )
            except Exception as error:
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=go_online), threading.Thread(target=reject)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert errors == []
        final = ConsultantProfile.objects.get(pk=profile.pk)
        assert (final.is_verified, final.is_online) == (False, False)
