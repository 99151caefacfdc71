from django.urls import path

from workforce import api

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="me"),
    path("vendors/", api.VendorListApi.as_view(), name="vendor-list"),
    path("vendors/<id:pk>/", api.VendorDetailApi.as_view(), name="vendor-detail"),
    path("vendors/<id:pk>/history/", api.VendorHistoryApi.as_view(), name="vendor-history"),
    path("vendors/<id:pk>/suspend/", api.VendorSuspendApi.as_view(), name="vendor-suspend"),
    path("vendors/<id:pk>/offboard/", api.VendorOffboardApi.as_view(), name="vendor-offboard"),
    path(
        "vendors/<id:pk>/reactivate/", api.VendorReactivateApi.as_view(), name="vendor-reactivate"
    ),
    path("labelers/", api.LabelerListCreateApi.as_view(), name="labeler-list"),
    path("labelers/<id:pk>/", api.LabelerDetailApi.as_view(), name="labeler-detail"),
    path("labelers/<id:pk>/history/", api.LabelerHistoryApi.as_view(), name="labeler-history"),
    path("labelers/<id:pk>/activate/", api.LabelerActivateApi.as_view(), name="labeler-activate"),
    path("labelers/<id:pk>/suspend/", api.LabelerSuspendApi.as_view(), name="labeler-suspend"),
    path(
        "labelers/<id:pk>/reactivate/",
        api.LabelerReactivateApi.as_view(),
        name="labeler-reactivate",
    ),
    path("labelers/<id:pk>/offboard/", api.LabelerOffboardApi.as_view(), name="labeler-offboard"),
    path(
        "labelers/<id:pk>/invitation/",
        api.LabelerInvitationApi.as_view(),
        name="labeler-invitation",
    ),
]
