"""Signing in and out over HTTP, and which credential decides: real, bogus, expired and revoked ones."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from accounts.tokens import RevocableAccessToken, SpaRefreshToken
from billing.services.tokens import api_token_create, api_token_revoke
from tests.factories import UserFactory, staff_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
REPORTS = "/api/v2/reports/"
GRAPHQL = "/graphql/"


@pytest.fixture
def clerk():
    return staff_user(username="clerk")


def obtain(client: Client, username: str = "clerk", password: str = PASSWORD):
    return client.post(
        "/api/v1/auth/token/", json.dumps({"username": username, "password": password}), content_type="application/json"
    )


def refresh(client: Client, token: str):
    return client.post("/api/v1/auth/token/refresh/", json.dumps({"refresh": token}), content_type="application/json")


def bearer(value: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {value}"})


def expired_access(user) -> str:
    token = RevocableAccessToken.for_user(user)
    token.set_exp(from_time=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), lifetime=dt.timedelta(minutes=5))
    return str(token)


# --- obtain, refresh, logout -----------------------------------------------------------------


def test_login_gives_a_working_access_token_and_a_session(clerk):
    client = Client()
    pair = json.loads(obtain(client).content)

    assert bearer(pair["access"]).get(REPORTS).status_code == 200
    assert client.get(REPORTS).status_code == 200  # the session alone
    clerk.refresh_from_db()
    assert clerk.last_login is not None


def test_login_refuses_wrong_passwords_inactive_users_and_form_bodies(clerk):
    UserFactory(username="gone", is_active=False)

    assert obtain(Client(), password="wrong").status_code == 401
    assert obtain(Client(), username="gone").status_code == 401
    form = Client().post("/api/v1/auth/token/", {"username": "clerk", "password": PASSWORD})
    assert form.status_code == 415  # a cross-site form cannot sign a browser in
    missing = Client().post("/api/v1/auth/token/", "{}", content_type="application/json")
    assert missing.status_code == 400 and set(json.loads(missing.content)["error"]["details"]) == {
        "username",
        "password",
    }


def test_refresh_rotates_and_the_used_refresh_token_is_refused(clerk):
    first = json.loads(obtain(Client()).content)

    rotated = refresh(Client(), first["refresh"])

    assert rotated.status_code == 200
    second = json.loads(rotated.content)
    assert set(second) == {"access", "refresh"} and second["refresh"] != first["refresh"]
    assert bearer(second["access"]).get(REPORTS).status_code == 200
    reused = refresh(Client(), first["refresh"])
    assert reused.status_code == 401
    assert json.loads(reused.content)["detail"]
    assert refresh(Client(), second["refresh"]).status_code == 200


def test_a_used_refresh_token_is_renewed_only_for_the_session_of_its_user(clerk):
    """The legacy frontend refreshes several calls at once and never stores the rotated token."""
    browser = Client()
    first = json.loads(obtain(browser).content)
    assert refresh(browser, first["refresh"]).status_code == 200

    again = refresh(browser, first["refresh"])  # used, but this browser's session vouches for it

    assert again.status_code == 200
    assert bearer(json.loads(again.content)["access"]).get(REPORTS).status_code == 200
    assert refresh(Client(), first["refresh"]).status_code == 401  # no session
    other = Client()
    other.force_login(staff_user(username="other"))
    assert refresh(other, first["refresh"]).status_code == 401  # someone else's session
    browser.post("/api/v1/auth/logout/", "{}", content_type="application/json")
    assert refresh(browser, first["refresh"]).status_code == 401  # signed out


def forged(token: str) -> str:
    """The token with another signature: its first character changed, which carries six bits of
    the signature's first byte (the last characters may carry only padding bits)."""
    header, payload, signature = token.split(".")
    changed = f"{header}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    assert changed != token
    return changed


def test_a_forged_refresh_token_is_refused_even_with_a_session(clerk):
    browser = Client()
    token = json.loads(obtain(browser).content)["refresh"]
    assert refresh(browser, forged(token)).status_code == 401


