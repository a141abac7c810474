"""PostgreSQL: no two holding bookings of one consultant overlap (`btree_gist` exclusion).

The Python check in `bookings.services` runs first for a clean 409 `slot_unavailable`; this
constraint decides a race between two requests that both passed it. SQLite (the embedded mode,
one process) has no exclusion constraints: there the check alone stands.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE bookings_booking ADD CONSTRAINT booking_no_overlap_per_consultant
    EXCLUDE USING gist (
        consultant_id WITH =,
        tstzrange(start_at, end_at, '[)') WITH &&
    ) WHERE (status IN ('pending', 'confirmed', 'in_progress'));
"""
DROP = "ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS booking_no_overlap_per_consultant;"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
