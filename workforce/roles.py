"""The four roles and how to tell them apart.

Roles are Django groups (for the admin and for listing) plus, for vendor managers, the guardian
object permission ``workforce.manage_vendor`` on each vendor they manage — that permission, not
the group, is what scopes a vendor manager's reads and writes.
"""

from __future__ import annotations

OPS_MANAGERS = "Operations managers"
VENDOR_MANAGERS = "Vendor managers"
SENIOR_LABELERS = "Senior labelers"
LABELERS = "Labelers"

ALL_GROUPS = (OPS_MANAGERS, VENDOR_MANAGERS, SENIOR_LABELERS, LABELERS)

MANAGE_VENDOR = "workforce.manage_vendor"
MANAGE_VENDOR_CODENAME = "manage_vendor"
