import pytest
from django.core.management import call_command

from accounts.models import Role, User
from accounts.tests.factories import AdminFactory, ClientFactory, ConsultantUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    """Django's test client, signed in to the admin as a superuser."""
    client.force_login(AdminFactory())
    return client


def test_createsuperuser_makes_an_admin_from_email_and_name(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-passphrase")
    call_command(
        "createsuperuser", "--noinput", "--email", "Boss@Example.com", "--name", "The Boss"
    )
    user = User.objects.get(email="boss@example.com")
    assert user.role == Role.ADMIN
    assert user.is_superuser and user.is_staff
    assert user.name == "The Boss"
    assert user.check_password("a-long-admin-passphrase")


def test_the_user_list_shows_who_is_who(operator):
    ClientFactory(email="asha@example.com", name="Asha")
    response = operator.get("/admin/accounts/user/")
    assert response.status_code == 200
    assert b"asha@example.com" in response.content


def test_it_searches_by_email_name_and_phone(operator):
    ClientFactory(email="asha@example.com", name="Asha Rao", phone="+919800000001")
    ClientFactory(email="other@example.com", name="Other")
    for term in ["asha@", "Rao", "9800000001"]:
        response = operator.get("/admin/accounts/user/", {"q": term})
        assert b"asha@example.com" in response.content
        assert b"other@example.com" not in response.content


def test_it_filters_by_role_and_activity(operator):
    ClientFactory(email="asha@example.com")
    ConsultantUserFactory(email="vikram@example.com", is_active=False)
    response = operator.get("/admin/accounts/user/", {"role__exact": "consultant"})
    assert b"vikram@example.com" in response.content
    assert b"asha@example.com" not in response.content
    response = operator.get("/admin/accounts/user/", {"is_active__exact": "1"})
    assert b"asha@example.com" in response.content
    assert b"vikram@example.com" not in response.content


def test_the_change_page_shows_no_password_hash_or_mfa_secret(operator):
    user = ClientFactory(mfa_secret="JBSWY3DPEHPK3PXP")
    response = operator.get(f"/admin/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    assert b"argon2" not in response.content
    assert b"JBSWY3DPEHPK3PXP" not in response.content
    assert b'name="password"' not in response.content
    assert b'name="mfa_enabled"' not in response.content  # read-only
