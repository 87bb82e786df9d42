"""Write side of the billing domain: module functions, one transaction each.

Import each service from its module (billing.services.reports.report_generate, ...): this
package imports none of them, so that billing.generation can use billing.services.analytics
while billing.services.reports calls billing.generation.
"""
