"""Models of the consultants app (its issue fills this in)."""
