"""The admin's rule-group pages as a browser submits them, blank extra rule row included.

The test-client half reads the change form's HTML and posts every field a browser would (the
selected option of each select, the blank extra row, the management form); the browser half
clicks "Save" in Chromium.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from billing import models
from tests.browser import BROWSER_MARKS, chromium_page
from tests.factories import (
    CustomerServiceFactory,
    RuleFactory,
    RuleGroupFactory,
    UserFactory,
)


class _FormFields(HTMLParser):
    """The fields a browser submits for the form with id `form_id`: name -> list of values."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self.fields.append((name, attrs.get("value", "on")))
            elif kind not in {"submit", "button", "file", "image", "reset"}:
                self.fields.append((name, attrs.get("value") or ""))
        elif tag == "select" and name:
            self._select, self._options = name, []
        elif tag == "option" and self._select is not None:
            self._options.append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            chosen = [value for value, selected in self._options if selected] or [self._options[0][0]]
            self.fields.append((self._select, chosen[0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None


def browser_post_data(html: str, form_id: str) -> dict[str, str]:
    parser = _FormFields(form_id)
    parser.feed(html)
    assert parser.fields, f"no form #{form_id}"
    return dict(parser.fields)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def group(db):
    group = RuleGroupFactory(customer_service=CustomerServiceFactory(), name="Heavy US orders")
    RuleFactory(rule_group=group, field="ship_to_country", operator="eq", value="US")
    return group


def test_saving_a_rule_group_unchanged_keeps_its_rules(client, admin_user, group):
    client.force_login(admin_user)
    url = reverse("admin:billing_rulegroup_change", args=[group.pk])
    data = browser_post_data(client.get(url).content.decode(), "rulegroup_form")
    assert data["rules-TOTAL_FORMS"] == "2"  # the rule and the blank extra row

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()
    assert list(group.rules.values_list("field", "operator", "value")) == [("ship_to_country", "eq", "US")]


def test_adding_an_empty_rule_group_with_the_blank_row(client, admin_user, group):
    client.force_login(admin_user)
    url = reverse("admin:billing_rulegroup_add")
    data = browser_post_data(client.get(url).content.decode(), "rulegroup_form")
    data.update(customer_service=str(group.customer_service_id), name="Always")

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()
    added = models.RuleGroup.objects.get(name="Always")
    assert added.rules.count() == 0


def test_a_half_filled_extra_row_is_still_refused(client, admin_user, group):
    client.force_login(admin_user)
    url = reverse("admin:billing_rulegroup_change", args=[group.pk])
    data = browser_post_data(client.get(url).content.decode(), "rulegroup_form")
    data["rules-1-field"] = "weight_lb"

    response = client.post(url, data)

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert group.rules.count() == 1


class TestInChromium:
    pytestmark = BROWSER_MARKS

    def test_rule_groups_save_from_the_browser(self, transactional_db, live_server, browser_settings):
        from playwright.sync_api import expect

        admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
        line = CustomerServiceFactory()
        group = RuleGroupFactory(customer_service=line, name="Heavy US orders")
        RuleFactory(rule_group=group, field="ship_to_country", operator="eq", value="US")

        with chromium_page(live_server, user=admin_user) as page:
            # Saved unchanged: the blank extra row is skipped.
            page.goto(f"{live_server.url}{reverse('admin:billing_rulegroup_change', args=[group.pk])}")
            page.locator("input[name=_save]").click()
            expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")

            # A new group without rules.
            page.goto(f"{live_server.url}{reverse('admin:billing_rulegroup_add')}")
            page.fill("#id_customer_service", str(line.pk))
            page.fill("#id_name", "Always")
            page.locator("input[name=_save]").click()
            expect(page.locator(".messagelist .success")).to_contain_text("was added successfully")

            # A rule typed into the extra row is saved.
            page.goto(f"{live_server.url}{reverse('admin:billing_rulegroup_change', args=[group.pk])}")
            page.select_option("#id_rules-1-field", "weight_lb")
            page.select_option("#id_rules-1-operator", "ge")
            page.fill("#id_rules-1-value", "50")
            page.locator("input[name=_save]").click()
            expect(page.locator(".messagelist .success")).to_contain_text("was changed successfully")

        assert sorted(group.rules.values_list("field", "operator", "value")) == [
            ("ship_to_country", "eq", "US"),
            ("weight_lb", "ge", "50"),
        ]
        assert models.RuleGroup.objects.get(name="Always").rules.count() == 0

    def test_reports_list_and_page_at_1280_px(self, transactional_db, live_server, browser_settings):
        from billing.services.reports import report_generate
        from tests.factories import JANUARY, CustomerFactory, ServiceFactory, make_orders

        admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
        customer = CustomerFactory(company_name="Northwind Outfitters International Trading")
        for name in ("Order fee", "Pick and pack per unit"):
            CustomerServiceFactory(customer=customer, service=ServiceFactory(name=name))
        make_orders(customer, 3)
        report = report_generate(actor=None, customer_id=customer.pk, start_date=JANUARY[0], end_date=JANUARY[1])

        with chromium_page(live_server, user=admin_user, viewport={"width": 1280, "height": 800}) as page:
            page.goto(f"{live_server.url}{reverse('admin:billing_billingreport_changelist')}")
            status = page.locator("th.column-status")
            period = page.locator("th.column-period")
            assert status.is_visible() and period.is_visible()
            visible = page.locator("#changelist .results").bounding_box()  # it scrolls sideways when too wide
            for column in (status, period):
                box = column.bounding_box()
                assert box["x"] + box["width"] <= min(visible["x"] + visible["width"], 1280)
            cell = page.locator("td.field-period").first
            assert cell.inner_text() == "2025-01-01 – 2025-01-31"
            assert cell.evaluate("cell => getComputedStyle(cell).whiteSpace") == "nowrap"  # on one line
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no horizontal scrolling
            assert page.locator("td.field-status").first.inner_text() == "Draft"

            page.goto(f"{live_server.url}{reverse('admin:billing_billingreport_change', args=[report.pk])}")
            totals = page.locator("#service_totals-group")
            assert totals.locator("tr.has_original").count() == 2
            titles = totals.locator("td.original p")
            assert all(not titles.nth(index).is_visible() for index in range(titles.count()))
            for fmt in ("CSV", "JSON", "PDF"):
                assert page.locator(".object-tools a", has_text=f"Download {fmt}").is_visible()
            with page.expect_download() as download:
                page.locator(".object-tools a", has_text="Download PDF").click()
            assert download.value.suggested_filename == f"billing-report-{report.pk}.pdf"
