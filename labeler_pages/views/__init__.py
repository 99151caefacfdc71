"""Views of the labeler pages, one module per area: ``account`` (sign-in, sign-out, passwords,
the invitation), ``home``, ``guides``, ``quizzes`` (quizzes and qualification tests), ``work``
(labeling), ``quality`` (the labeler's own scorecard and graded control answers)."""
