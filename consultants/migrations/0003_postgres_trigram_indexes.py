"""PostgreSQL only: trigram indexes for discovery's substring filters.

`language=`, `specialization=` and `search=` are `LIKE '%...%'` matches (portable to SQLite);
on PostgreSQL, pg_trgm GIN indexes let them avoid scanning every row. Partial: discovery only
reads verified consultants. SQLite (the embedded mode) skips this migration's work.
"""

from django.db import migrations

INDEXES = [
    ("consultant_trgm_languages", "languages_key"),
    ("consultant_trgm_specializations", "specializations_key"),
    ("consultant_trgm_bio", "upper(bio)")  # Django's icontains: UPPER(col) LIKE UPPER(%s),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON consultants_consultantprofile "
            f"USING gin (({expression}) gin_trgm_ops) WHERE is_verified"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("consultants", "0002_seed_categories")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
