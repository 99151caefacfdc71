"""Writes of the qc app, one module per area:

- ``guides``: guides, versions, acknowledgements;
- ``gold``: gold sets, gold items, their import and export;
- ``gold_health``: contests of gold checks, quarantine, reinstatement and correction of items;
- ``quizzes``: quizzes, attempts, grading, the qualification grant;
- ``control``: a labeler's adaptive control rate;
- ``exposures``: which gold items a labeler has seen outside control tasks;
- ``quality_facts``: the quality facts (gold checks, label outcomes) scores are read from;
- ``estimates``: the Dawid-Skene fit of a project and its per-labeler estimates;
- ``rules``: quality rules, their evaluation, firings and reversals.

Nothing is re-exported here; callers import from the module."""
