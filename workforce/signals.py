"""What the workforce services announce. Each signal is sent inside the writing transaction, after
the write; a receiver that does something outside the database (mail, a webhook, a Celery
message) defers it with ``transaction.on_commit`` so a rolled-back change announces nothing."""

from django.dispatch import Signal

#: A labeler's status changed. Arguments: ``labeler``, ``change`` (the LabelerStatusChange row).
labeler_status_changed = Signal()

#: A vendor's status changed. Arguments: ``vendor``, ``change`` (the VendorStatusChange row).
vendor_status_changed = Signal()
