"""qc API v1, one module per area; each defines ``urlpatterns`` that qc/urls.py joins."""
