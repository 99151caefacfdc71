"""Template helpers of the labeler pages' forms."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def described_widget(field):
    """The field's widget with ``aria-describedby`` naming its help text and its error
    messages (the ids ``includes/form_fields.html`` gives them), so a screen reader reads why
    a field was refused when it lands on it."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    ids += [f"{field.auto_id}_error{index}" for index, _ in enumerate(field.errors)]
    attrs = {"aria-describedby": " ".join(ids)} if ids else {}
    return field.as_widget(attrs=attrs)
