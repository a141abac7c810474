"""`search_text`: name, bio and specializations in one lower-cased column, so `search=` is one
indexed LIKE on the profile table (no join). On PostgreSQL its trigram index replaces the one
on the bio alone."""

from django.db import migrations, models


def fill(apps, schema_editor):
    from consultants.models import search_text

    Profile = apps.get_model("consultants", "ConsultantProfile")
    for profile in Profile.objects.select_related("user").iterator(chunk_size=1000):
        profile.search_text = search_text(profile.user.name, profile.bio, profile.specializations)
        profile.save(update_fields=["search_text"])


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS consultant_trgm_bio")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS consultant_trgm_search ON consultants_consultantprofile "
        "USING gin (search_text gin_trgm_ops) WHERE is_verified"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS consultant_trgm_search")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS consultant_trgm_bio ON consultants_consultantprofile "
        "USING gin ((upper(bio)) gin_trgm_ops) WHERE is_verified"
    )


class Migration(migrations.Migration):
    dependencies = [("consultants", "0005_field_validators")]

    operations = [
        migrations.AddField(
            model_name="consultantprofile",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(create_index, drop_index),
    ]
