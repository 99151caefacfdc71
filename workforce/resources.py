"""Bulk import and export of labelers (django-import-export), CSV and XLSX.

Import goes through the services, never through ``Model.save()``: a username that is not yet a
labeler is created with ``labeler_create``; an existing one is changed with ``labeler_update``;
either is then walked to the row's status with ``labeler_move_to_status``. The hooks used are
``import_instance`` (parse the row into plain values, report bad cells as field errors, touch
nothing), ``save_instance`` (call the services) and ``save_m2m`` (nothing: skills are the
service's business).

All or nothing: the import runs in one transaction, and any row that fails — a validation error
as much as a crash — rolls the whole file back (``import_data`` forces
``use_transactions`` and ``rollback_on_validation_errors``). The admin's preview is the same
import, rolled back.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils.encoding import force_str
from import_export import fields, resources, widgets

from config.errors import ApplicationError
from config.exports import escape_row, unescape_cell
from workforce import services
from workforce.models import Labeler, Skill, Vendor

# A labeler's own fields, in the order both the file's columns and the API's labeler
# (workforce.api.LabelerOut) list them.
PROFILE_COLUMNS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "kind",
    "vendor",
    "external_id",
    "status",
    "seniority",
    "skills",
    "languages",
    "timezone",
)
COLUMNS = (*PROFILE_COLUMNS, "public_code")

# Columns whose blank cell means "leave as it is" on an existing labeler (they cannot be blank).
_KEEP_WHEN_BLANK = ("kind", "seniority", "timezone", "status")


class _Text(widgets.CharWidget):
    """A text cell, trimmed. XLSX cells may arrive as numbers; they are read as text."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        # A cell escaped on export (config.exports) is read back as it was.
        return unescape_cell(force_str(value).strip()) if value is not None else ""


def _split(value: Any) -> list[str]:
    text = unescape_cell(force_str(value or "").strip())
    return [part.strip() for part in text.split(",") if part.strip()]


