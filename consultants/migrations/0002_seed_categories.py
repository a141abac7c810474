"""The contract's five categories exist out of the box; operators add more in the admin."""

from django.db import migrations

CATEGORIES = [
    ("legal", "Legal"),
    ("astrology", "Astrology"),
    ("coaching", "Coaching"),
    ("health", "Health"),
    ("finance", "Finance"),
]


def seed(apps, schema_editor):
    Category = apps.get_model("consultants", "Category")
    for slug, name in CATEGORIES:
        Category.objects.get_or_create(slug=slug, defaults={"name": name})


def unseed(apps, schema_editor):
    Category = apps.get_model("consultants", "Category")
    Category.objects.filter(slug__in=[slug for slug, _ in CATEGORIES], consultants=None).delete()


class Migration(migrations.Migration):
    dependencies = [("consultants", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
