"""Models of the chat app (its issue fills this in)."""
