from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in over HTTP: API tokens and JWTs on the Authorization header, the session, login pages."""

    name = "accounts"
    verbose_name = "Sign-in"
