from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="auth-register"),
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", api.MeView.as_view(), name="auth-me"),
    path("auth/mfa/setup", api.MfaSetupView.as_view(), name="auth-mfa-setup"),
    path("auth/mfa/enable", api.MfaEnableView.as_view(), name="auth-mfa-enable"),
    path("auth/mfa/disable", api.MfaDisableView.as_view(), name="auth-mfa-disable"),
]
