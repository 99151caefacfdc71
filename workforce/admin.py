"""The operations managers' admin for the workforce registry.

Invited labelers get in through a one-time invitation link: the labelers list's "Issue
invitation links" action and the labeler page's "Invite…" button call
``labeler_invitation_issue`` and show each link once, on the page that answers (only its hash is
kept); it is also mailed when the labeler has an e-mail address.

Thin, like the API: lists are annotated and joined up front (no query per row), state changes
go through admin actions that call the services, and every form save that the services own —
adding a vendor, a vendor manager or a labeler, editing a labeler — calls the service instead
of ``Model.save()``. When a service rejects the input (ValidationError), the form is shown
again with the service's messages on their fields, and nothing of the attempt is kept.
History rows are read-only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from import_export.admin import ImportExportModelAdmin
from import_export.formats import base_formats

from config.admin import (
    ConfirmationActionsMixin,
    NamedAutocompleteMixin,
    NeverDeletedMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ReasonForm,
    ServiceErrorsFormMixin,
    ServiceFormAdminMixin,
    ServiceModelForm,
    StatusHistoryInline,
    adopt,
    annotation_column,
    error_text,
    named_autocomplete_urls,
    object_view_urls,
    person_column,
    person_label,
    reason_asking_action,
    with_reason,
)
from config.errors import ApplicationError
from workforce import selectors, services
from workforce.models import (
    Labeler,
    LabelerStatusChange,
    Qualification,
    QualificationType,
    Skill,
    User,
    Vendor,
    VendorMembership,
    VendorStatusChange,
    qualification_live_q,
)
from workforce.resources import LabelerResource

INVITATIONS_TEMPLATE = "admin/workforce/labeler/invitations.html"

# A labeler's work settings: the form's fields, shown together on the add and change pages.
WORK_FIELDS = ("kind", "vendor", "external_id", "seniority", "skills", "languages", "timezone")


def _text_input() -> forms.TextInput:
    return forms.TextInput(attrs={"class": "vTextField"})


class _LabelerFormBase(ServiceModelForm):
    """Fields of a labeler and of its login. Saving is the service's job: the input is neither
    copied onto the instance nor model-validated here, so an unsaved value can never reach the
    database around the service (which validates everything itself)."""

    email = forms.EmailField(required=False, widget=forms.EmailInput(attrs={"class": "vTextField"}))
    first_name = forms.CharField(required=False, max_length=150, widget=_text_input())
    last_name = forms.CharField(required=False, max_length=150, widget=_text_input())
    languages = forms.CharField(
        required=False,
        widget=_text_input(),
        help_text="Comma-separated BCP 47 codes, e.g. en, pt-BR.",
    )

    class Meta:
        model = Labeler
        fields = WORK_FIELDS

    def clean_languages(self) -> list[str]:
        return [p.strip() for p in self.cleaned_data["languages"].split(",") if p.strip()]


class LabelerAddForm(_LabelerFormBase):
    username = forms.CharField(max_length=150, widget=_text_input())

    def service_kwargs(self) -> dict:
        c = self.cleaned_data
        return {
            "username": c["username"],
            "email": c.get("email", ""),
            "first_name": c.get("first_name", ""),
            "last_name": c.get("last_name", ""),
            "kind": c["kind"],
            "vendor": c.get("vendor"),
            "external_id": c.get("external_id", ""),
            "seniority": c["seniority"],
            "skills": [s.slug for s in c.get("skills", [])],
            "languages": c.get("languages", []),
            "timezone_name": c["timezone"],
        }


class LabelerChangeForm(_LabelerFormBase):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            user = self.instance.user
            self.initial.update(
                email=user.email,
                first_name=user.first_name,
                last_name=user.last_name,
                languages=", ".join(self.instance.languages or []),
            )

    def service_data(self) -> dict:
        """The changed fields, as ``labeler_update`` takes them."""
        data = {}
        for name in self.changed_data:
            value = self.cleaned_data[name]
            data[name] = [s.slug for s in value] if name == "skills" else value
        return data


# -- vendors ------------------------------------------------------------------------------------


class VendorForm(ServiceErrorsFormMixin, forms.ModelForm):
    """Adding calls ``vendor_create``; changing is a plain ModelForm save (there is no vendor
    update service yet), so the codes are checked here too, on their fields — otherwise the
    model's check constraint would report a bad currency as a non-field error."""

    class Meta:
        model = Vendor
        fields = (
            "name",
            "slug",
            "contact_name",
            "contact_email",
            "country",
            "default_currency",
        )

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            raise ValidationError("Use a two-letter ISO 3166-1 code.")
        return country

    def clean_default_currency(self) -> str:
        currency = self.cleaned_data["default_currency"].strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValidationError("Use a three-letter ISO 4217 code.")
        return currency


