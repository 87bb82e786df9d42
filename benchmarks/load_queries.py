"""The GraphQL document of the load test, shared by load_test.py (profiling) and locustfile.py."""

import json

# The REST list's fields, as the dashboards ask for them.
REPORTS_QUERY = json.dumps(
    {
        "query": (
            "query Reports($first: Int) { reports(first: $first) { totalCount edges { node { "
            "id customer { id companyName } period { startDate endDate } totals { totalAmount currency } "
            "generatedAt outputFormat createdAt createdBy status } } } }"
        ),
        "variables": {"first": 20},
    }
)
