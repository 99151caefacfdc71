"""What the assignments services announce. Each signal is sent inside the writing transaction,
after the write; a receiver that does something outside the database (mail, a webhook, a Celery
message) defers it with ``transaction.on_commit`` so a rolled-back change announces nothing."""

from django.dispatch import Signal

#: A senior or ops resolved a labeler's flag. Arguments: ``review`` (the flag Review, resolved).
flag_resolved = Signal()

#: A batch's label distribution drifted. Arguments: ``event`` (the DriftEvent row).
drift_detected = Signal()
