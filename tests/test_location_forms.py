"""The pages of issue 19's forms (items 1 and 2 of its gaps): a token bound to a location from the
tokens page, checked as POST /api/tokens checks it; a product's threshold at each place from the
product page, set as PUT /api/products/<id>/locations/<id> sets it, the alert check included."""
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from modules.auth.models import ApiToken
from modules.extensions import db
from modules.retail.models import ProductStock
from tests.support.shops import till


def place(shop, name, kind="store"):
    response = shop.post("/api/locations", json={"name": name, "kind": kind})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def default_of(shop):
    [found] = [loc for loc in shop.get("/api/locations").get_json()["items"] if loc["is_default"]]
    return found


def form(shop, path, data):
    """A page's form posted as a browser does (the CSRF token in the form)."""
    return shop.http.post(path, data={"csrf_token": shop.csrf, **data})


def html(response):
    return response.get_data(as_text=True)


def token_count():
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(ApiToken)).scalar_one()


def threshold_at(product_id, location_id):
    db.session.rollback()
    return db.session.execute(select(ProductStock.low_stock_threshold).where(
        ProductStock.product_id == product_id, ProductStock.location_id == location_id)).scalar_one()


def bell(client):
    return [n["message"] for n in client.get("/api/notifications?limit=100").get_json()["items"]]


def flashes(response):
    return [(level, unescape(text)) for level, text in
            re.findall(r'class="flash flash-(\w+)"[^>]*>([^<]*)<', html(response))]


@pytest.fixture
def two_stores(shop):
    """Downtown (the default) with 40 Milk and Uptown with 8."""
    downtown = default_of(shop)
    assert shop.patch(f"/api/locations/{downtown['id']}", json={"name": "Downtown"}).status_code == 200
    uptown = place(shop, "Uptown")
    milk = shop.add_product("Milk", stock=40, category="Dairy")
    response = shop.post(f"/api/products/{milk['id']}/stock",
                         json={"delta": 8, "reason": "delivery", "location_id": uptown["id"]})
    assert response.status_code == 200, response.get_json()
    return shop, downtown, uptown, milk


# --- 1. a token bound to a location, on the tokens page ----------------------------------------

def test_a_one_location_shop_has_no_location_choice_on_the_tokens_page(shop):
    body = html(shop.get("/settings/tokens"))
    assert 'name="location_id"' not in body and "<th>Location</th>" not in body


def test_a_token_bound_to_a_location_from_the_page_changes_stock_there_only(two_stores, app):
    shop, downtown, uptown, milk = two_stores
    page = html(shop.get("/settings/tokens"))
    assert '<option value="">Any location</option>' in page
    assert f'<option value="{uptown["id"]}" >Uptown</option>' in page
    response = form(shop, "/settings/tokens", {"name": "Uptown till", "scope": "stock", "location_id": uptown["id"]})
    assert response.status_code == 200
    secret = re.search(r'id="new-token" [^>]*value="(sb_[^"]+)"', html(response)).group(1)
    [listed] = shop.get("/api/tokens").get_json()["items"]
    assert listed["location_id"] == uptown["id"]
    row = re.search(r'<tr data-id="%d">.*?</tr>' % listed["id"], html(response), re.S).group(0)
    assert '<td class="place">Uptown</td>' in row
    # Its changes go to Uptown; Downtown is refused, as for a token made through the API.
    token = till(app, secret)
    assert token.post(f"/api/products/{milk['id']}/stock",
                      json={"delta": -1, "reason": "sale", "location_id": downtown["id"]}).status_code == 403
    done = token.post(f"/api/products/{milk['id']}/stock", json={"delta": -1, "reason": "sale"})
    assert done.status_code == 200
    at = {e["location"]["name"]: e["stock"] for e in shop.get(f"/api/products/{milk['id']}").get_json()["locations"]}
    assert at == {"Downtown": 40, "Uptown": 7}


