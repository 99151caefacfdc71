"""Admin helpers shared by every app's admin.

- Records the services write: ``ReadOnlyAdmin`` and ``ReadOnlyInline`` (shown, never added,
  changed or deleted here; ``ReadOnlyMixin`` for the permission trio alone),
  ``StatusHistoryInline`` for a status history; ``NeverDeletedMixin`` for rows that are kept;
  ``LargeTableMixin`` for the tables of millions of rows.
- Columns of annotations: ``annotation_column`` (the admin lists only fields, callables and
  ModelAdmin attributes, not a queryset's annotations).
- Service-backed forms: a ModelAdmin whose save calls a service shows the service's
  ValidationError on the form (``ServiceFormAdminMixin``, which also saves through declared
  create and update services; ``ServiceModelForm``, ``ServiceErrorsFormMixin``, ``adopt``).
- Actions that ask first: ``ConfirmationActionsMixin.confirmation_page`` renders the one
  intermediate page (``admin/reason_confirmation.html``: what will happen to which objects, and
  the form's fields, usually a required reason); ``reason_action`` shows it until the form is
  valid, then calls a service for each selected object — one transaction each — and reports
  successes and failures, as ``ServiceActionsMixin.apply_each`` does for an action that asks
  nothing.
  ``reason_asking_action`` declares such an action in one place (``with_reason`` makes its
  ``apply`` of a service); ``delegating_action`` each of a family of actions that differ only
  in arguments.
- File imports: ``FileImportForm`` (a CSV or JSONL upload) and ``FileImportMixin.
  file_import_page``, the all-or-nothing import page (``admin/file_import.html``, extended per
  model with what the file holds) that lists the rows' errors or redirects on success;
  ``import_target`` finds the object and checks the permissions; ``object_view_urls`` routes
  an object's extra views (import, export).
- People by name: ``person_label`` ("Ana Silva (LB-7K2Q)"), ``person_column`` (a list column
  or read-only field linking to the labeler's page); ``NamedAutocompleteMixin`` gives a
  ModelAdmin's autocompletes the label the remote ModelAdmin's ``autocomplete_label`` makes,
  in the drop-down as in the selected option (``NamedAutocompleteJsonView``, routed by
  ``named_autocomplete_urls``); ``AutocompleteListFilter`` filters a long list by one related
  object picked by autocomplete, never a list of every row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html

from config.errors import ApplicationError
from config.uploads import ImportInvalid, format_from_name

CONFIRMATION_TEMPLATE = "admin/reason_confirmation.html"

# The lists are the admin's working pages: at 1400 px the app list Django keeps open on the
# left of every page would take a third of the width from their columns (the index and the
# breadcrumbs reach every list). Set here, where every app's admin module looks for its helpers.
admin.site.enable_nav_sidebar = False

# -- read-only records ----------------------------------------------------------------------------


class ReadOnlyMixin:
    """Never added, changed or deleted here, whatever the user's model permissions: a record the
    services write. For a ModelAdmin or an inline (``obj`` is the inline's parent).
    ``related``: what the rows' query joins (``select_related``), so no row costs a query."""

    related: tuple[str, ...] = ()

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.select_related(*self.related) if self.related else queryset

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NeverDeletedMixin:
    """ModelAdmin mixin: its rows are kept for the record (other records refer to them), so
    never deleted here; the ModelAdmin says why, and what replaces deleting, beside it."""

    def has_delete_permission(self, request, obj=None):
        return False


class LargeTableMixin:
    """ModelAdmin mixin for a table of millions of rows (tasks, assignments, reviews): no full
    count on every page, and a hundred rows a page."""

    show_full_result_count = False
    list_per_page = 100
    # No "Show counts": a count per filter choice is a full scan per choice on these tables.
    show_facets = admin.ShowFacets.NEVER


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """A record the services write: listed and shown, never added, changed or deleted here.
    Actions with their own permission (``has_<name>_permission``) may still call services."""


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    """Rows the services write, listed on their parent's page: read-only, no empty forms."""

    extra = 0
    can_delete = False


class StatusHistoryInline(ReadOnlyInline):
    """A status history written by the status services: who moved it from which status to which,
    when and why, newest first."""

    fields = ("created_at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    related = ("actor",)
    verbose_name = "status change"
    verbose_name_plural = "status history"


# -- columns --------------------------------------------------------------------------------------


def annotation_column(name: str, description: str, *, sortable: bool = True) -> Callable:
    """A list column (a ModelAdmin attribute) showing the annotation ``name`` of the page's
    queryset, under ``description``, sortable by it unless ``sortable`` is false. The
    ModelAdmin's ``get_queryset`` (or its selector) annotates it: no query per row."""

    @admin.display(description=description, ordering=name if sortable else None)
    def column(self, obj):
        return getattr(obj, name)

    return column


# -- service errors -------------------------------------------------------------------------------


def as_validation_error(exc: ValidationError | ApplicationError) -> ValidationError:
    if isinstance(exc, ApplicationError):
        return ValidationError(exc.fields or {NON_FIELD_ERRORS: [exc.detail]})
    return exc


def error_text(exc: ValidationError | ApplicationError) -> str:
    """A service's error as one line for an admin message."""
    if isinstance(exc, ApplicationError):
        return exc.detail
    error = as_validation_error(exc)
    if hasattr(error, "error_dict"):
        return "; ".join(
            " ".join(messages_) if field == NON_FIELD_ERRORS else f"{field}: {' '.join(messages_)}"
            for field, messages_ in error.message_dict.items()
        )
    return " ".join(error.messages)


# -- service-backed forms -------------------------------------------------------------------------


class _ServiceRejected(Exception):
    """A service refused a form's input; carries its ValidationError back to the view."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(error)
        self.error = error


def adopt(obj, saved) -> None:
    """Make the admin's unsaved ``obj`` the row a service created, so the admin's log entry,
    message and redirect point at it."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


class ServiceErrorsFormMixin:
    """A form that can show a service's ValidationError as its own errors (set on a second pass
    by ServiceFormAdminMixin)."""

    service_error: ValidationError | None = None

    def clean(self):
        cleaned = super().clean()
        error = self.service_error
        if error is not None:
            if hasattr(error, "error_dict"):
                for field, errors in error.error_dict.items():
                    if field in self.fields:
                        self.add_error(field, errors)
                    elif field == NON_FIELD_ERRORS:
                        self.add_error(None, errors)
                    else:
                        self.add_error(None, [f"{field}: {m}" for e in errors for m in e.messages])
            else:
                self.add_error(None, error)
        return cleaned


class ServiceModelForm(ServiceErrorsFormMixin, forms.ModelForm):
    """A ModelForm whose save is a service's job: the input is neither copied onto the instance
    nor model-validated here (the service validates everything and reports per field)."""

    def _post_clean(self):
        """See the class docstring."""


def with_defaults(cleaned: dict, defaults: dict) -> dict:
    """A form's cleaned data with each field left empty (None or "") that ``defaults`` names
    set to its default."""
    return {
        name: defaults[name] if name in defaults and value in (None, "") else value
        for name, value in cleaned.items()
    }


class ServiceFormAdminMixin:
    """ModelAdmin mixin for forms whose save calls a service.

    ``save_model`` calls the service through ``_call_service``. If the service raises
    ValidationError (or an ApplicationError), the exception leaves the admin's own
    ``transaction.atomic`` around the change form — so anything written in that request is
    rolled back — and the view is run once more with the error attached to the form, which
    therefore fails validation and is re-displayed with the service's messages.

    The services are declared: adding calls ``create_service(actor=…, **the form's fields)``,
    a field left empty taking its ``create_defaults`` value, and makes the admin's object the
    new row; changing calls ``update_service(actor=…, data=…, <update_target>=obj)`` with the
    changed fields that ``editable_fields`` names — or, without an update service, is the
    ModelForm's own save. A ModelAdmin with more to do overrides ``save_model``.
    """

    create_service: Callable | None = None  # a staticmethod
    create_defaults: dict = {}
    update_service: Callable | None = None  # a staticmethod
    update_target = "obj"
    # The fields the ModelAdmin's update service takes (``_update_changed``).
    editable_fields: Iterable[str] = ()

    def save_model(self, request, obj, form, change):
        if not change:
            c = with_defaults(form.cleaned_data, self.create_defaults)
            adopt(obj, self._call_service(self.create_service, actor=request.user, **c))
        elif self.update_service is None:
            super().save_model(request, obj, form, change)
        else:
            self._update_changed(request, form, self.update_service, **{self.update_target: obj})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _ServiceRejected as rejected:
            request._labelforce_service_error = rejected.error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        error = getattr(request, "_labelforce_service_error", None)
        if error is not None:
            form = type(form.__name__, (form,), {"service_error": error})
        return form

    def _call_service(self, service, **kwargs):
        try:
            return service(**kwargs)
        except (ValidationError, ApplicationError) as exc:
            raise _ServiceRejected(as_validation_error(exc)) from exc

    def _update_changed(self, request, form, service, **target) -> None:
        """Call the update ``service(actor=…, data=…, **target)`` with the form's changed
        fields that ``editable_fields`` names, if any changed."""
        c = form.cleaned_data
        data = {name: c[name] for name in form.changed_data if name in self.editable_fields}
        if data:
            self._call_service(service, actor=request.user, data=data, **target)


# -- actions that ask first -----------------------------------------------------------------------


class ReasonForm(forms.Form):
    """The required reason of an admin action; a subclass says where it is recorded."""

    reason_help = "Recorded with each selected object."

    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = self.reason_help


def delegating_action(
    method: str, *, description: str, permissions: Iterable[str] = ("change",), **arguments
) -> Callable:
    """An admin action that calls ``modeladmin.<method>(request, queryset, **arguments)``: each
    of a family of actions that differ only in their arguments (a labeler's lifecycle
    transitions, a gold item's status changes) is declared in one line."""

    @admin.action(description=description, permissions=list(permissions))
    def action(modeladmin, request, queryset):
        return getattr(modeladmin, method)(request, queryset, **arguments)

    return action


class ServiceActionsMixin:
    """ModelAdmin mixin for actions that call a service for each selected object."""

    def apply_each(
        self,
        request,
        objects: Iterable,
        apply: Callable[[object], object],
        *,
        failed: Callable[[object, str], str] = lambda obj, error: f"{obj}: {error}",
        success: Callable[[int], str] | None = None,
    ) -> int:
        """Call ``apply(obj)`` for each of ``objects`` — each service call its own transaction —
        and report: an error message ``failed(obj, error text)`` for each service error, and
        ``success(n)`` when ``n`` > 0 of them succeeded. Returns ``n``."""
        done = 0
        for obj in objects:
            try:
                apply(obj)
            except (ApplicationError, ValidationError) as exc:
                self.message_user(request, failed(obj, error_text(exc)), messages.ERROR)
            else:
                done += 1
        if done and success is not None:
            self.message_user(request, success(done), messages.SUCCESS)
        return done


class ConfirmationActionsMixin(ServiceActionsMixin):
    """ModelAdmin mixin for actions with an intermediate page. The page posts itself back with
    ``post=yes``, the selected ids and the form's fields, so the action runs again.

    What the actions of ``reason_asking_action`` say about the ModelAdmin's objects:
    ``reason_noun`` (singular), ``reason_related`` (joined when they are read),
    ``reason_line`` (an object's line on the page) and ``reason_subject`` (an object in an error
    message); ``reason_form`` is the form they ask for."""

    reason_form: type[forms.Form] = ReasonForm
    reason_noun = "object"
    reason_related: tuple[str, ...] = ()

    def reason_line(self, obj) -> str:
        return str(obj)

    def reason_subject(self, obj) -> str:
        return str(obj)

    def confirmation_page(
        self,
        request,
        *,
        action: str,
        title: str,
        intro: str,
        lines: list[str],
        object_pks: list[int],
        submit_label: str,
        form: forms.Form | None = None,
    ) -> TemplateResponse:
        """The intermediate page of ``action``: ``intro``, one ``line`` per object, ``form``'s
        fields if any, and a button labelled ``submit_label``."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "lines": lines,
            "object_pks": object_pks,
            "form": form,
            "action": action,
            "submit_label": submit_label,
            "opts": self.opts,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, CONFIRMATION_TEMPLATE, context)

    def reason_action(
        self,
        request,
        objects: Iterable,
        *,
        action: str,
        form_class: type[forms.Form],
        apply: Callable[[object, dict], object],
        verb: str,
        success: Callable[[int], str],
        title: str,
        intro: str,
        line: Callable[[object], str] = str,
        describe: Callable[[object], str] = str,
    ) -> TemplateResponse | None:
        """Ask for ``form_class``'s fields on the confirmation page until they are valid, then
        call ``apply(obj, cleaned_data)`` for each of ``objects`` and report: an error message
        "Could not <verb> <describe(obj)>: …" for each service error, and ``success(n)`` when
        ``n`` > 0 of them succeeded."""
        objects = list(objects)
        form = form_class(request.POST if "post" in request.POST else None)
        if not form.is_valid():
            return self.confirmation_page(
                request,
                action=action,
                title=title,
                intro=intro,
                lines=[line(obj) for obj in objects],
                object_pks=[obj.pk for obj in objects],
                submit_label=verb[:1].upper() + verb[1:],
                form=form,
            )
        self.apply_each(
            request,
            objects,
            lambda obj: apply(obj, form.cleaned_data),
            failed=lambda obj, error: f"Could not {verb} {describe(obj)}: {error}",
            success=success,
        )
        return None


def with_reason(service: Callable, target: str) -> Callable:
    """``service(actor=<the user>, <target>=<the object>, reason=<the form's reason>)`` as a
    reason-asking action's ``apply``."""
    return lambda request, obj, c: service(actor=request.user, reason=c["reason"], **{target: obj})


def reason_asking_action(
    name: str,
    *,
    description: str,
    apply: Callable[[object, object, dict], object],
    past: str,
    verb: str | None = None,
    permissions: Iterable[str] = ("change",),
    form_class: type[forms.Form] | None = None,
) -> Callable:
    """The admin action ``name`` of a ConfirmationActionsMixin ModelAdmin: ask for its
    ``reason_form`` (or ``form_class``) on the confirmation page — "You are about to <verb>
    <n> <nouns>:" and a line per object — then call ``apply(request, obj, cleaned_data)`` for
    each selected object in id order, one transaction each, and report "<past> <n> <noun>(s)."
    and each failure. ``verb`` is ``name`` unless given."""
    verb = verb or name

    @admin.action(description=description, permissions=list(permissions))
    def action(modeladmin, request, queryset):
        objects = list(queryset.select_related(*modeladmin.reason_related).order_by("pk"))
        n, noun = len(objects), modeladmin.reason_noun
        return modeladmin.reason_action(
            request,
            objects,
            action=name,
            form_class=form_class or modeladmin.reason_form,
            apply=lambda obj, cleaned: apply(request, obj, cleaned),
            verb=verb,
            success=lambda done: f"{past} {done} {noun}(s).",
            title=f"{verb[:1].upper()}{verb[1:]} {noun}s",
            intro=f"You are about to {verb} {n} {noun}{pluralize(n)}:",
            line=modeladmin.reason_line,
            describe=modeladmin.reason_subject,
        )

    return action


# -- file imports ---------------------------------------------------------------------------------


class FileImportForm(forms.Form):
    """A CSV or JSONL file to import; its format comes from the file name unless chosen. A
    subclass sets ``max_bytes``, ``too_large`` (the message for a larger file) and ``max_rows``
    (the import's own limit, stated on the page)."""

    max_bytes: int
    too_large: str
    max_rows: int

    file = forms.FileField(help_text="A .csv or .jsonl file.")
    format = forms.ChoiceField(
        choices=(("", "From the file name"), ("csv", "CSV"), ("jsonl", "JSONL")),
        required=False,
    )

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is None:
            return cleaned
        if upload.size > self.max_bytes:
            raise ValidationError(self.too_large)
        if not cleaned.get("format"):
            file_format = format_from_name(upload.name or "")
            if file_format is None:
                self.add_error("format", "Choose the format: the file name does not say.")
            else:
                cleaned["format"] = file_format
        return cleaned


def object_view_urls(model_admin, *names: str) -> list:
    """URLs ``<object id>/<name>/`` of ``model_admin``'s views ``<name>_view(request,
    object_id)``, named ``<app>_<model>_<name>`` (namespace ``admin``). Put them before the
    ModelAdmin's own URLs: its ``<path:object_id>/`` catches all."""
    opts = model_admin.opts
    return [
        path(
            f"<path:object_id>/{name}/",
            model_admin.admin_site.admin_view(getattr(model_admin, f"{name}_view")),
            name=f"{opts.app_label}_{opts.model_name}_{name}",
        )
        for name in names
    ]


class FileImportMixin:
    """ModelAdmin mixin for an all-or-nothing import into one object from an uploaded file.
    ``import_permissions``: the model permissions an import needs besides changing the object
    (those of the rows it writes)."""

    import_permissions: tuple[str, ...] = ()
    import_form: type[FileImportForm]
    import_template: str  # extends admin/file_import.html with what the file holds
    import_columns: Iterable[str] = ()  # the file's columns, stated on the page

    def import_target(self, request, object_id):
        """The object to import into, among those the user may see (else 404); PermissionDenied
        unless the user may change it and holds ``import_permissions``."""
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not (
            self.has_change_permission(request, obj)
            and all(request.user.has_perm(p) for p in self.import_permissions)
        ):
            raise PermissionDenied
        return obj

    def file_import_page(
        self, request, *, obj, run: Callable[[dict], str], title: str, context: dict | None = None
    ) -> HttpResponse:
        """Show ``import_form``; on a valid post call ``run(cleaned_data)``, the import. When it
        raises ImportInvalid (rows in error, nothing written) the rows' errors are listed, another
        service error goes on the form, and on success ``run``'s message is shown on ``obj``'s
        change page. The page is ``import_template`` with ``obj`` as ``object``, the columns and
        the limits; ``context`` adds to it."""
        form_class = self.import_form
        form = form_class(request.POST or None, request.FILES or None)
        row_errors, error_detail = [], ""
        if request.method == "POST" and form.is_valid():
            try:
                message = run(form.cleaned_data)
            except ImportInvalid as exc:
                row_errors, error_detail = exc.fields.get("rows", []), exc.detail
            except (ApplicationError, ValidationError) as exc:
                form.add_error(None, error_text(exc))
            else:
                self.message_user(request, message, messages.SUCCESS)
                opts = self.opts
                return HttpResponseRedirect(
                    reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
                )
        page = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "object": obj,
            "form": form,
            "row_errors": row_errors,
            "error_detail": error_detail,
            "columns": self.import_columns,
            "max_rows": form_class.max_rows,
            "max_mb": form_class.max_bytes // (1024 * 1024),
            **(context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.import_template, page)


# -- people by name -------------------------------------------------------------------------------

# Labeler.__str__ stays the public code alone: the API, the vendor-facing pages and every export
# show codes only. The operations admin shows the person beside it, through these helpers.


def person_label(labeler) -> str:
    """A labeler as ops know them: "Ana Silva (LB-7K2Q)" — the login's full name, else its
    username, then the public code. ``labeler.user`` must be loaded (select_related)."""
    user = labeler.user
    name = user.get_full_name() or user.username
    return f"{name} ({labeler.public_code})"


def _follow(obj, path: str):
    for part in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def person_column(path: str = "labeler", description: str = "labeler") -> Callable:
    """A list column (or read-only field) showing the labeler at ``path`` ("labeler",
    "line__labeler") by ``person_label``, linked to the labeler's admin page, sorted by the
    person's last name. The ModelAdmin joins ``<path>__user`` (``list_select_related``): no
    query per row."""

    @admin.display(description=description, ordering=f"{path}__user__last_name")
    def column(self, obj):
        labeler = _follow(obj, path)
        if labeler is None:
            return "—"
        url = reverse("admin:workforce_labeler_change", args=[labeler.pk])
        return format_html('<a href="{}">{}</a>', url, person_label(labeler))

    return column


class NamedAutocompleteJsonView(AutocompleteJsonView):
    """The admin's autocomplete answers, each labelled by the remote ModelAdmin's
    ``autocomplete_label(obj)`` when it has one (``str(obj)`` otherwise)."""

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        label = getattr(self.model_admin, "autocomplete_label", None)
        return {**result, "text": label(obj)} if label else result


def named_autocomplete_urls(model_admin) -> list:
    """The URL ``<app>_<model>_autocomplete`` of ``model_admin``: the site's autocomplete with
    the model's labels (``NamedAutocompleteJsonView``). The site's own view cannot be told, and
    replacing the site for one label would be a bigger change than this."""
    opts = model_admin.opts
    view = NamedAutocompleteJsonView.as_view(admin_site=model_admin.admin_site)
    return [
        path(
            "autocomplete/",
            model_admin.admin_site.admin_view(view),
            name=f"{opts.app_label}_{opts.model_name}_autocomplete",
        )
    ]


class NamedAutocompleteSelect(AutocompleteSelect):
    """An autocomplete asking the remote model's own autocomplete URL when it has one
    (``named_autocomplete_urls``), else the site's."""

    def get_url(self):
        opts = self.field.remote_field.model._meta
        try:
            return reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_autocomplete"
            )
        except NoReverseMatch:
            return super().get_url()


def _remote_admin(admin_site, db_field):
    return admin_site._registry.get(db_field.remote_field.model)


class NamedAutocompleteMixin:
    """ModelAdmin mixin: a foreign key in ``autocomplete_fields`` whose model's ModelAdmin has
    ``autocomplete_label`` shows that label in the selected option and in the answers."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        remote = _remote_admin(self.admin_site, db_field)
        label = getattr(remote, "autocomplete_label", None)
        named = label is not None and db_field.name in self.get_autocomplete_fields(request)
        if named:
            kwargs["widget"] = NamedAutocompleteSelect(db_field, self.admin_site)
            kwargs.setdefault("queryset", remote.get_queryset(request))
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if named and field is not None:
            field.label_from_instance = label
        return field


class AutocompleteListFilter(admin.FieldListFilter):
    """Filter a list by one related object chosen with the admin's autocomplete (the related
    ModelAdmin needs ``search_fields``): nothing is listed up front, so ten thousand labelers
    or batches cost no query and no page length. ``list_filter = (("labeler",
    AutocompleteListFilter),)``. The ModelAdmin adds ``autocomplete_filter_media`` to its
    ``media`` (``AutocompleteFilterMixin``)."""

    template = "admin/autocomplete_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.lookup_kwarg = f"{field_path}__{field.target_field.attname}__exact"
        value = params.get(self.lookup_kwarg)
        self.lookup_val = value[-1] if isinstance(value, list) else value
        super().__init__(field, request, params, model, model_admin, field_path)
        remote = _remote_admin(model_admin.admin_site, field)
        label = getattr(remote, "autocomplete_label", str)
        form_field = forms.ModelChoiceField(
            # The remote ModelAdmin's rows, joined as its own pages join them.
            queryset=remote.get_queryset(request),
            required=False,
            widget=NamedAutocompleteSelect(
                field, model_admin.admin_site, attrs={"style": "width: 100%"}
            ),
        )
        form_field.label_from_instance = label
        form = forms.Form(
            {self.lookup_kwarg: self.lookup_val} if self.lookup_val else None,
            auto_id="filter_%s",
        )
        form.fields[self.lookup_kwarg] = form_field
        self.bound_field = form[self.lookup_kwarg]

    def expected_parameters(self):
        return [self.lookup_kwarg]

    def has_output(self):
        return True

    def choices(self, changelist):
        params = changelist.get_filters_params()
        params.pop(self.lookup_kwarg, None)
        hidden = [
            (name, v)
            for name, values in params.items()
            for v in (values if isinstance(values, list) else [values])
        ]
        if changelist.query:
            hidden.append(("q", changelist.query))
        yield {
            "hidden": hidden,
            "selected": bool(self.lookup_val),
            "clear_url": changelist.get_query_string(remove=[self.lookup_kwarg]),
        }


class AutocompleteFilterMixin:
    """ModelAdmin mixin: the scripts of its ``AutocompleteListFilter``s (select2 and the
    admin's autocomplete), from Django's own static files."""

    @property
    def media(self):
        media = super().media
        for spec in self.list_filter:
            if isinstance(spec, tuple) and issubclass(spec[1], AutocompleteListFilter):
                field = self.model._meta.get_field(spec[0])
                return media + AutocompleteSelect(field, self.admin_site).media
        return media
