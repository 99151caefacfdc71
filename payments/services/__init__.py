"""Writes of payments, one transaction each (the calculation: one per batch).

* ``rates`` — pay rates, a project's pay policy and bonus tiers, vendor contracts, exchange rates.
* ``periods`` — pay periods and their workflow (open → calculated → approved → closed); approving
  issues the vendors' invoices.
* ``deductions`` — amounts ops take off a labeler's pay in an open or calculated period, with
  the reason.
* ``calculate`` — the calculation of a period's ledger: set-based SQL, idempotent, batch by batch.
"""
