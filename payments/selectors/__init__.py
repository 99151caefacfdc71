"""Reads of payments, scoped to the caller.

* ``statements`` — a labeler's statement for a period, their earnings and pending work; the
  statements of a vendor's labelers (by public code).
* ``invoices`` — vendor invoices and their lines; pay periods as each role sees them.
* ``costs`` — cost reports (cost per accepted label, split by what it paid for) and vendor SLA
  cards.
"""