class LabelerResource(resources.ModelResource):
    username = fields.Field(attribute="user__username", column_name="username", widget=_Text())
    email = fields.Field(attribute="user__email", column_name="email", widget=_Text())
    first_name = fields.Field(
        attribute="user__first_name", column_name="first_name", widget=_Text()
    )
    last_name = fields.Field(attribute="user__last_name", column_name="last_name", widget=_Text())
    kind = fields.Field(attribute="kind", column_name="kind", widget=_Text())
    vendor = fields.Field(
        attribute="vendor", column_name="vendor", widget=widgets.ForeignKeyWidget(Vendor, "slug")
    )
    external_id = fields.Field(attribute="external_id", column_name="external_id", widget=_Text())
    status = fields.Field(attribute="status", column_name="status", widget=_Text())
    seniority = fields.Field(attribute="seniority", column_name="seniority", widget=_Text())
    skills = fields.Field(
        attribute="skills",
        column_name="skills",
        widget=widgets.ManyToManyWidget(Skill, separator=",", field="slug"),
    )
    languages = fields.Field(
        attribute="languages", column_name="languages", widget=widgets.SimpleArrayWidget(",")
    )
    timezone = fields.Field(attribute="timezone", column_name="timezone", widget=_Text())
    public_code = fields.Field(
        attribute="public_code", column_name="public_code", widget=_Text(), readonly=True
    )

    class Meta:
        model = Labeler
        name = "Labelers"
        fields = COLUMNS
        import_order = COLUMNS
        export_order = COLUMNS
        import_id_fields = ("username",)
        use_transactions = True
        # The services validate; the model's own full_clean would only repeat them worse.
        clean_model_instances = False
        skip_unchanged = False
        use_bulk = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Plain values parsed from each row by import_instance, keyed by row number, consumed
        # by save_instance.
        self._parsed: dict[int | None, dict[str, Any]] = {}

    # -- reading ---------------------------------------------------------------------------------

    def get_queryset(self):
        return Labeler.objects.select_related("user", "vendor").prefetch_related("skills")

    def export_resource(self, instance, selected_fields=None, **kwargs):
        """One exported row, every text cell escaped against formula injection (CSV and XLSX
        alike: a name planted as ``=HYPERLINK(…)`` is written as text, never as a formula)."""
        return escape_row(super().export_resource(instance, selected_fields, **kwargs))

    def get_import_fields(self):
        # public_code is the system's pseudonym: exported, never imported.
        return [f for f in super().get_import_fields() if not f.readonly]

    # -- importing -------------------------------------------------------------------------------

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=False,
        **kwargs,
    ):
        """Import ``dataset`` in one transaction; any failed row rolls back every row.

        The caller's ``rollback_on_validation_errors`` is ignored (always on): a file is either
        imported whole or not at all. ``user`` in ``kwargs`` is the actor recorded in history.
        """
        if use_transactions is False:
            raise ImproperlyConfigured("Labeler import is all-or-nothing; it needs a transaction.")
        return super().import_data(
            dataset,
            dry_run=dry_run,
            raise_errors=raise_errors,
            use_transactions=True,
            collect_failed_rows=collect_failed_rows,
            rollback_on_validation_errors=True,
            **kwargs,
        )

    def import_instance(self, instance, row, **kwargs):
        """Parse the row into plain values for the services. Changes nothing on ``instance``
        (a labeler's attributes change only through services). Raises ValidationError with one
        entry per bad cell."""
        values: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for field in self.get_import_fields():
            column = field.column_name
            if column not in row:
                continue
            raw = row[column]
            if column == "vendor":
                slug = _Text().clean(raw)
                if not slug:
                    values["vendor"] = None
                    continue
                vendor = Vendor.objects.filter(slug=slug).first()
                if vendor is None:
                    errors["vendor"] = [f"No vendor with slug {slug!r}."]
                else:
                    values["vendor"] = vendor
            elif column in ("skills", "languages"):
                values[column] = _split(raw)
            elif column == "status":
                status = _Text().clean(raw)
                if status and status not in Labeler.Status.values:
                    errors["status"] = [
                        f"Unknown status {status!r}; use one of {', '.join(Labeler.Status.values)}."
                    ]
                values["status"] = status
            else:
                values[column] = field.clean(row)
        # A blank kind follows from the vendor: a vendor's labeler, or internal staff.
        if not values.get("kind") and "vendor" in values:
            values["kind"] = Labeler.Kind.VENDOR if values["vendor"] else Labeler.Kind.INTERNAL
        if errors:
            raise ValidationError(errors)
        self._parsed[kwargs.get("row_number")] = values

    def save_m2m(self, instance, row, **kwargs):
        """Skills were set by the service in ``save_instance``."""

    def save_instance(self, instance, is_create, row, **kwargs):
        """Create or update the labeler through the services, then walk it to the row's status.

        The row is one savepoint, so a failure part-way leaves nothing of the row behind; a
        service's ValidationError or ApplicationError becomes a row validation error, which
        rolls back the whole import.
        """
        values = self._parsed.pop(kwargs.get("row_number"))
        if not self._is_using_transactions(kwargs) and self._is_dry_run(kwargs):
            return  # unreachable with use_transactions forced on; never write on a dry run
        self.before_save_instance(instance, row, **kwargs)
        actor = kwargs.get("user")
        file_name = kwargs.get("file_name")
        reason = f"Bulk import ({file_name})." if file_name else "Bulk import."
        with transaction.atomic():
            try:
                if is_create:
                    labeler = services.labeler_create(
                        actor=actor,
                        username=values.get("username", ""),
                        email=values.get("email", ""),
                        first_name=values.get("first_name", ""),
                        last_name=values.get("last_name", ""),
                        kind=values.get("kind") or Labeler.Kind.INTERNAL,
                        vendor=values.get("vendor"),
                        external_id=values.get("external_id", ""),
                        seniority=values.get("seniority") or Labeler.Seniority.LABELER,
                        skills=values.get("skills", ()),
                        languages=values.get("languages", []),
                        timezone_name=values.get("timezone") or "UTC",
                        reason=reason,
                    )
                else:
                    data = {
                        k: v
                        for k, v in values.items()
                        if k not in ("username", "status")
                        and not (k in _KEEP_WHEN_BLANK and v in ("", None))
                    }
                    labeler = services.labeler_update(actor=actor, labeler=instance, data=data)
            except ApplicationError as exc:
                raise ValidationError(exc.fields or {NON_FIELD_ERRORS: [exc.detail]}) from exc
            if values.get("status"):
                try:
                    labeler = services.labeler_move_to_status(
                        actor=actor, labeler=labeler, to_status=values["status"], reason=reason
                    )
                except ApplicationError as exc:
                    raise ValidationError({"status": [exc.detail]}) from exc
        if is_create:
            # Hand the created row to import-export (preview diff, result, admin log).
            instance.pk = labeler.pk
            instance.refresh_from_db()
            instance._state.adding = False
        self.after_save_instance(instance, row, **kwargs)

    def after_import(self, dataset, result, **kwargs):
        """Ids come from the database, never from the file, so there is no sequence to reset
        (ModelResource.after_import would reset it, and PostgreSQL's setval is not undone when
        the import rolls back)."""
