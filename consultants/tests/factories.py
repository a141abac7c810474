import factory
from django.utils import timezone

from accounts.tests.factories import ConsultantUserFactory
from consultants.models import Category, ConsultantProfile


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = "legal"
    name = factory.LazyAttribute(lambda o: o.slug.title())


class ConsultantProfileFactory(factory.django.DjangoModelFactory):
    """An unverified, offline consultant offering chat and voice (paise per minute)."""

    class Meta:
        model = ConsultantProfile

    user = factory.SubFactory(ConsultantUserFactory)
    category = factory.SubFactory(CategoryFactory)
    bio = "Ten years of practice."
    specializations = factory.LazyFunction(lambda: ["Family law"])
    languages = factory.LazyFunction(lambda: ["English", "Hindi"])
    experience_years = 10
    rate_chat = 2000
    rate_voice = 3000
    rate_video = None


class VerifiedConsultantFactory(ConsultantProfileFactory):
    is_verified = True
    verified_at = factory.LazyFunction(timezone.now)


class OnlineConsultantFactory(VerifiedConsultantFactory):
    is_online = True
