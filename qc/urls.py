from qc.api import gold, gold_checks, guides, quizzes, rules, scores

urlpatterns = [
    *guides.urlpatterns,
    *gold.urlpatterns,
    *gold_checks.urlpatterns,
    *quizzes.urlpatterns,
    *rules.urlpatterns,
    *scores.urlpatterns,
]
