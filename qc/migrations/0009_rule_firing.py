"""A rule's firing is called a firing everywhere: the model ``RuleAction`` becomes ``RuleFiring``
(its table, index and constraint follow), the labeler's reverse accessor ``rule_firings``, and
the source reference of a qualification granted again on reversing a firing ``rule-firing:<id>``.
Data is kept; only names change."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q, Value
from django.db.models.functions import Replace


def _source_refs(old: str, new: str):
    def run(apps, schema_editor):
        Qualification = apps.get_model("workforce", "Qualification")
        Qualification.objects.filter(source_ref__startswith=old).update(
            source_ref=Replace("source_ref", Value(old), Value(new))
        )

    return run


def _permissions(old: str, new: str):
    """The admin permissions keep their grants under the new codenames (Django would otherwise
    create ``*_rulefiring`` beside the stale ``*_ruleaction`` ones, granted to nobody)."""

    def run(apps, schema_editor):
        Permission = apps.get_model("auth", "Permission")
        for perm in Permission.objects.filter(
            content_type__app_label="qc", codename__endswith=f"_{old.replace(' ', '')}"
        ):
            perm.codename = perm.codename.replace(old.replace(" ", ""), new.replace(" ", ""))
            perm.name = perm.name.replace(old, new)
            perm.save(update_fields=["codename", "name"])

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("qc", "0008_rule_sequential_test"),
        ("workforce", "0002_qualificationtype_qualification"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RenameModel("RuleAction", "RuleFiring"),
        migrations.AlterField(
            model_name="rulefiring",
            name="labeler",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="rule_firings",
                to="workforce.labeler",
            ),
        ),
        migrations.RenameIndex(
            model_name="rulefiring",
            new_name="qc_rulefiring_labeler",
            old_name="qc_ruleaction_labeler",
        ),
        migrations.RemoveConstraint(model_name="rulefiring", name="qc_ruleaction_one_open_breach"),
        migrations.AddConstraint(
            model_name="rulefiring",
            constraint=models.UniqueConstraint(
                condition=Q(status="open"),
                fields=("rule", "labeler"),
                name="qc_rulefiring_one_open_breach",
            ),
        ),
        migrations.RunPython(
            _source_refs("rule-action:", "rule-firing:"),
            _source_refs("rule-firing:", "rule-action:"),
        ),
        migrations.RunPython(
            _permissions("rule action", "rule firing"),
            _permissions("rule firing", "rule action"),
        ),
    ]
