import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("default")


@pytest.fixture(autouse=True)
def _billing_time_zone_utc(settings):
    settings.BILLING_TIME_ZONE = "UTC"