def test_any_location_makes_an_unbound_token_and_the_list_says_so(two_stores):
    shop, downtown, uptown, milk = two_stores
    response = form(shop, "/settings/tokens", {"name": "Script", "scope": "read", "location_id": ""})
    assert response.status_code == 200
    [listed] = shop.get("/api/tokens").get_json()["items"]
    assert "location_id" not in listed
    assert '<td class="place">Any location</td>' in html(response)


def test_another_shops_or_an_inactive_location_is_a_form_error_and_nothing_is_made(two_stores, other_shop):
    shop, downtown, uptown, milk = two_stores
    room = place(shop, "Back room", "stockroom")
    assert shop.patch(f"/api/locations/{room['id']}", json={"active": False}).status_code == 200
    theirs = default_of(other_shop)
    for bad, said in ((theirs["id"], "No such location."), (room["id"], "This location is inactive."),
                      ("abc", "Must be a whole number."), ("999999999", "No such location.")):
        response = form(shop, "/settings/tokens", {"name": "Till", "scope": "stock", "location_id": bad})
        assert response.status_code == 400, bad
        assert f'<span class="field-error" data-field="location_id">{said}</span>' in html(response)
        assert 'id="new-token"' not in html(response)
        assert 'value="Till"' in html(response)  # the form keeps what was typed
    assert token_count() == 0
    # The JSON API answers the same questions the same way.
    for bad, status in ((theirs["id"], 404), (room["id"], 409)):
        assert shop.post("/api/tokens", json={"name": "Till", "scope": "stock", "location_id": bad}
                         ).status_code == status
    assert token_count() == 0
    # The inactive place is not offered.
    assert f'value="{room["id"]}"' not in html(shop.get("/settings/tokens"))


def test_a_manager_limited_to_uptown_binds_tokens_there_only(two_stores):
    shop, downtown, uptown, milk = two_stores
    manager = shop.add_user("uptown@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"]]}).status_code == 200
    page = html(manager.get("/settings/tokens"))
    assert f'value="{uptown["id"]}"' in page and f'value="{downtown["id"]}"' not in page
    refused = form(manager, "/settings/tokens", {"name": "Till", "scope": "stock", "location_id": downtown["id"]})
    assert refused.status_code == 400 and "No such location." in html(refused)
    assert token_count() == 0
    made = form(manager, "/settings/tokens", {"name": "Till", "scope": "stock", "location_id": uptown["id"]})
    assert made.status_code == 200 and token_count() == 1


def test_staff_cannot_make_tokens_from_the_page(two_stores):
    shop, downtown, uptown, milk = two_stores
    staff = shop.add_user("staff@example.com", "staff")
    assert form(staff, "/settings/tokens", {"name": "Till", "scope": "stock",
                                            "location_id": uptown["id"]}).status_code == 403
    assert token_count() == 0


# --- 2. thresholds per location on the product page ---------------------------------------------

def threshold_url(product, location):
    return f"/retail/products/{product['id']}/locations/{location['id']}/threshold"


def test_a_one_location_shop_has_no_threshold_per_place(shop):
    milk = shop.add_product("Milk", stock=3)
    assert "threshold-form" not in html(shop.get(f"/retail/products/{milk['id']}/edit"))


