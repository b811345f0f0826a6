"""The products page: sortable columns, counts by status as tabs, out-of-stock rows that stand out,
the list's query kept after an adjust, and adjust where the reason sets the direction."""
import re

import pytest


def _token(http, path="/retail/products"):
    return re.search(r'name="csrf_token" value="([^"]+)"', http.get(path).get_data(as_text=True)).group(1)


def listing(shop, query=""):
    response = shop.get(f"/retail/products{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def names(html):
    return re.findall(r'<td class="name" data-label="Name"><a href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def stocked(shop):
    for name, stock in (("Bread", 0), ("Apples", 40), ("Milk", 3), ("Cheese", 12)):
        shop.add_product(name, stock=stock)
    return shop


def test_sort_by_name_stock_and_status_both_ways(stocked):
    assert names(listing(stocked)) == ["Apples", "Bread", "Cheese", "Milk"]
    assert names(listing(stocked, "?sort=name&dir=desc")) == ["Milk", "Cheese", "Bread", "Apples"]
    assert names(listing(stocked, "?sort=stock")) == ["Bread", "Milk", "Cheese", "Apples"]
    assert names(listing(stocked, "?sort=stock&dir=desc")) == ["Apples", "Cheese", "Milk", "Bread"]
    assert names(listing(stocked, "?sort=status")) == ["Bread", "Milk", "Apples", "Cheese"]


def test_sort_links_keep_the_filter_and_flip_the_direction(stocked):
    html = listing(stocked, "?stock=low&q=e&sort=stock")
    assert 'href="/retail/products?stock=low&amp;q=e&amp;sort=stock&amp;dir=desc"' in html
    assert 'aria-sort="ascending"' in html


@pytest.mark.parametrize("query", ["?sort=price", "?dir=up", "?stock=gone"])
def test_bad_sort_or_filter_goes_back_to_the_plain_list(stocked, query):
    response = stocked.get(f"/retail/products{query}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/retail/products")


def test_tabs_count_each_status(stocked):
    product = stocked.add_product("Quiet", stock=50)
    stocked.post(f"/api/products/{product['id']}/snooze", json={"forever": True})
    tabs = dict(re.findall(r'data-tab-count="(\w+)">(\d+)<', listing(stocked)))
    assert tabs == {"all": "5", "out": "1", "low": "2", "snoozed": "1"}  # "soon" only with the forecast on
    assert names(listing(stocked, "?stock=snoozed")) == ["Quiet"]


def test_running_out_tab_with_the_forecast_on(shop):
    shop.post("/api/notifications/settings", json={"forecast_days": 5})
    beans = shop.add_product("Beans", stock=300)
    shop.post(f"/api/products/{beans['id']}/stock", json={"delta": -280, "reason": "sale"})
    shop.add_product("Salt", stock=30)
    html = listing(shop)
    assert dict(re.findall(r'data-tab-count="(\w+)">(\d+)<', html))["soon"] == "1"
    assert names(listing(shop, "?stock=soon")) == ["Beans"]


def test_out_of_stock_rows_have_a_class_and_text_not_only_colour(stocked):
    html = listing(stocked)
    row = re.search(r'<tr data-product-id="\d+" class="status-out">.*?</tr>', html, re.S).group(0)
    assert "Bread" in row and "Out of stock" in row and 'class="status-icon icon-out"' in row


@pytest.mark.parametrize("reason, amount, expected", [
    ("sale", "3", 7), ("damage", "2", 8), ("delivery", "5", 15), ("return", "1", 11), ("count", "4", 4),
])
def test_the_reason_sets_the_direction(shop, reason, amount, expected):
    product = shop.add_product("Jam", stock=10)
    response = shop.http.post(f"/retail/products/{product['id']}/stock",
                              data={"csrf_token": _token(shop.http), "reason": reason, "amount": amount})
    assert response.status_code == 303
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == expected


@pytest.mark.parametrize("amount", ["-3", "0", "abc", ""])
def test_adjust_refuses_a_negative_zero_or_missing_amount(shop, amount):
    product = shop.add_product("Jam", stock=10)
    response = shop.http.post(f"/retail/products/{product['id']}/stock",
                              data={"csrf_token": _token(shop.http), "reason": "sale", "amount": amount})
    assert response.status_code == 400
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 10


def test_count_to_zero_is_allowed(shop):
    product = shop.add_product("Jam", stock=10)
    shop.http.post(f"/retail/products/{product['id']}/stock",
                   data={"csrf_token": _token(shop.http), "reason": "count", "amount": "0"})
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 0


def test_adjust_from_a_filtered_list_returns_to_the_same_query(stocked):
    product = stocked.add_product("Milk 2", stock=4)
    back = "/retail/products?stock=low&q=milk&sort=stock&dir=desc&page=1"
    response = stocked.http.post(f"/retail/products/{product['id']}/stock",
                                 data={"csrf_token": _token(stocked.http), "reason": "sale", "amount": "1",
                                       "back": back})
    assert response.status_code == 303 and response.headers["Location"] == back
    html = listing(stocked, "?stock=low&q=milk")
    assert 'name="back" value="/retail/products?stock=low&amp;q=milk"' in html


def test_a_refused_adjust_from_the_list_also_returns_with_a_message(stocked):
    product = stocked.add_product("Milk 2", stock=1)
    back = "/retail/products?stock=low"
    response = stocked.http.post(f"/retail/products/{product['id']}/stock",
                                 data={"csrf_token": _token(stocked.http), "reason": "sale", "amount": "5",
                                       "back": back})
    assert response.status_code == 303 and response.headers["Location"] == back
    assert "Stock cannot go below zero" in stocked.get(back).get_data(as_text=True)
    assert stocked.get(f"/api/products/{product['id']}").get_json()["stock"] == 1


@pytest.mark.parametrize("back", ["https://evil.example/retail/products", "//evil.example/retail/products",
                                  "/settings/notifications", "/retail/products/../../x", "/retail/productsX"])
def test_adjust_never_returns_to_another_place(shop, back):
    product = shop.add_product("Jam", stock=10)
    response = shop.http.post(f"/retail/products/{product['id']}/stock",
                              data={"csrf_token": _token(shop.http), "reason": "sale", "amount": "1", "back": back})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/retail/products/{product['id']}/edit"


def test_the_api_keeps_signed_delta_and_quantity(shop):
    product = shop.add_product("Jam", stock=10)
    body = shop.post(f"/api/products/{product['id']}/stock", json={"delta": 3, "reason": "sale"}).get_json()
    assert body["product"]["stock"] == 13  # the API's contract: delta is signed, the reason is a label
    assert shop.post(f"/api/products/{product['id']}/stock",
                     json={"amount": 3, "reason": "sale"}).status_code == 400


@pytest.mark.parametrize("sort", ["name", "stock", "status"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_page_of_every_sort_is_a_slice_of_the_whole_sorted_list(shop, sort, direction):
    # Pages past the middle are read from the other end, and status pages walk out, low and ok in
    # turn: page by page they must give exactly the whole list, in order.
    for n, stock in enumerate([0, 3, 40, 12, 0, 5, 7, 100, 2, 0, 60]):
        shop.add_product(f"Item {n % 4} {n:02}", stock=stock)
    query = f"?sort={sort}&dir={direction}"
    whole = names(listing(shop, query + "&per_page=100"))
    assert len(whole) == 11
    paged = [name for page in range(1, 6) for name in names(listing(shop, f"{query}&per_page=3&page={page}"))]
    assert paged == whole
