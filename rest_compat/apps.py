from django.apps import AppConfig


class RestCompatConfig(AppConfig):
    name = "rest_compat"
    verbose_name = "REST facade (v2)"
