"""Reads of the qc app, one module per area:

- ``guides``: guides and acknowledgements, scoped to the caller;
- ``gold``: gold sets and items, scoped to the caller;
- ``gold_health``: each gold item's health, gold checks as the caller may see them;
- ``quizzes``: quizzes and attempts, scoped to the caller;
- ``quality_facts``: labeler scores and the vendor comparison, read from the quality facts;
- ``rules``: quality rules and their firings, scoped to the caller.

Nothing is re-exported here; callers import from the module."""
