"""What the qc services announce. Each signal is sent inside the writing transaction, after the
write; a receiver that does something outside the database (mail, a webhook, a Celery message)
defers it with ``transaction.on_commit`` so a rolled-back change announces nothing."""

from django.dispatch import Signal

#: A quality rule fired on a labeler. Arguments: ``firing`` (the RuleFiring row, its rule and
#: labeler loaded).
rule_fired = Signal()

#: A guide version was published. Arguments: ``version`` (the GuideVersion; ``version.bump``
#: says whether labelers must acknowledge it again).
guide_version_published = Signal()
