"""The bell across tabs in a real browser (Debian's chromium through Playwright) against the app
served by waitress, on SQLite and PostgreSQL: of three tabs of one browser only one polls the
unread count, the others hear its answers; a {type: "refresh"} on the BroadcastChannel (what the
service worker posts on a push) updates all three at once; a hidden tab polls every 5 minutes;
when the polling tab closes or is hidden, or another is focused, another takes over; without Web
Locks the tabs still poll and hear each other. The clock is Playwright's, moved by the test."""
import pytest

pytest.register_assert_rewrite("tests.support.browser")

from tests.support.browser import (  # noqa: E402
    LiveServer,
    expect,
    watch_console,
)

POLL = "/api/notifications/unread-count"
PASSWORD = "correct-horse-42"


class Tabs:
    """One browser context (one user's browser) with the fake clock, its tabs, and the polls of
    the unread count that any of them sent."""

    def __init__(self, browser, url):
        self.context = browser.new_context(base_url=url)
        self.context.set_default_timeout(10_000)
        self.context.clock.install()
        self.polls = []
        self.context.on("request", lambda r: self.polls.append(r) if r.url.endswith(POLL) else None)
        self.pages, self.console = [], []

    def sign_up(self):
        response = self.context.request.post("/api/auth/register", data={
            "shop_name": "Corner Shop", "email": "owner@example.com", "password": PASSWORD})
        assert response.status == 201, response.text()
        self.csrf = response.json()["csrf_token"]

    def open(self, n):
        for _ in range(n):
            page = self.context.new_page()
            self.console.append(watch_console(page))
            page.goto("/notifications")
            expect(page.locator("#bell")).to_be_visible()
            self.pages.append(page)
        self.pages[-1].wait_for_timeout(300)  # the tabs settle who polls; a first answer may come

    def alert(self, name):
        """A product sold below its threshold: one new unread notification."""
        post = self.context.request.post
        product = post("/api/products", data={"name": name, "stock": 10}, headers={"X-CSRFToken": self.csrf}).json()
        change = post(f"/api/products/{product['id']}/stock", data={"delta": -8, "reason": "sale"},
                      headers={"X-CSRFToken": self.csrf}).json()
        assert change["alert"] is not None, change

    def run_for(self, ms, polls):
        """Move the clock by `ms` and wait for the `polls` sent meanwhile to be answered."""
        before = len(self.polls)
        self.pages[0].clock.run_for(ms)
        self.pages[0].wait_for_timeout(300)
        for request in self.polls[before:]:
            request.response()
        return len(self.polls) - before

    def close(self):
        self.context.close()
        refused = [line for lines in self.console for line in lines if "Content Security Policy" in line]
        assert not refused, refused


@pytest.fixture
def tabs(browser, app):
    server = LiveServer(app).start()
    opened = Tabs(browser, server.url)
    opened.sign_up()
    yield opened
    opened.close()
    server.stop()


def badges(tabs):
    return [page.locator("#bell-badge") for page in tabs.pages]


def test_of_three_tabs_one_polls_and_all_show_its_answer(tabs):
    tabs.open(3)
    tabs.alert("Oat Milk")
    for badge in badges(tabs):
        expect(badge).to_be_hidden()
    assert tabs.run_for(300_000, 10) == 10  # 5 minutes at 30 s: one tab's polls, not three tabs'
    for badge in badges(tabs):
        expect(badge).to_have_text("1")
    senders = {request.frame.page for request in tabs.polls[-10:]}
    assert len(senders) == 1


def test_a_refresh_on_the_broadcast_channel_updates_every_tab_with_one_poll(tabs):
    tabs.open(3)
    tabs.alert("Oat Milk")
    tabs.alert("Rye Bread")
    before = len(tabs.polls)
    tabs.pages[2].evaluate("new BroadcastChannel('stockbell-bell').postMessage({type: 'refresh'})")
    for badge in badges(tabs):
        expect(badge).to_have_text("2")
    assert len(tabs.polls) - before == 1


def test_an_unchanged_count_is_a_304_and_the_tabs_keep_it(tabs):
    tabs.open(2)
    tabs.alert("Oat Milk")
    tabs.run_for(30_000, 1)
    first = tabs.polls[-1]
    assert first.response().status == 200
    tabs.run_for(30_000, 1)
    again = tabs.polls[-1]
    assert again.response().status == 304
    assert again.header_value("If-None-Match") == first.response().header_value("ETag")
    for badge in badges(tabs):
        expect(badge).to_have_text("1")


def test_when_the_polling_tab_closes_another_takes_over(tabs):
    tabs.open(3)
    tabs.run_for(30_000, 1)
    leader = tabs.polls[-1].frame.page
    leader.close()
    tabs.pages.remove(leader)
    tabs.alert("Oat Milk")
    assert tabs.run_for(60_000, 2) == 2
    assert leader not in {request.frame.page for request in tabs.polls[-2:]}
    for badge in badges(tabs):
        expect(badge).to_have_text("1")


def test_a_hidden_tab_polls_every_five_minutes(tabs):
    tabs.open(1)
    tabs.pages[0].evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    assert tabs.run_for(290_000, 0) == 0  # 30 s apart while visible: 9 polls by now
    assert tabs.run_for(20_000, 1) == 1  # 5 minutes
    assert tabs.run_for(280_000, 0) == 0
    assert tabs.run_for(20_000, 1) == 1  # 10 minutes


def test_the_tab_the_user_comes_back_to_asks_at_once_and_takes_over_the_polling(tabs):
    tabs.open(3)
    tabs.run_for(30_000, 1)
    leader = tabs.polls[-1].frame.page
    other = next(page for page in tabs.pages if page is not leader)
    tabs.alert("Oat Milk")
    assert tabs.run_for(5_000, 0) == 0  # an answer 2 s old or less counts as fresh: no second ask
    before = len(tabs.polls)
    other.evaluate("window.dispatchEvent(new Event('focus'))")  # headless tabs never lose focus
    for badge in badges(tabs):
        expect(badge).to_have_text("1")
    assert len(tabs.polls) - before == 1 and tabs.polls[-1].frame.page is other
    assert tabs.run_for(60_000, 2) == 2
    assert {request.frame.page for request in tabs.polls[-2:]} == {other}


def test_without_web_locks_the_tabs_still_poll_and_hear_each_other(tabs):
    """A page over plain http from another host has no navigator.locks: every tab is a candidate."""
    tabs.context.add_init_script("Object.defineProperty(Navigator.prototype, 'locks', {get: () => undefined})")
    tabs.open(2)
    assert tabs.pages[0].evaluate("navigator.locks") is None
    tabs.alert("Oat Milk")
    assert 1 <= tabs.run_for(34_000, 2) <= 2  # 30 s, jittered by up to 10%
    for badge in badges(tabs):
        expect(badge).to_have_text("1")


def test_when_the_polling_tab_is_hidden_a_tab_still_in_sight_takes_over(tabs):
    """Two windows side by side: the polling one is minimised, the other is still looked at."""
    tabs.open(3)
    tabs.run_for(30_000, 1)
    leader = tabs.polls[-1].frame.page
    leader.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    leader.wait_for_timeout(300)
    assert tabs.run_for(60_000, 2) == 2  # at the visible pace, from a tab in sight
    assert leader not in {request.frame.page for request in tabs.polls[-2:]}
