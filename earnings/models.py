"""Models of the earnings app (its issue fills this in)."""