class VendorMembershipInline(admin.TabularInline):
    """Managers of the vendor. Adding and removing go through ``vendor_manager_add`` and
    ``vendor_manager_remove`` (VendorAdmin.save_formset), which keep the guardian object
    permission in step; an existing membership cannot be edited, only removed."""

    model = VendorMembership
    fields = ("user", "role", "created_at")
    readonly_fields = ("role", "created_at")
    autocomplete_fields = ("user",)
    extra = 0
    verbose_name = "manager"
    verbose_name_plural = "managers"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def has_change_permission(self, request, obj=None):
        return False


class VendorReasonForm(ReasonForm):
    reason_help = "Recorded in each selected vendor's status history."


class VendorStatusChangeInline(StatusHistoryInline):
    model = VendorStatusChange
    fields = ("created_at", "from_status", "to_status", "actor", "reason", "leases_ended")
    readonly_fields = fields


@admin.register(Vendor)
class VendorAdmin(
    NeverDeletedMixin, ConfirmationActionsMixin, ServiceFormAdminMixin, admin.ModelAdmin
):
    # Never deleted: a vendor is offboarded, and its labelers, history and money refer to it.
    # Changing its details is the ModelForm's save (validated by VendorForm): no vendor update
    # service. Its status changes only through the actions and the page's buttons, which ask
    # for a reason and call the status services (docs/operations.md, "Vendor status").
    form = VendorForm
    create_service = staticmethod(services.vendor_create)
    change_form_template = "admin/workforce/vendor/change_form.html"
    list_display = (
        "name",
        "slug",
        "status",
        "country",
        "default_currency",
        "labeler_count",
        "active_labeler_count",
    )
    list_filter = ("status", "country")
    search_fields = ("name", "slug", "contact_name", "contact_email")
    prepopulated_fields = {"slug": ("name",)}
    fields = (*selectors.VENDOR_FIELDS, "status_changed_at", "created_at", "updated_at")
    readonly_fields = ("status", "status_changed_at", "created_at", "updated_at")
    inlines = (VendorMembershipInline, VendorStatusChangeInline)
    actions = ("suspend_vendors", "offboard_vendors", "reactivate_vendors")

    def get_queryset(self, request):
        # The selector annotates labeler counts in the same query as the vendors.
        return selectors.vendor_list_for(actor=request.user)

    labeler_count = annotation_column("labeler_count", "labelers")
    active_labeler_count = annotation_column("active_labeler_count", "active labelers")

    def get_inlines(self, request, obj):
        # A vendor being added has no history yet.
        return self.inlines if obj is not None else (VendorMembershipInline,)

    def save_formset(self, request, form, formset, change):
        if formset.model is not VendorMembership:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)  # collects new and deleted rows; writes nothing
        for membership in formset.deleted_objects:
            services.vendor_manager_remove(
                actor=request.user, vendor=form.instance, user=membership.user
            )
        for membership in formset.new_objects:
            services.vendor_manager_add(
                actor=request.user, vendor=form.instance, user=membership.user
            )

    # -- status: actions, and the change page's buttons --

    reason_form = VendorReasonForm
    reason_noun = "vendor"

    def reason_line(self, vendor: Vendor) -> str:
        active = getattr(vendor, "active_labeler_count", None)
        labelers = "" if active is None else f", {active} active labeler(s)"
        return f"{vendor.name} ({vendor.get_status_display().lower()}{labelers})"

    def reason_subject(self, vendor: Vendor) -> str:
        return vendor.name

    suspend_vendors, offboard_vendors, reactivate_vendors = (
        reason_asking_action(
            f"{verb}_vendors",
            verb=verb,
            description=description,
            apply=with_reason(service, "vendor"),
            past=past,
        )
        for verb, service, past, description in (
            (
                "suspend",
                services.vendor_suspend,
                "Suspended",
                "Suspend selected vendors (their labelers get no work; live leases end)",
            ),
            (
                "offboard",
                services.vendor_offboard,
                "Offboarded",
                "Offboard selected vendors (final; live leases end)",
            ),
            (
                "reactivate",
                services.vendor_reactivate,
                "Reactivated",
                "Reactivate selected vendors",
            ),
        )
    )

    # The buttons each status allows: (view, label, action).
    STATUS_BUTTONS = {
        Vendor.Status.ACTIVE: (
            ("suspend", "Suspend…", "suspend_vendors"),
            ("offboard", "Offboard…", "offboard_vendors"),
        ),
        Vendor.Status.SUSPENDED: (
            ("reactivate", "Reactivate…", "reactivate_vendors"),
            ("offboard", "Offboard…", "offboard_vendors"),
        ),
        Vendor.Status.OFFBOARDED: (),
    }

    def get_urls(self):
        return [*object_view_urls(self, "suspend", "offboard", "reactivate"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        vendor = Vendor.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if vendor is not None and self.has_change_permission(request, vendor):
            context["status_buttons"] = [
                {"url": reverse(f"admin:workforce_vendor_{view}", args=[vendor.pk]), "label": label}
                for view, label, _ in self.STATUS_BUTTONS[vendor.status]
            ]
        return super().change_view(request, object_id, form_url, context)

    def _status_view(self, request, object_id, action: str):
        """A vendor page's button: the action on that vendor alone (its confirmation page,
        which asks for the reason, posts back here), then back to the vendor's page."""
        queryset = self.get_queryset(request).filter(pk=object_id)
        vendor = get_object_or_404(queryset)
        if not self.has_change_permission(request, vendor):
            raise PermissionDenied
        response = getattr(self, action)(request, queryset)
        if response is not None:
            return response
        return HttpResponseRedirect(reverse("admin:workforce_vendor_change", args=[vendor.pk]))

    def suspend_view(self, request, object_id):
        return self._status_view(request, object_id, "suspend_vendors")

    def offboard_view(self, request, object_id):
        return self._status_view(request, object_id, "offboard_vendors")

    def reactivate_view(self, request, object_id):
        return self._status_view(request, object_id, "reactivate_vendors")


@admin.register(VendorMembership)
class VendorMembershipAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    """Who manages which vendor. Add and delete call the services (which keep the object
    permission in step); a membership is never edited."""

    list_display = ("user", "vendor", "role", "created_at")
    list_filter = ("role", "vendor")
    search_fields = ("user__username", "user__email", "vendor__name", "vendor__slug")
    list_select_related = ("user", "vendor")
    autocomplete_fields = ("user", "vendor")
    fields = ("user", "vendor", "role", "created_at")
    readonly_fields = ("role", "created_at")

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        membership = self._call_service(
            services.vendor_manager_add, actor=request.user, vendor=obj.vendor, user=obj.user
        )
        adopt(obj, membership)

    def delete_model(self, request, obj):
        services.vendor_manager_remove(actor=request.user, vendor=obj.vendor, user=obj.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "vendor"):
            self.delete_model(request, membership)


# -- skills and users ---------------------------------------------------------------------------


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "labeler_count")
    search_fields = ("slug", "name")
    fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(labeler_count=Count("labelers"))

    labeler_count = annotation_column("labeler_count", "labelers")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "is_staff",
        "is_active",
        "labeler_code",
    )
    list_select_related = ("labeler",)
    search_fields = ("username", "first_name", "last_name", "email")

    @admin.display(description="labeler", ordering="labeler__public_code")
    def labeler_code(self, obj: User) -> str:
        labeler = getattr(obj, "labeler", None)
        return labeler.public_code if labeler else "—"

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Operations managers hold the change-user permission; that must not let them
            # grant themselves (or anyone) more than a role gives.
            readonly += ["is_superuser", "user_permissions"]
        if obj is not None and hasattr(obj, "labeler"):
            # A labeler's login follows the lifecycle (offboarding disables it).
            readonly.append("is_active")
        return readonly

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