@pytest.mark.parametrize("value", ["not-a-token", "a.b.c", ""])
def test_refresh_with_a_bogus_token_is_a_401_or_400(clerk, value):
    assert refresh(Client(), value).status_code == (400 if value == "" else 401)


def test_logout_ends_the_session_and_invalidates_the_refresh_and_access_tokens(clerk):
    client = Client()
    pair = json.loads(obtain(client).content)

    response = client.post(
        "/api/v1/auth/logout/",
        json.dumps({"refresh": pair["refresh"]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {pair['access']}"},
    )

    assert response.status_code == 200
    assert refresh(Client(), pair["refresh"]).status_code == 401
    assert bearer(pair["access"]).get(REPORTS).status_code == 401
    assert client.get(REPORTS).status_code == 401  # the session ended
    again = Client().post(
        "/api/v1/auth/logout/", json.dumps({"refresh": pair["refresh"]}), content_type="application/json"
    )
    assert again.status_code == 200


def test_logout_by_session_needs_the_csrf_token(clerk):
    client = Client(enforce_csrf_checks=True)
    obtain(client)

    refused = client.post("/api/v1/auth/logout/", "{}", content_type="application/json")

    assert refused.status_code == 403
    assert client.get(REPORTS).status_code == 200  # still signed in
    token = client.cookies["csrftoken"].value
    assert (
        client.post(
            "/api/v1/auth/logout/", "{}", content_type="application/json", headers={"X-CSRFToken": token}
        ).status_code
        == 200
    )
    assert client.get(REPORTS).status_code == 401


# --- which credential decides ------------------------------------------------------------------


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_expired_access_token_is_a_401_even_with_a_session(clerk):
    client = signed_in(clerk)

    response = client.get(REPORTS, headers={"Authorization": f"Bearer {expired_access(clerk)}"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_forged_or_malformed_jwt_is_a_401_even_with_a_session(clerk):
    client = signed_in(clerk)
    access = str(RevocableAccessToken.for_user(clerk))

    for value in (forged(access), "a.b.c"):
        assert client.get(REPORTS, headers={"Authorization": f"Bearer {value}"}).status_code == 401, value


def test_a_revoked_or_unknown_api_token_is_a_401_even_with_a_session(clerk):
    token, raw = api_token_create(user=clerk)
    api_token_revoke(token_id=token.pk)
    client = signed_in(clerk)

    assert client.get(REPORTS, headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert client.get(REPORTS, headers={"Authorization": "Bearer llb_unknown"}).status_code == 401


def test_a_blacklisted_refresh_tokens_access_is_still_valid_until_logout_revokes_it(clerk):
    pair = json.loads(obtain(Client()).content)
    SpaRefreshToken(pair["refresh"]).blacklist()

    assert bearer(pair["access"]).get(REPORTS).status_code == 200
    RevocableAccessToken(pair["access"]).blacklist()
    assert bearer(pair["access"]).get(REPORTS).status_code == 401


def test_jwts_end_when_the_user_is_deactivated_or_changes_password(clerk):
    access = json.loads(obtain(Client()).content)["access"]
    clerk.set_password("another-long-password")
    clerk.save()
    assert bearer(access).get(REPORTS).status_code == 401

    other = staff_user(username="other")
    access = json.loads(obtain(Client(), username="other").content)["access"]
    other.is_active = False
    other.save()
    assert bearer(access).get(REPORTS).status_code == 401


@pytest.mark.parametrize("stray", ["development_token", "null", "undefined", ""])
def test_a_value_in_no_credential_format_counts_as_absent(clerk, stray):
    headers = {"Authorization": f"Bearer {stray}"}

    assert signed_in(clerk).get(REPORTS, headers=headers).status_code == 200
    anonymous = Client().get(REPORTS, headers=headers)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_stray_value_does_not_lift_csrf(clerk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)

    response = client.post(
        "/api/v2/reports/generate/",
        "{}",
        content_type="application/json",
        headers={"Authorization": "Bearer development_token"},
    )

    assert response.status_code == 403
    assert json.loads(response.content)["error"]["code"] == "CSRF_FAILED"


def test_graphql_accepts_the_spa_access_token(clerk):
    access = json.loads(obtain(Client()).content)["access"]

    response = bearer(access).post(GRAPHQL, {"query": "{ reports { totalCount } }"}, content_type="application/json")

    assert json.loads(response.content) == {"data": {"reports": {"totalCount": 0}}}


def test_graphql_authentication_required_links_the_sign_in_page():
    response = Client().post(GRAPHQL, {"query": "{ reports { totalCount } }"}, content_type="application/json")

    [error] = json.loads(response.content)["errors"]
    assert error["extensions"]["code"] == "AUTHENTICATION_REQUIRED"
    assert error["extensions"]["loginUrl"] == "/accounts/login/?next=%2Fgraphql%2F"


# --- the browser sign-in page --------------------------------------------------------------------


def test_a_customer_user_signs_in_on_the_browser_page_and_out_by_post(customer_a, member_a):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/?next=/graphql/")
    assert page.status_code == 200 and b'name="password"' in page.content
    token = client.cookies["csrftoken"].value

    response = client.post(
        "/accounts/login/",
        {"username": "member-a", "password": PASSWORD, "next": "/graphql/", "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302 and response["Location"] == "/graphql/"
    assert client.get("/api/v1/customers/").status_code == 200
    assert b"Signed in as <strong>member-a</strong>" in client.get("/accounts/login/").content
    assert client.get("/accounts/logout/").status_code == 405  # a link cannot sign anybody out
    token = client.cookies["csrftoken"].value
    assert client.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert client.get("/api/v1/customers/").status_code == 401


# --- throttling of failed sign-ins ---------------------------------------------------------------


def test_failed_spa_logins_are_throttled_per_username_and_success_resets(clerk, settings):
    settings.LOGIN_FAILURE_LIMIT = "3/min"
    addresses = iter(f"10.0.0.{n}" for n in range(1, 10))  # from many addresses: the username counts

    def browser() -> Client:
        return Client(REMOTE_ADDR=next(addresses))

    for _ in range(2):
        assert obtain(browser(), password="wrong").status_code == 401
    assert obtain(browser()).status_code == 200  # a success clears the username's failures
    for _ in range(3):
        assert obtain(browser(), password="wrong").status_code == 401

    refused = obtain(browser())  # the right password, but locked

    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    payload = json.loads(refused.content)
    assert payload["error"]["code"] == "RATE_LIMITED" and payload["detail"]


def test_failed_logins_are_throttled_per_client_ip_across_usernames(clerk, settings):
    settings.LOGIN_FAILURE_LIMIT = "3/min"
    for name in ("a", "b", "c"):
        assert obtain(Client(), username=name, password="x").status_code == 401

    assert obtain(Client(REMOTE_ADDR="127.0.0.1")).status_code == 429
    assert obtain(Client(REMOTE_ADDR="10.0.0.9")).status_code == 200


def test_failed_admin_logins_are_throttled(settings):
    settings.LOGIN_FAILURE_LIMIT = "5/min"
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    statuses = [Client().post("/admin/login/", {"username": "root", "password": "wrong"}).status_code for _ in range(6)]

    assert statuses == [200] * 5 + [429]
    locked = Client().post("/admin/login/", {"username": admin.username, "password": PASSWORD})
    assert locked.status_code == 429 and b"Too many failed sign-in attempts" in locked.content


def test_failed_browser_page_logins_are_throttled(settings, member_a):
    settings.LOGIN_FAILURE_LIMIT = "2/min"
    for _ in range(2):
        assert Client().post("/accounts/login/", {"username": "member-a", "password": "no"}).status_code == 200

    assert Client().post("/accounts/login/", {"username": "member-a", "password": PASSWORD}).status_code == 429


def test_no_limit_when_the_setting_is_empty(clerk, settings):
    settings.LOGIN_FAILURE_LIMIT = ""
    for _ in range(12):
        assert obtain(Client(), password="wrong").status_code == 401
    assert obtain(Client()).status_code == 200
