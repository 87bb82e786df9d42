import pytest
from django.core.cache import cache
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.factories import CustomerFactory, MembershipFactory, UserFactory, staff_user

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


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache: every test starts with a full budget."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def browser_settings(settings, live_server):
    """A browser against the live server (tests/browser.py): plain HTTP keeps the session and CSRF cookies."""
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    return settings


# --- people and customers the API suites share ----------------------------------------------


@pytest.fixture
def customer_a():
    return CustomerFactory(company_name="Acme Outdoor")


@pytest.fixture
def customer_b():
    return CustomerFactory(company_name="Bravo Goods")


@pytest.fixture
def staff():
    """Billing staff: sees everything, may generate."""
    return staff_user(username="staff")


@pytest.fixture
def member_a(customer_a):
    """A user linked to customer A only, allowed to generate for it."""
    user = UserFactory(username="member-a", permissions=["generate_report"])
    MembershipFactory(user=user, customer=customer_a)
    return user
