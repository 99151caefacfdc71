"""Admin helpers shared by every app's admin.

- Service-backed forms: a ModelAdmin whose save calls a service shows the service's
  ValidationError on the form (``ServiceFormAdminMixin``, ``ServiceModelForm``,
  ``ServiceErrorsFormMixin``, ``adopt``).
- Actions that ask first: ``ConfirmationActionsMixin.confirmation_page`` renders the one
  intermediate page (``admin/reason_confirmation.html``: what will happen to which objects, and
  the form's fields, usually a required reason); ``reason_action`` shows it until the form is
  valid, then calls a service for each selected object — one transaction each — and reports
  successes and failures.
- File imports: ``FileImportForm`` (a CSV or JSONL upload) and ``FileImportMixin.
  file_import_page``, the all-or-nothing import page (``admin/file_import.html``, extended per
  model with what the file holds) that lists the rows' errors or redirects on success.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from config.errors import ApplicationError, InvalidInput

CONFIRMATION_TEMPLATE = "admin/reason_confirmation.html"

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


class ServiceFormAdminMixin:
    """ModelAdmin mixin for forms whose save calls a service.

    ``save_model`` calls the service through ``_call_service``. If the service raises
    ValidationError (or an ApplicationError), the exception leaves the admin's own
    ``transaction.atomic`` around the change form — so anything written in that request is
    rolled back — and the view is run once more with the error attached to the form, which
    therefore fails validation and is re-displayed with the service's messages.
    """

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


# -- actions that ask first -----------------------------------------------------------------------


class ReasonForm(forms.Form):
    """The required reason of an admin action; a subclass says where it is recorded."""

    reason_help = "Recorded with each selected object."

    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = self.reason_help


class ConfirmationActionsMixin:
    """ModelAdmin mixin for actions with an intermediate page. The page posts itself back with
    ``post=yes``, the selected ids and the form's fields, so the action runs again."""

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
        done = 0
        for obj in objects:
            try:
                apply(obj, form.cleaned_data)
            except (ApplicationError, ValidationError) as exc:
                self.message_user(
                    request, f"Could not {verb} {describe(obj)}: {error_text(exc)}", messages.ERROR
                )
            else:
                done += 1
        if done:
            self.message_user(request, success(done), messages.SUCCESS)
        return None


# -- file imports ---------------------------------------------------------------------------------


class FileImportForm(forms.Form):
    """A CSV or JSONL file to import; its format comes from the file name unless chosen. A
    subclass sets ``max_bytes`` and ``too_large`` (the message for a larger file)."""

    max_bytes: int
    too_large: str

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
            name = (upload.name or "").lower()
            if name.endswith(".csv"):
                cleaned["format"] = "csv"
            elif name.endswith((".jsonl", ".ndjson")):
                cleaned["format"] = "jsonl"
            else:
                self.add_error("format", "Choose the format: the file name does not say.")
        return cleaned


class FileImportMixin:
    """ModelAdmin mixin for an all-or-nothing import into one object from an uploaded file."""

    def file_import_page(
        self,
        request,
        *,
        obj,
        form_class: type[FileImportForm],
        run: Callable[[dict], str],
        invalid: type[InvalidInput],
        template: str,
        title: str,
        context: dict,
    ) -> HttpResponse:
        """Show ``form_class``; on a valid post call ``run(cleaned_data)``, the import. When it
        raises ``invalid`` (rows in error, nothing written) the rows' errors are listed, another
        service error goes on the form, and on success ``run``'s message is shown on ``obj``'s
        change page. ``template`` extends ``admin/file_import.html``; ``context`` adds to it."""
        form = form_class(request.POST or None, request.FILES or None)
        row_errors, error_detail = [], ""
        if request.method == "POST" and form.is_valid():
            try:
                message = run(form.cleaned_data)
            except invalid as exc:
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
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, page)
