"""Models of the reviews app (its issue fills this in)."""
