"""The look-ahead lease (docs/next-task.md, "Look-ahead lease"): ``Assignment.ahead``, and one
live lease per labeler, project *and kind* (current, look-ahead) instead of one per labeler and
project. The new constraint is in place before the old one goes, so no moment allows a second
lease of a kind. Reversible: going back releases the live look-ahead leases first (their tasks'
slots free at once), since the old constraint allows one lease only."""

from django.db import migrations, models


def release_lookahead_leases(apps, schema_editor):
    Assignment = apps.get_model("assignments", "Assignment")
    Assignment.objects.filter(status="leased", ahead=True).update(status="released")


class Migration(migrations.Migration):
    dependencies = [
        ("assignments", "0009_decisions_refit"),
        ("workforce", "0003_labelerinvitation"),
    ]

    operations = [
        migrations.AddField(
            model_name="assignment",
            name="ahead",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "leased")),
                fields=("labeler", "project", "ahead"),
                name="assignments_assignment_one_live_lease_per_kind",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="assignment",
            name="assignments_assignment_one_live_lease",
        ),
        migrations.RunPython(migrations.RunPython.noop, release_lookahead_leases),
    ]
