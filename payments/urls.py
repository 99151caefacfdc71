from payments import api

urlpatterns = api.urlpatterns
