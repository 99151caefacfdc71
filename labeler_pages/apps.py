from django.apps import AppConfig


class LabelerPagesConfig(AppConfig):
    """The labelers' own web pages at /labeler/: server-rendered, over the same services and
    selectors as the API. It reads every app below it and nothing reads it."""

    name = "labeler_pages"
    verbose_name = "Labeler pages"
