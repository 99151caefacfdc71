"""Reads of the qc app, one module per area: ``guides``, ``gold``, ``quizzes``."""
