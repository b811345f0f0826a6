"""The pages of locations (issue 19, items 5, 7 and 9): the header's switch scoping the dashboard,
the products list and the product page; the locations page; the transfer form and its one-click
prefill; stock changes from a page at a place; the whole-shop chart summed over the places; a
one-location shop's pages as before; the demo shop's two stores and stock room."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from modules.extensions import db
from modules.retail import history
from modules.retail.models import Location, Product, ProductStock, StockMovement, Transfer
from modules.timeutil import utcnow


def place(shop, name, kind="store"):
    response = shop.post("/api/locations", json={"name": name, "kind": kind})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def default_of(shop):
    [found] = [loc for loc in shop.get("/api/locations").get_json()["items"] if loc["is_default"]]
    return found


def change(shop, product, location, delta, reason="sale"):
    response = shop.post(f"/api/products/{product['id']}/stock",
                         json={"reason": reason, "delta": delta, "location_id": location["id"]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def form(shop, path, data):
    """A page's form posted as a browser does (the CSRF token in the form)."""
    return shop.http.post(path, data={"csrf_token": shop.csrf, **data})


def html(response):
    return response.get_data(as_text=True)


def stock_at(product_id, location_id):
    db.session.rollback()
    return db.session.execute(select(ProductStock.stock).where(ProductStock.product_id == product_id,
                                                               ProductStock.location_id == location_id)).scalar_one()


def switch_to(shop, location_id, next_path="/retail/products"):
    response = form(shop, "/retail/location", {"location_id": "" if location_id is None else location_id,
                                               "next": next_path})
    assert response.status_code == 303
    return response


@pytest.fixture
def two_stores(shop):
    """Downtown (the default) with 40 Milk and Uptown with 2 (low: Downtown can spare 35)."""
    downtown = default_of(shop)
    assert shop.patch(f"/api/locations/{downtown['id']}", json={"name": "Downtown"}).status_code == 200
    uptown = place(shop, "Uptown")
    milk = shop.add_product("Milk", stock=40, category="Dairy")
    change(shop, milk, uptown, 8, "delivery")
    change(shop, milk, uptown, -6)
    return shop, downtown, uptown, milk


def test_a_one_location_shop_has_no_switch_and_no_place_columns(shop):
    milk = shop.add_product("Milk", stock=3)
    for path in ("/", "/retail/products", f"/retail/products/{milk['id']}/edit"):
        body = html(shop.get(path))
        assert 'id="place-select"' not in body and "By location" not in body and 'name="location_id"' not in body
        assert "/retail/transfers" not in body
    assert "<th>Where</th>" not in html(shop.get(f"/retail/products/{milk['id']}/edit"))


def test_the_switch_scopes_the_products_list_dashboard_and_product_page(two_stores):
    shop, downtown, uptown, milk = two_stores
    whole = html(shop.get("/retail/products"))
    assert 'id="place-select"' in whole and "Whole shop" in whole
    assert '<td class="num stock" data-label="Stock">42' in whole  # the sum, with each place under it
    assert "Downtown 40 · Uptown 2" in whole
    switch_to(shop, uptown["id"])
    at_uptown = html(shop.get("/retail/products"))
    assert '<td class="num stock" data-label="Stock">2<' in at_uptown and "at Uptown" in at_uptown
    assert 'data-tab-count="low">1<' in at_uptown
    assert 'data-count="low">1<' in html(shop.get("/"))
    page = html(shop.get(f"/retail/products/{milk['id']}/edit"))
    assert 'In stock at Uptown: <strong class="stock">2</strong>' in page
    switch_to(shop, None)
    assert 'data-count="low">0<' in html(shop.get("/"))
    assert 'In stock: <strong class="stock">42</strong>' in html(shop.get(f"/retail/products/{milk['id']}/edit"))


def test_a_place_that_does_not_carry_the_product_says_so_rather_than_out_of_stock(two_stores):
    shop, downtown, uptown, milk = two_stores
    bread = shop.add_product("Bread", stock=9)  # at Downtown only
    switch_to(shop, uptown["id"])
    page = html(shop.get(f"/retail/products/{bread['id']}/edit"))
    assert "Uptown does not carry Bread yet" in page and "badge-out" not in page.split("</h1>")[0]


def test_the_switch_refuses_another_shops_location(two_stores, other_shop):
    shop, downtown, uptown, milk = two_stores
    theirs = default_of(other_shop)
    switch_to(shop, uptown["id"])
    switch_to(shop, theirs["id"])  # refused: the choice stays Uptown
    assert "at Uptown" in html(shop.get("/retail/products"))


def test_the_switch_returns_to_the_page_without_an_overriding_location_id(two_stores):
    shop, downtown, uptown, milk = two_stores
    response = switch_to(shop, uptown["id"], f"/retail/products?stock=low&location_id={downtown['id']}")
    assert response.headers["Location"].endswith("/retail/products?stock=low")