def test_the_product_page_sets_a_threshold_at_a_place_and_checks_at_once(two_stores):
    shop, downtown, uptown, milk = two_stores
    page = html(shop.get(f"/retail/products/{milk['id']}/edit"))
    assert f'action="{threshold_url(milk, uptown)}"' in page and f'action="{threshold_url(milk, downtown)}"' in page
    assert bell(shop) == []
    response = form(shop, threshold_url(milk, uptown), {"low_stock_threshold": "10"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/retail/products/{milk['id']}/edit")
    assert threshold_at(milk["id"], uptown["id"]) == 10
    # Uptown at 8 is low against its own 10: the change raised the alert, as the API's does.
    assert bell(shop) == ["Low Stock Alert: Milk - Only 8 remaining (Dairy) at Uptown"]
    shown = shop.http.get(f"/retail/products/{milk['id']}/edit")
    assert ("success", "Milk at Uptown now alerts at 10 or below (the location's threshold).") in flashes(shown)
    row = re.search(r'<tr data-location-id="%d".*?</tr>' % uptown["id"], html(shown), re.S).group(0)
    assert 'value="10"' in row and '10 <span class="muted">(location)</span>' in row
    audit = shop.get("/api/audit").get_json()["items"][0]
    assert audit["action"] == "product.location_threshold" and audit["changes"] == {"low_stock_threshold": [None, 10]}
    # Empty: the place inherits again (the shop's 5 here), and the alert's episode resolves.
    assert form(shop, threshold_url(milk, uptown), {"low_stock_threshold": ""}).status_code == 303
    assert threshold_at(milk["id"], uptown["id"]) is None
    row = re.search(r'<tr data-location-id="%d".*?</tr>' % uptown["id"],
                    html(shop.http.get(f"/retail/products/{milk['id']}/edit")), re.S).group(0)
    assert 'value=""' in row and '5 <span class="muted">(shop)</span>' in row
    assert [a["status"] for a in shop.get("/api/alerts?show_resolved=1").get_json()["items"]] == ["resolved"]


@pytest.mark.parametrize("bad, said", [("-1", "Must be at least 0."), ("abc", "Must be a whole number."),
                                       ("99999999999999999999", "Must be"), ("1.5", "Must be a whole number.")])
def test_a_bad_threshold_is_a_clear_error_and_changes_nothing(two_stores, bad, said):
    shop, downtown, uptown, milk = two_stores
    assert form(shop, threshold_url(milk, uptown), {"low_stock_threshold": "3"}).status_code == 303
    shop.http.get(f"/retail/products/{milk['id']}/edit")  # its message read
    response = form(shop, threshold_url(milk, uptown), {"low_stock_threshold": bad})
    assert response.status_code == 303
    [(level, text)] = flashes(shop.http.get(response.headers["Location"]))
    assert level == "error" and text.startswith("Threshold of Milk at Uptown not changed: " + said)
    assert threshold_at(milk["id"], uptown["id"]) == 3


def test_a_manager_limited_to_uptown_sets_thresholds_there_only(two_stores):
    shop, downtown, uptown, milk = two_stores
    manager = shop.add_user("uptown@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"]]}).status_code == 200
    page = html(manager.get(f"/retail/products/{milk['id']}/edit"))
    assert f'action="{threshold_url(milk, downtown)}"' not in page
    assert form(manager, threshold_url(milk, downtown), {"low_stock_threshold": "50"}).status_code == 404
    assert threshold_at(milk["id"], downtown["id"]) is None
    assert form(manager, threshold_url(milk, uptown), {"low_stock_threshold": "2"}).status_code == 303
    assert threshold_at(milk["id"], uptown["id"]) == 2


def test_staff_another_shop_and_no_csrf_change_no_threshold(two_stores, other_shop):
    shop, downtown, uptown, milk = two_stores
    staff = shop.add_user("staff@example.com", "staff")
    assert "threshold-form" not in html(staff.get(f"/retail/products/{milk['id']}/edit"))
    assert form(staff, threshold_url(milk, uptown), {"low_stock_threshold": "50"}).status_code == 303
    assert form(other_shop, threshold_url(milk, default_of(other_shop)), {"low_stock_threshold": "50"}
                ).status_code == 404
    assert form(shop, threshold_url(milk, default_of(other_shop)), {"low_stock_threshold": "50"}).status_code == 404
    assert shop.http.post(threshold_url(milk, uptown), data={"low_stock_threshold": "50"}).status_code == 400
    assert threshold_at(milk["id"], uptown["id"]) is None
