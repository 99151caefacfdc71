"""The cost reports and vendor SLA cards in the admin (server-rendered charts)."""
