"""Models of the consultations app (its issue fills this in)."""
