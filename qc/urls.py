from qc.api import gold, guides, quizzes

urlpatterns = [*guides.urlpatterns, *gold.urlpatterns, *quizzes.urlpatterns]
