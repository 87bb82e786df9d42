from django.apps import AppConfig


class BackendConfig(AppConfig):
    """The project package as an app, so its system checks are registered."""

    name = "backend"
    verbose_name = "LedgerLink Billing"

    def ready(self) -> None:
        from backend import hardening  # noqa: F401  (registers the deploy checks)
