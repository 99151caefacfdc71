from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("assignments", "0007_project_control_check"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(
                condition=models.Q(("is_control", True), ("status", "submitted")),
                fields=["submitted_at"],
                name="assignments_control_submitted",
            ),
        ),
    ]
