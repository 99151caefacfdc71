"""Writes of the qc app, one module per area: ``guides`` (guides, versions,
acknowledgements), ``gold`` (gold sets, gold items, import/export), ``quizzes`` (quizzes,
attempts, grading, the qualification grant)."""