def test_a_person_limited_to_one_place_sees_only_it_and_no_switch(two_stores):
    shop, downtown, uptown, milk = two_stores
    manager = shop.add_user("manager@example.com", role="manager")
    shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"]]})
    listed = html(manager.get("/retail/products"))
    assert 'id="place-select"' not in listed
    assert '<td class="num stock" data-label="Stock">2<' in listed and "Downtown" not in listed
    page = html(manager.get(f"/retail/products/{milk['id']}/edit"))
    assert 'In stock: <strong class="stock">2</strong>' in page and "Downtown" not in page
    assert manager.http.post(f"/retail/locations/{downtown['id']}", data={
        "csrf_token": manager.csrf, "action": "deactivate"}).status_code == 404
    locations_page = html(manager.get("/retail/locations"))
    assert "Uptown" in locations_page and "Downtown" not in locations_page
    # A stock change at Downtown from a page is a 404 and changes nothing.
    response = manager.http.post(f"/retail/products/{milk['id']}/stock", data={
        "csrf_token": manager.csrf, "reason": "sale", "amount": "1", "location_id": downtown["id"]})
    assert response.status_code == 404 and stock_at(milk["id"], downtown["id"]) == 40
    # Without a location, the change goes to the person's only place.
    response = manager.http.post(f"/retail/products/{milk['id']}/stock", data={
        "csrf_token": manager.csrf, "reason": "delivery", "amount": "5"})
    assert response.status_code == 303 and stock_at(milk["id"], uptown["id"]) == 7


def test_a_person_limited_to_two_of_three_places_switches_between_those_two(two_stores):
    shop, downtown, uptown, milk = two_stores
    annex = place(shop, "Annex")
    staff = shop.add_user("staff@example.com")
    shop.patch(f"/api/users/{staff.user['id']}", json={"location_ids": [uptown["id"], annex["id"]]})
    header = html(staff.get("/retail/products")).split("</header>")[0]
    assert "All my locations" in header and "Whole shop" not in header
    assert "Uptown" in header and "Annex" in header and "Downtown" not in header
    assert '<td class="num stock" data-label="Stock">2' in html(staff.get("/retail/products"))
    switch_to(staff, downtown["id"])  # not theirs: refused, the view stays theirs
    assert "Downtown" not in html(staff.get("/retail/products"))


def test_staff_cannot_open_the_locations_page(two_stores):
    shop, *_ = two_stores
    staff = shop.add_user("staff@example.com")
    assert staff.get("/retail/locations").status_code == 403
    assert form(staff, "/retail/locations", {"name": "Annex"}).status_code == 403


def test_the_locations_page_adds_renames_makes_default_and_refuses_what_the_api_refuses(two_stores, other_shop):
    shop, downtown, uptown, milk = two_stores
    assert form(shop, "/retail/locations", {"name": "Back room", "kind": "stockroom"}).status_code == 303
    back = db.session.execute(select(Location).where(Location.name == "Back room")).scalar_one()
    assert back.kind == "stockroom" and not back.is_default
    listed = html(shop.get("/retail/locations"))
    assert "Back room" in listed and "Stock room" in listed
    # Bad input: a clear error, nothing changed.
    refused = form(shop, "/retail/locations", {"name": "uptown"})
    assert refused.status_code == 409 and "already has a location of that name" in html(refused)
    refused = form(shop, f"/retail/locations/{back.id}", {"action": "save", "name": "", "kind": "store"})
    assert refused.status_code == 400 and "This field is required." in html(refused)
    refused = form(shop, f"/retail/locations/{back.id}", {"action": "save", "name": "Shed", "kind": "garage"})
    assert refused.status_code == 400
    db.session.rollback()
    assert db.session.get(Location, back.id).name == "Back room"
    # Holding stock, or the default: 409 with the API's words.
    refused = form(shop, f"/retail/locations/{uptown['id']}", {"action": "deactivate"})
    assert refused.status_code == 409 and "still holds stock" in html(refused)
    refused = form(shop, f"/retail/locations/{downtown['id']}", {"action": "deactivate"})
    assert refused.status_code == 409 and "default location cannot be deactivated" in html(refused)
    assert form(shop, f"/retail/locations/{back.id}", {"action": "save", "name": "Shed", "kind": "warehouse"}
                ).status_code == 303
    assert form(shop, f"/retail/locations/{uptown['id']}", {"action": "default"}).status_code == 303
    assert form(shop, f"/retail/locations/{back.id}", {"action": "deactivate"}).status_code == 303
    db.session.rollback()
    assert db.session.get(Location, uptown["id"]).is_default and not db.session.get(Location, downtown["id"]).is_default
    assert (db.session.get(Location, back.id).name, db.session.get(Location, back.id).active) == ("Shed", False)
    theirs = default_of(other_shop)
    assert form(shop, f"/retail/locations/{theirs['id']}", {"action": "save", "name": "Mine"}).status_code == 404


