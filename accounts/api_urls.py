"""/api/v1/auth/: the legacy frontend's sign-in endpoints."""

from django.urls import path

from accounts import views

app_name = "accounts_api"

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", views.LogoutView.as_view(), name="logout"),
]
