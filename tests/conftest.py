import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

hypothesis_settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("default")


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Tests run as production would (DEBUG off), in UTC, without a collected static manifest."""
    settings.BILLING_TIME_ZONE = "UTC"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