def test_a_transfer_from_the_form_moves_stock_once_and_is_listed(two_stores):
    shop, downtown, uptown, milk = two_stores
    response = form(shop, "/retail/transfers", {"product_id": milk["id"], "from_location_id": downtown["id"],
                                                "to_location_id": uptown["id"], "quantity": "4", "note": "Van"})
    assert response.status_code == 303
    assert (stock_at(milk["id"], downtown["id"]), stock_at(milk["id"], uptown["id"])) == (36, 6)
    listed = html(shop.get("/retail/transfers"))
    assert "Moved 4 Milk from Downtown to Uptown." in listed
    assert '<td class="num quantity">4</td>' in listed and "Van" in listed


@pytest.mark.parametrize("data, status, words", [
    ({"quantity": "41"}, 409, "holds only 40"),
    ({"quantity": "0"}, 400, "at least 1"),
    ({"quantity": "two"}, 400, ""),
    ({"to": "same"}, 400, "Same as the source."),
    ({"product_id": ""}, 400, "Choose a product."),
])
def test_a_refused_transfer_says_why_and_moves_nothing(two_stores, data, status, words):
    shop, downtown, uptown, milk = two_stores
    body = {"product_id": milk["id"], "from_location_id": downtown["id"], "to_location_id": uptown["id"],
            "quantity": "4"}
    data = dict(data)  # the parameters are shared by both databases' runs
    if data.pop("to", None):
        body["to_location_id"] = downtown["id"]
    body.update(data)
    response = form(shop, "/retail/transfers", body)
    assert response.status_code == status and words in html(response)
    assert (stock_at(milk["id"], downtown["id"]), stock_at(milk["id"], uptown["id"])) == (40, 2)
    assert db.session.execute(select(Transfer)).first() is None


def test_another_shops_product_or_location_in_a_transfer_is_a_404(two_stores, other_shop):
    shop, downtown, uptown, milk = two_stores
    theirs = other_shop.add_product("Their milk", stock=10)
    body = {"product_id": theirs["id"], "from_location_id": downtown["id"], "to_location_id": uptown["id"],
            "quantity": "1"}
    assert form(shop, "/retail/transfers", body).status_code == 404
    body.update(product_id=milk["id"], from_location_id=default_of(other_shop)["id"])
    assert form(shop, "/retail/transfers", body).status_code == 404
    assert stock_at(milk["id"], uptown["id"]) == 2


def test_the_bell_and_the_product_page_offer_the_transfer_with_the_quantity_filled_in(two_stores):
    shop, downtown, uptown, milk = two_stores
    [alert] = [n for n in shop.get("/api/notifications").get_json()["items"] if n["kind"] == "low"]
    assert alert["suggestion"] == {"from_location": {"id": downtown["id"], "name": "Downtown"}, "spare": 35}
    # Uptown holds 2 against 5: 4 bring it back above its threshold.
    assert alert["transfer"] == {"product_id": milk["id"], "from_location_id": downtown["id"],
                                 "to_location_id": uptown["id"], "quantity": 4}
    page = html(shop.get(f"/retail/products/{milk['id']}/edit"))
    link = (f"/retail/transfers?product_id={milk['id']}&amp;from_location_id={downtown['id']}"
            f"&amp;to_location_id={uptown['id']}&amp;quantity=4")
    assert link in page and "Transfer 4 from Downtown" in page
    prefilled = html(shop.get(link.replace("&amp;", "&")))
    assert 'name="quantity" value="4"' in prefilled
    assert f'<input type="hidden" name="product_id" value="{milk["id"]}">' in prefilled
    assert f'<option value="{uptown["id"]}" selected>Uptown</option>' in prefilled


def test_the_notifications_page_offers_the_transfer_too(two_stores):
    shop, downtown, uptown, milk = two_stores
    page = html(shop.get("/notifications"))
    assert "Downtown can spare 35" in page and "Transfer 4 from Downtown" in page
    assert "quantity=4" in page and f"to_location_id={uptown['id']}" in page


def test_the_transfer_quantity_is_at_most_the_spare(shop):
    uptown = place(shop, "Uptown")
    milk = shop.add_product("Milk", stock=7)  # Downtown: 2 spare above 5
    change(shop, milk, uptown, 1, "delivery")  # Uptown: 1 of 5, 5 would bring it above
    [alert] = [n for n in shop.get("/api/notifications").get_json()["items"] if n["location"]["id"] == uptown["id"]]
    assert alert["transfer"]["quantity"] == 2


