"""What leaves the product when a batch ends: the outbox written with the finish, and its
delivery as an email (mail) or a signed webhook (webhooks)."""
