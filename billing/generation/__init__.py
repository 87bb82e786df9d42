"""Report generation, a file per step (docs/architecture.md, "The generation pipeline"):

- billing/selectors/rate_cards.py: the rate card, read in six queries (a read, so a selector);
- orders.py: the billable orders as named records, in the canonical pricing order;
- pricing.py: the one pricing loop: charges, order totals and report totals;
- copy_writer.py / bulk_writer.py: the rows written with COPY on PostgreSQL, bulk_create elsewhere;
- claims.py: a report's scope and its claim of the (order, rate-card line) pairs it bills;
- generate.py: the use case: lock, supersede, write, totals, claim, audit, in one transaction.

The public entry point stays billing.services.reports.report_generate, which checks the actor
and the arguments and calls generate_report.
"""

from .generate import generate_report

__all__ = ["generate_report"]
