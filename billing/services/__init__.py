"""Write side of the billing domain: module functions, one transaction each."""

from billing.services.reports import report_generate

__all__ = ["report_generate"]
