"""Models of the wallets app (its issue fills this in)."""
