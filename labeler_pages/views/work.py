"""The labeler pages: work (routes listed in ``urlpatterns``)."""

urlpatterns: list = []
