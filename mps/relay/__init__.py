"""``mps relay``: delivers the outbox's events, republishes lost work, purges old tasks."""
