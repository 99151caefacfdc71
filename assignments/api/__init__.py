"""Assignments API v1, one module per area (``work``: projects, next task, submit, release;
``imports``: bulk task import, updates and export; ``review``: the review queue, flags); each
defines ``urlpatterns``, joined by assignments/urls.py."""
