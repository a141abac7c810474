import factory

from accounts.models import Role, User

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    phone = ""
    role = Role.CLIENT
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy's signature
        if create:
            obj.save()


class ClientFactory(UserFactory):
    role = Role.CLIENT


class ConsultantUserFactory(UserFactory):
    role = Role.CONSULTANT


class AdminFactory(UserFactory):
    role = Role.ADMIN
    is_staff = True
    is_superuser = True


def sign_in(api, user):
    """Gives the APIClient `api` a fresh access token of `user` and returns it. Inside a
    time_machine block the token is issued at the travelled-to time."""
    from accounts.tokens import issue_tokens

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user).access}")
    return api
