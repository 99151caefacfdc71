"""The operations admin for guides: guides with their versions, publishing, and who has
acknowledged what.

As in the workforce admin, every write goes through a service: adding or editing a guide or a
draft (``guide_create``, ``guide_update``, ``guide_version_create``, ``guide_version_update``),
discarding a draft, and the "publish" action (``guide_version_publish``). A published version
is shown read-only everywhere; acknowledgements are read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet

from config.admin import (
    ConfirmationActionsMixin,
    NeverDeletedMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceFormAdminMixin,
    ServiceModelForm,
    annotation_column,
    person_column,
    with_defaults,
)
from qc.models import Guide, GuideAcknowledgement, GuideVersion
from qc.selectors import guides as selectors
from qc.services import guides as services

PUBLISHED = GuideVersion.Status.PUBLISHED
DRAFT = GuideVersion.Status.DRAFT
# What a draft's author writes, on the version's own page and inline on its guide.
DRAFT_FIELDS = ("bump", "body", "label_definitions", "change_summary")


# What a new draft's fields left empty take (no text and no summary stay empty).
DRAFT_DEFAULTS = {"bump": GuideVersion.Bump.MINOR, "label_definitions": []}


# -- forms --------------------------------------------------------------------------------------


class GuideForm(ServiceModelForm):
    class Meta:
        model = Guide
        fields = ("slug", "name", "project_family", "description")


class GuideVersionForm(ServiceModelForm):
    class Meta:
        model = GuideVersion
        fields = ("guide", *DRAFT_FIELDS)


class DraftInlineForm(forms.ModelForm):
    class Meta:
        model = GuideVersion
        fields = DRAFT_FIELDS

    def _post_clean(self):
        """Saved by the services in GuideAdmin.save_formset, which validate."""


# -- guides -------------------------------------------------------------------------------------


class DraftVersionInline(admin.StackedInline):
    """Drafts: editable here (through the services); publish them from the versions list."""

    model = GuideVersion
    form = DraftInlineForm
    fields = DRAFT_FIELDS
    extra = 0
    verbose_name = "draft version"
    verbose_name_plural = "draft versions"
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status=DRAFT).select_related("guide")


class PublishedVersionInline(ReadOnlyInline):
    """Published versions: immutable, shown read-only."""

    model = GuideVersion
    fields = ("number", "bump", "change_summary", "published_at", "published_by")
    readonly_fields = fields
    show_change_link = True
    verbose_name = "published version"
    verbose_name_plural = "published versions"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(status=PUBLISHED)
            .select_related("guide", "published_by")
            .defer("body", "label_definitions")
            .order_by("-major", "-minor")
        )

    @admin.display(description="number")
    def number(self, obj: GuideVersion) -> str:
        return obj.number


@admin.register(Guide)
class GuideAdmin(NeverDeletedMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    # Never deleted: versions, acknowledgements and gold refer to a guide.
    form = GuideForm
    create_service = staticmethod(services.guide_create)
    update_service = staticmethod(services.guide_update)
    update_target = "guide"
    editable_fields = services.GUIDE_EDITABLE_FIELDS
    list_display = (
        "name",
        "slug",
        "project_family",
        "current_version",
        "published_count",
        "draft_count",
        "created_at",
    )
    list_filter = ("project_family",)
    search_fields = ("name", "slug", "project_family")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (DraftVersionInline, PublishedVersionInline)

    def get_queryset(self, request):
        # Counts and the current number are annotated in the same query as the guides.
        return selectors.guide_list_for(actor=request.user)

    def get_readonly_fields(self, request, obj=None):
        return ("slug", "created_at") if obj is not None else ()

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else self.prepopulated_fields

    @admin.display(description="current version")
    def current_version(self, obj: Guide) -> str:
        if obj.current_major is None:
            return "—"
        return f"{obj.current_major}.{obj.current_minor}"

    published_count = annotation_column("published_count", "published")
    draft_count = annotation_column("draft_count", "drafts")

    def save_formset(self, request, form, formset, change):
        if formset.model is not GuideVersion:
            return super().save_formset(request, form, formset, change)
        formset.save(commit=False)  # sorts the forms into new, changed, deleted; writes nothing
        guide = form.instance
        for version in formset.deleted_objects:
            self._call_service(services.guide_version_discard, actor=request.user, version=version)
        for version, changed in formset.changed_objects:
            inline_form = next(f for f in formset.forms if f.instance is version)
            data = {n: inline_form.cleaned_data[n] for n in changed}
            self._call_service(
                services.guide_version_update, actor=request.user, version=version, data=data
            )
        for version in formset.new_objects:
            inline_form = next(f for f in formset.forms if f.instance is version)
            self._call_service(
                services.guide_version_create,
                actor=request.user,
                guide=guide,
                **with_defaults(
                    {n: inline_form.cleaned_data.get(n, "") for n in DRAFT_FIELDS}, DRAFT_DEFAULTS
                ),
            )


# -- versions -----------------------------------------------------------------------------------


@admin.register(GuideVersion)
class GuideVersionAdmin(ConfirmationActionsMixin, ServiceFormAdminMixin, admin.ModelAdmin):
    """Drafts are written and edited here or inline on their guide, and published with the
    "publish" action. A published version opens read-only."""

    form = GuideVersionForm
    create_service = staticmethod(services.guide_version_create)
    create_defaults = DRAFT_DEFAULTS
    update_service = staticmethod(services.guide_version_update)
    update_target = "version"
    editable_fields = services.VERSION_EDITABLE_FIELDS
    list_display = (
        "guide",
        "number",
        "status",
        "bump",
        "short_change_summary",
        "published_at",
        "published_by",
        "created_at",
    )
    list_filter = ("status", "bump", "guide")
    search_fields = ("guide__name", "guide__slug", "change_summary")
    list_select_related = ("guide", "published_by")
    autocomplete_fields = ("guide",)
    actions = ("publish",)
    readonly_fields = (
        "number",
        "status",
        "published_at",
        "published_by",
        "created_by",
        "created_at",
    )
    fields = ("guide", *DRAFT_FIELDS, *readonly_fields)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body", "label_definitions")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # The guide of a version never changes.
        return ("guide", *self.readonly_fields)

    def get_fields(self, request, obj=None):
        if obj is None:
            return GuideVersionForm.Meta.fields
        return self.fields

    def get_search_results(self, request, queryset, search_term):
        queryset, distinct = super().get_search_results(request, queryset, search_term)
        # A gold item refers to a published version only: the autocomplete offers no drafts.
        if request.GET.get("model_name") == "golditem":
            queryset = queryset.filter(status=PUBLISHED)
        return queryset, distinct

    @admin.display(description="number", ordering="major")
    def number(self, obj: GuideVersion) -> str:
        return obj.number

    @admin.display(description="change summary")
    def short_change_summary(self, obj: GuideVersion) -> str:
        text = obj.change_summary
        return text if len(text) <= 80 else text[:79] + "…"

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == PUBLISHED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Only a draft may be discarded, one at a time (no bulk delete of versions).
        if obj is None or obj.status == PUBLISHED:
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.guide_version_discard(actor=request.user, version=obj)

    @admin.action(description="Publish selected draft versions", permissions=["change"])
    def publish(self, request, queryset: QuerySet[GuideVersion]):
        """Ask for confirmation (showing the number each draft will get), then publish each
        selected draft through ``guide_version_publish``, oldest first."""
        versions = list(queryset.select_related("guide").order_by("guide_id", "pk"))
        if "post" not in request.POST:
            lines, current = [], {}
            for version in versions:
                if version.status == PUBLISHED:
                    lines.append(f"{version.guide}: v{version.number} is already published.")
                    continue
                if version.guide_id not in current:
                    current[version.guide_id] = selectors.guide_current_version(
                        guide=version.guide_id
                    )
                major, minor = services.next_number(current[version.guide_id], version.bump)
                lines.append(
                    f"{version.guide}: draft #{version.pk} ({version.get_bump_display()}) "
                    f"→ v{major}.{minor}"
                )
                current[version.guide_id] = GuideVersion(major=major, minor=minor)
            return self.confirmation_page(
                request,
                action="publish",
                title="Publish guide versions",
                intro=(
                    "Publishing is final: a published version cannot be changed. Labelers "
                    "must acknowledge a new major version before working on its projects."
                ),
                lines=lines,
                object_pks=[v.pk for v in versions],
                submit_label="Publish",
            )

        def publish(version: GuideVersion) -> None:
            published = services.guide_version_publish(actor=request.user, version=version)
            self.message_user(
                request, f"Published {version.guide} v{published.number}.", messages.SUCCESS
            )

        self.apply_each(
            request,
            versions,
            publish,
            failed=lambda version, error: f"{version.guide} #{version.pk}: {error}",
        )
        return None


# -- acknowledgements ---------------------------------------------------------------------------


@admin.register(GuideAcknowledgement)
class GuideAcknowledgementAdmin(ReadOnlyAdmin):
    """Who acknowledged which version, and when: read-only (labelers acknowledge through the
    API)."""

    list_display = ("acknowledged_at", "person", "labeler_vendor", "guide", "version_number")
    list_filter = (
        "version__guide",
        ("version", admin.RelatedOnlyFieldListFilter),
        "labeler__vendor",
        "labeler__kind",
    )
    search_fields = (
        "labeler__public_code",
        "labeler__user__username",
        "labeler__user__first_name",
        "labeler__user__last_name",
        "version__guide__name",
        "version__guide__slug",
    )
    list_select_related = ("labeler__user", "labeler__vendor", "version__guide")
    date_hierarchy = "acknowledged_at"
    fields = ("person", "version", "acknowledged_at")
    readonly_fields = fields
    related = ("labeler__user", "version__guide")
    person = person_column()

    def get_queryset(self, request):
        return super().get_queryset(request).defer("version__body", "version__label_definitions")

    @admin.display(description="vendor", ordering="labeler__vendor__name")
    def labeler_vendor(self, obj: GuideAcknowledgement) -> str:
        return obj.labeler.vendor.name if obj.labeler.vendor_id else "internal"

    @admin.display(description="guide", ordering="version__guide__name")
    def guide(self, obj: GuideAcknowledgement) -> str:
        return obj.version.guide.name

    @admin.display(description="version", ordering="version__major")
    def version_number(self, obj: GuideAcknowledgement) -> str:
        return obj.version.number
