"""``{% operations_landing %}``: the landing page's panels for the signed-in user, rendered
from ``operations/landing.html`` (context: ``operations.admin.landing_context``)."""

from __future__ import annotations

from django import template

from operations.admin import landing_context

register = template.Library()


@register.inclusion_tag("operations/landing.html", takes_context=True)
def operations_landing(context):
    return landing_context(user=context["request"].user)