def test_a_person_who_cannot_see_the_source_gets_no_one_click_transfer(shop):
    downtown = default_of(shop)
    uptown = place(shop, "Uptown")
    manager = shop.add_user("manager@example.com", role="manager")
    shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"]]})
    milk = shop.add_product("Milk", stock=40)
    change(shop, milk, uptown, 2, "delivery")  # low at Uptown: Downtown can spare 35
    [heard] = manager.get("/api/notifications").get_json()["items"]
    assert heard["suggestion"]["from_location"]["id"] == downtown["id"] and heard["transfer"] is None
    [owners] = shop.get("/api/notifications").get_json()["items"]
    assert owners["transfer"]["quantity"] == 4


def test_the_adjust_form_changes_stock_at_the_chosen_place_or_the_switchs(two_stores, other_shop):
    shop, downtown, uptown, milk = two_stores
    page = html(shop.get(f"/retail/products/{milk['id']}/edit"))
    assert f'<option value="{downtown["id"]}" data-stock="40" selected>Downtown (40)</option>' in page
    form(shop, f"/retail/products/{milk['id']}/stock", {"reason": "delivery", "amount": "3",
                                                         "location_id": uptown["id"]})
    assert (stock_at(milk["id"], downtown["id"]), stock_at(milk["id"], uptown["id"])) == (40, 5)
    switch_to(shop, uptown["id"])
    form(shop, f"/retail/products/{milk['id']}/stock", {"reason": "sale", "amount": "1"})
    assert stock_at(milk["id"], uptown["id"]) == 4
    theirs = default_of(other_shop)
    response = form(shop, f"/retail/products/{milk['id']}/stock", {"reason": "sale", "amount": "1",
                                                                    "location_id": theirs["id"]})
    assert response.status_code == 404 and stock_at(milk["id"], uptown["id"]) == 4


def test_the_product_page_shows_each_place_with_its_threshold_and_where_each_change_was(two_stores):
    shop, downtown, uptown, milk = two_stores
    response = shop.http.put(f"/api/products/{milk['id']}/locations/{uptown['id']}", json={"low_stock_threshold": 1},
                             headers={"X-CSRFToken": shop.csrf})
    assert response.status_code == 200
    page = html(shop.get(f"/retail/products/{milk['id']}/edit"))
    assert "By location" in page and "<th>Where</th>" in page
    uptown_row = page.split(f'<tr data-location-id="{uptown["id"]}"')[1].split("</tr>")[0]
    assert '<td class="num stock">2</td>' in uptown_row and "1 <span class=\"muted\">(location)</span>" in uptown_row
    assert "badge-ok" in uptown_row


def test_the_whole_shop_chart_sums_the_places(app, two_stores):
    shop, downtown, uptown, milk = two_stores
    product = db.session.get(Product, milk["id"])
    since = utcnow() - timedelta(days=1)
    start, series, _ = history.stock_series(product, since)
    assert (start, [stock for _, stock in series]) == (0, [40, 48, 42])
    start, series, _ = history.stock_series(product, since, [uptown["id"]], 2)
    assert [stock for _, stock in series] == [8, 2]
    # Movements' stock_after is each place's: a chart of stock_after would jump 40 -> 8 -> 2.
    assert [m.stock_after for m in db.session.execute(select(StockMovement).order_by(StockMovement.id)).scalars()
            ] == [40, 8, 2]


def test_the_dashboard_lists_each_places_counts_in_the_whole_view(two_stores):
    shop, downtown, uptown, milk = two_stores
    body = html(shop.get("/"))
    uptown_row = body.split(f'<tr data-location-id="{uptown["id"]}">')[1].split("</tr>")[0]
    assert ">1</a></td>" in uptown_row.split('class="num low"')[1]
    switch_to(shop, downtown["id"], "/")
    assert "By location" not in html(shop.get("/"))


def test_the_demo_shop_has_two_stores_a_stock_room_and_a_transfer_to_suggest(app):
    from modules.auth.models import User
    from modules.notifications import service as bell
    from modules.seed import seed_demo

    seed_demo(password="demo-password-123")
    db.session.rollback()
    places = db.session.execute(select(Location.name, Location.kind, Location.is_default).order_by(Location.id)).all()
    assert places == [("Downtown", "store", True), ("Uptown", "store", False), ("Stock room", "stockroom", False)]
    user = db.session.execute(select(User)).scalar_one()
    items = bell.list_notifications(user, limit=100)
    offers = {n.message: n.suggestion for n in items if n.suggestion}
    downtown = db.session.execute(select(Location.id).where(Location.name == "Downtown")).scalar_one()
    assert offers["Low Stock Alert: Orange Juice 1L - Only 2 remaining (Beverages) at Uptown"] == {
        "from_location": {"id": downtown, "name": "Downtown"}, "spare": 13}