# -- labelers -----------------------------------------------------------------------------------


class TransitionReasonForm(ReasonForm):
    reason_help = "Recorded in each selected labeler's status history."


class LabelerStatusChangeInline(StatusHistoryInline):
    model = LabelerStatusChange


class LabelerQualificationInline(ReadOnlyInline):
    """The labeler's qualifications, newest grant first, each linked to its page (where it is
    revoked or granted again)."""

    model = Qualification
    fk_name = "labeler"
    fields = ("grant", "score", "source", "granted_at", "expires_at", "revoked_at")
    readonly_fields = fields
    ordering = ("-granted_at", "-id")
    # A row's text is the grant's (labeler and type): both joined.
    related = ("labeler", "qualification_type")

    @admin.display(description="qualification")
    def grant(self, obj: Qualification) -> str:
        url = reverse("admin:workforce_qualification_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.qualification_type.name)


# -- the labeler page's panels ------------------------------------------------------------------


@dataclass(frozen=True)
class LabelerPanel:
    """A read-only panel of the labeler's page: ``render(request, labeler)`` returns its HTML
    (escaped, e.g. by ``format_html``) in a constant number of queries; ``wide`` panels take
    the page's width, the others half of it."""

    title: str
    render: Callable[[HttpRequest, Labeler], SafeString]
    order: int
    wide: bool = False


# The records of the apps above workforce (quiz attempts and rule firings in qc, assignments and
# the scorecard in assignments) are theirs to show: workforce cannot import them, so their admin
# modules add panels here (``labeler_panel``), as they add their own admin pages.
LABELER_PANELS: list[LabelerPanel] = []


def labeler_panel(title: str, *, order: int = 50, wide: bool = False) -> Callable:
    """Decorator: add ``render(request, labeler)`` as a panel of the labeler's page, panels in
    ``order``."""

    def register(render: Callable[[HttpRequest, Labeler], SafeString]) -> Callable:
        if not any(p.title == title for p in LABELER_PANELS):  # a module imported twice
            LABELER_PANELS.append(LabelerPanel(title, render, order, wide))
            LABELER_PANELS.sort(key=lambda p: p.order)
        return render

    return register


PANEL_ROWS = 20  # the latest rows a panel lists; "All of them…" opens the whole list


def panel_table(
    headers: tuple[str, ...], rows: list[tuple], *, empty: str, more_url: str
) -> SafeString:
    """A panel's table: ``rows`` of cells (escaped here unless already safe; at most
    ``PANEL_ROWS``), "``empty``" when there are none, and under a full table a link to the
    whole list (``more_url``)."""
    if not rows:
        body = format_html("<p>{}</p>", empty)
    else:
        head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
        lines = format_html_join(
            "",
            "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows),
        )
        body = format_html(
            "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, lines
        )
    if len(rows) >= PANEL_ROWS:
        body = format_html('{}<p><a href="{}">All of them…</a></p>', body, more_url)
    return body


def panel_link(url_name: str, pk: int, text: object) -> SafeString:
    """``text`` linked to the admin page ``admin:<url_name>`` of the row ``pk``."""
    return format_html('<a href="{}">{}</a>', reverse(f"admin:{url_name}", args=[pk]), text)


def panel_time(when) -> str:
    """A time in a panel: local, to the minute; "—" when there is none."""
    return f"{timezone.localtime(when):%Y-%m-%d %H:%M}" if when else "—"


# Status buttons of the labeler's page: the lifecycle action each calls, and the statuses it
# is offered from (the service still decides; ``workforce.services.ALLOWED_TRANSITIONS``).
STATUS_BUTTONS = (
    ("activate", (Labeler.Status.INVITED, Labeler.Status.ONBOARDING)),
    ("suspend", (Labeler.Status.ACTIVE,)),
    ("reactivate", (Labeler.Status.SUSPENDED,)),
    (
        "offboard",
        (
            Labeler.Status.INVITED,
            Labeler.Status.ONBOARDING,
            Labeler.Status.ACTIVE,
            Labeler.Status.SUSPENDED,
        ),
    ),
)


@admin.register(Labeler)
class LabelerAdmin(
    NeverDeletedMixin, ConfirmationActionsMixin, ServiceFormAdminMixin, ImportExportModelAdmin
):
    # Never deleted: labelers are offboarded; deleting would erase their history.
    form = LabelerChangeForm
    add_form = LabelerAddForm
    # The person and code, the username and created time on the change page (fits 1400 px).
    list_display = (
        "person",
        "kind",
        "vendor",
        "status",
        "seniority",
        "skill_list",
        "scorecard",
    )
    list_filter = ("vendor", "kind", "status", "seniority", "skills")
    search_fields = (
        "user__username",
        "user__email",
        "user__first_name",
        "user__last_name",
        "public_code",
        "external_id",
    )
    list_select_related = ("user", "vendor")
    autocomplete_fields = ("vendor", "skills")
    readonly_fields = (
        "public_code",
        "user_link",
        "status",
        "status_changed_at",
        "scorecard",
        "invitation_list",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "public_code",
                    "user_link",
                    "status",
                    "status_changed_at",
                    "scorecard",
                    "invitation_list",
                )
            },
        ),
        ("Person", {"fields": ("email", "first_name", "last_name")}),
        ("Work", {"fields": WORK_FIELDS}),
        ("Record", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    add_fieldsets = (
        (
            "Login",
            {
                "fields": ("username", "email", "first_name", "last_name"),
                "description": "The labeler is invited with no password and cannot log in "
                "until they open an invitation link and choose one. After saving, issue the "
                "link with the labeler page's Invite… button (or the list's Issue invitation "
                "links action): it is shown once and mailed when an e-mail address is given.",
            },
        ),
        ("Work", {"fields": WORK_FIELDS}),
    )
    inlines = (LabelerQualificationInline, LabelerStatusChangeInline)
    actions = ("invite", "activate", "suspend", "reactivate", "offboard")
    change_form_template = "admin/workforce/labeler/change_form.html"

    # django-import-export
    resource_classes = (LabelerResource,)
    formats = (base_formats.CSV, base_formats.XLSX)

    def get_queryset(self, request):
        # The selector joins user and vendor and prefetches skills: a constant number of
        # queries per page.
        return selectors.labeler_list_for(actor=request.user)

    # -- columns --

    @admin.display(description="labeler", ordering="user__last_name")
    def person(self, obj: Labeler) -> str:
        return person_label(obj)

    def autocomplete_label(self, obj: Labeler) -> str:
        """Every autocomplete of a labeler (``NamedAutocompleteMixin``, the list filters) shows
        the person beside the code."""
        return person_label(obj)

    @admin.display(description="skills")
    def skill_list(self, obj: Labeler) -> str:
        return ", ".join(s.slug for s in obj.skills.all())  # prefetched

    @admin.display(description="login")
    def user_link(self, obj: Labeler) -> str:
        url = reverse("admin:workforce_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user.username)

    @admin.display(description="quality")
    def scorecard(self, obj: Labeler) -> str:
        # The scorecard is an admin view of the assignments app (it reads work records and
        # scores); workforce names its URL and never imports it.
        try:
            url = reverse("admin:assignments_quality_scorecard", args=[obj.pk])
        except NoReverseMatch:
            return "—"
        return format_html('<a href="{}">Scorecard</a>', url)

    @admin.display(description="invitations")
    def invitation_list(self, obj: Labeler) -> str:
        # A read-only field rather than an inline: nothing here is edited, and the links
        # themselves are never stored (only their hashes), so only their states are shown.
        now = timezone.now()
        invitations = list(selectors.labeler_invitations(labeler=obj))
        if not invitations:
            return "none (the Invite… button issues one)"
        rows = format_html_join(
            "",
            "<li>issued {} by {}: {} (expires {})</li>",
            (
                (
                    formats.localize(timezone.template_localtime(i.created_at)),
                    i.issued_by.username if i.issued_by_id else "—",
                    i.state_at(now),
                    formats.localize(timezone.template_localtime(i.expires_at)),
                )
                for i in invitations
            ),
        )
        return format_html('<ul style="margin:0;padding-left:1.2em">{}</ul>', rows)

    # -- forms --

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else super().get_readonly_fields(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def get_inlines(self, request, obj):
        return () if obj is None else super().get_inlines(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            data = form.service_data()
            if data:
                self._call_service(
                    services.labeler_update, actor=request.user, labeler=obj, data=data
                )
            return
        labeler = self._call_service(
            services.labeler_create,
            actor=request.user,
            reason="Added in the admin.",
            **form.service_kwargs(),
        )
        adopt(obj, labeler)
        self.message_user(
            request,
            f"{labeler.user.username} cannot log in yet: no password is set. Issue their "
            "invitation link with the Invite… button on this page; they choose their password "
            "there.",
            messages.WARNING,
        )

    def save_related(self, request, form, formsets, change):
        # No form.save_m2m(): the service has set the skills.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # -- lifecycle actions --

    # Each asks for a reason (required) on an intermediate page, then calls its service for each
    # selected labeler — one transaction each — and reports successes and failures.
    reason_form = TransitionReasonForm
    reason_noun = "labeler"
    reason_related = ("user",)

    def reason_line(self, labeler: Labeler) -> str:
        return f"{person_label(labeler)}, {labeler.get_status_display().lower()}"

    def reason_subject(self, labeler: Labeler) -> str:
        return person_label(labeler)

    activate, suspend, reactivate, offboard = (
        reason_asking_action(
            verb,
            description=f"{verb.capitalize()} selected labelers",
            apply=with_reason(service, "labeler"),
            past=past,
        )
        for verb, service, past in (
            ("activate", services.labeler_activate, "Activated"),
            ("suspend", services.labeler_suspend, "Suspended"),
            ("reactivate", services.labeler_reactivate, "Reactivated"),
            ("offboard", services.labeler_offboard, "Offboarded"),
        )
    )

    # -- invitations --

    def get_urls(self):
        status = path(
            "<path:object_id>/status/<str:verb>/",
            self.admin_site.admin_view(self.status_view),
            name="workforce_labeler_status",
        )
        return [
            *named_autocomplete_urls(self),
            status,
            *object_view_urls(self, "invite"),
            *super().get_urls(),
        ]

    # -- the labeler's page: panels and status buttons --

    def change_view(self, request, object_id, form_url="", extra_context=None):
        labeler = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if labeler is not None:
            context["subtitle"] = person_label(labeler)
            context["labeler_panels"] = [
                (p.title, p.render(request, labeler), p.wide) for p in LABELER_PANELS
            ]
            if self.has_change_permission(request, labeler):
                context["status_buttons"] = [
                    (
                        verb.capitalize(),
                        reverse("admin:workforce_labeler_status", args=[labeler.pk, verb]),
                    )
                    for verb, statuses in STATUS_BUTTONS
                    if labeler.status in statuses
                ]
        return super().change_view(request, object_id, form_url, context)

    def status_view(self, request, object_id, verb: str):
        """A status button: the same lifecycle action as the list's (``verb``), on this labeler
        alone — the reason is asked on the same confirmation page, and the service is called
        when it is given; then back to the labeler's page."""
        if verb not in dict(STATUS_BUTTONS):
            raise Http404
        labeler = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, labeler):
            raise PermissionDenied
        response = getattr(self, verb)(request, self.get_queryset(request).filter(pk=labeler.pk))
        if response is not None:
            return response
        return HttpResponseRedirect(reverse("admin:workforce_labeler_change", args=[labeler.pk]))

    def _issue_invitations(self, request, labelers) -> TemplateResponse:
        """Issue a link for each of ``labelers`` (one transaction each) and show the links
        once, with each refusal."""
        base_url = request.build_absolute_uri("/")
        issued, refused = [], []
        for labeler in labelers:
            try:
                result = services.labeler_invitation_issue(
                    actor=request.user, labeler=labeler, base_url=base_url
                )
            except (ApplicationError, ValidationError) as exc:
                refused.append((labeler, error_text(exc)))
            else:
                issued.append((labeler, result))
        return self._invitations_page(request, issued=issued, refused=refused)

    def _invitations_page(self, request, **context) -> TemplateResponse:
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            INVITATIONS_TEMPLATE,
            {
                **self.admin_site.each_context(request),
                "title": "Invitation links",
                "opts": self.opts,
                **context,
            },
        )

    @admin.action(description="Issue invitation links for selected labelers")
    def invite(self, request, queryset):
        labelers = list(queryset.select_related("user").order_by("pk"))
        return self._issue_invitations(request, labelers)

    def invite_view(self, request, object_id):
        """The labeler page's Invite… button: GET asks to confirm (issuing replaces an open
        link), POST issues and shows the link once."""
        labeler = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, labeler):
            raise PermissionDenied
        if request.method == "POST":
            return self._issue_invitations(request, [labeler])
        return self._invitations_page(
            request,
            confirm=labeler,
            can_be_invited=selectors.labeler_can_be_invited(labeler=labeler),
            has_open=selectors.labeler_has_open_invitation(labeler=labeler),
        )

    # -- import / export --

    def has_import_permission(self, request):
        # Import creates and changes labelers.
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def process_result(self, result, request):
        """After the confirmed import. LabelerResource rolls the whole file back when any row
        fails (possible even after a clean preview, if data changed in between): say so and
        list the rows, instead of import-export's "Import finished" and log entries for rows
        that no longer exist."""
        if not (result.has_errors() or result.has_validation_errors()):
            return super().process_result(result, request)
        self.message_user(
            request, "Nothing was imported: the file was rolled back.", messages.ERROR
        )
        for row in result.invalid_rows:
            details = "; ".join(
                f"{field}: {' '.join(errors)}" for field, errors in row.error_dict.items()
            )
            self.message_user(request, f"Row {row.number}: {details}", messages.ERROR)
        for number, errors in result.row_errors():
            for error in errors:
                self.message_user(request, f"Row {number}: {error.error}", messages.ERROR)
        for error in result.base_errors:
            self.message_user(request, str(error.error), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:workforce_labeler_import"))


@admin.register(LabelerStatusChange)
class LabelerStatusChangeAdmin(ReadOnlyAdmin):
    """The lifecycle's audit trail: read-only."""

    list_display = ("created_at", "person", "from_status", "to_status", "actor", "reason")
    list_filter = ("to_status", "from_status", "labeler__kind", "labeler__vendor", "created_at")
    search_fields = (
        "labeler__public_code",
        "labeler__user__username",
        "labeler__user__first_name",
        "labeler__user__last_name",
        "actor__username",
        "reason",
    )
    list_select_related = ("labeler__user", "actor")
    date_hierarchy = "created_at"
    fields = ("person", "from_status", "to_status", "actor", "reason", "created_at")
    readonly_fields = fields
    related = ("labeler__user", "actor")
    person = person_column()


# -- qualifications -----------------------------------------------------------------------------


@admin.register(QualificationType)
class QualificationTypeAdmin(NeverDeletedMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    """Adding calls ``qualification_type_create``; the name and description may be edited, the
    slug (which projects and quizzes refer to) may not. Never deleted: grants and quizzes refer
    to a type, and it stays for the record."""

    create_service = staticmethod(services.qualification_type_create)

    list_display = ("slug", "name", "live_grants")
    search_fields = ("slug", "name")
    fields = ("slug", "name", "description", "created_at")
    readonly_fields = ("created_at",)
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        live = qualification_live_q(prefix="grants__")
        return super().get_queryset(request).annotate(live_grants=Count("grants", filter=live))

    live_grants = annotation_column("live_grants", "live grants")

    def get_readonly_fields(self, request, obj=None):
        return ("slug", "created_at") if obj is not None else ("created_at",)

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else self.prepopulated_fields


class QualificationStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (
            ("valid", "Valid"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
            ("superseded", "Superseded"),
        )

    def queryset(self, request, queryset):
        match self.value():
            case "valid":
                return queryset.valid()
            case "expired":
                return queryset.expired()
            case "revoked":
                return queryset.filter(revoked_at__isnull=False)
            case "superseded":
                return queryset.filter(superseded_at__isnull=False, revoked_at__isnull=True)
        return queryset


class QualificationGrantForm(ServiceModelForm):
    """A manual grant: ``qualification_grant_manual`` validates and writes it."""

    valid_days = forms.IntegerField(
        required=False, min_value=1, help_text="Empty: the grant does not expire."
    )
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))

    class Meta:
        model = Qualification
        fields = ("labeler", "qualification_type")


class QualificationActionForm(ReasonForm):
    reason_help = "Recorded with each selected qualification."


class QualificationRenewForm(QualificationActionForm):
    valid_days = forms.IntegerField(
        required=False, min_value=1, help_text="Empty: the new grant does not expire."
    )


def _grant_by_hand(request, labeler: Labeler, qualification_type, c: dict) -> Qualification:
    """A manual grant with a form's reason and validity (the add page, the "grant again"
    action)."""
    return services.qualification_grant_manual(
        actor=request.user,
        labeler=labeler,
        qualification_type=qualification_type,
        reason=c["reason"],
        valid_days=c.get("valid_days"),
    )


@admin.register(Qualification)
class QualificationAdmin(
    NeverDeletedMixin,
    NamedAutocompleteMixin,
    ConfirmationActionsMixin,
    ServiceFormAdminMixin,
    admin.ModelAdmin,
):
    """Grants of qualifications: read-only rows. Adding one is a manual grant
    (``qualification_grant``); the actions revoke (``qualification_revoke``) or grant again
    (``qualification_grant``), each with a reason."""

    list_display = (
        "id",
        "person",
        "qualification_type",
        "state",
        "score",
        "source",
        "granted_at",
        "expires_at",
    )
    list_filter = (QualificationStateFilter, "qualification_type", "source")
    search_fields = (
        "labeler__public_code",
        "labeler__user__username",
        "labeler__user__first_name",
        "labeler__user__last_name",
        "qualification_type__slug",
        "source_ref",
    )
    list_select_related = ("labeler__user", "qualification_type")
    person = person_column()
    autocomplete_fields = ("labeler", "qualification_type")
    date_hierarchy = "granted_at"
    # Who granted and who revoked come last: the API does not show them.
    fields = ("person", *selectors.QUALIFICATION_FIELDS, "granted_by", "revoked_by")
    readonly_fields = fields
    actions = ("revoke", "renew")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("labeler__user", "qualification_type", "granted_by", "revoked_by")
        )

    @admin.display(description="state")
    def state(self, obj: Qualification) -> str:
        if obj.revoked_at is not None:
            return "revoked"
        if obj.superseded_at is not None:
            return "superseded"
        return "valid" if obj.is_valid_at(timezone.now()) else "expired"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = QualificationGrantForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("labeler", "qualification_type", "valid_days", "reason")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_grant_permission(self, request) -> bool:
        return request.user.has_perm("workforce.add_qualification")

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("workforce.change_qualification")

    def save_model(self, request, obj, form, change):
        c = form.cleaned_data
        qualification = self._call_service(
            _grant_by_hand,
            request=request,
            labeler=c["labeler"],
            qualification_type=c["qualification_type"],
            c=c,
        )
        adopt(obj, qualification)

    # -- actions, each with a reason --

    reason_form = QualificationActionForm
    reason_noun = "qualification"
    reason_related = ("labeler__user", "qualification_type")

    def reason_line(self, q: Qualification) -> str:
        granted = formats.localize(timezone.template_localtime(q.granted_at))
        revoked = ", revoked" if q.revoked_at else ""
        return f"{person_label(q.labeler)} — {q.qualification_type} (granted {granted}{revoked})"

    def reason_subject(self, q: Qualification) -> str:
        return f"{person_label(q.labeler)} — {q.qualification_type}"

    revoke = reason_asking_action(
        "revoke",
        description="Revoke selected qualifications",
        permissions=["revoke"],
        apply=with_reason(services.qualification_revoke, "qualification"),
        past="Revoked",
    )
    renew = reason_asking_action(
        "renew",
        description="Grant selected qualifications again",
        permissions=["grant"],
        form_class=QualificationRenewForm,
        apply=lambda request, q, c: _grant_by_hand(request, q.labeler, q.qualification_type, c),
        verb="grant again",
        past="Granted again",
    )
