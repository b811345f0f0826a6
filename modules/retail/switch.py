"""The header's location switch: which place the dashboard, the products list and the product
page show. The choice is kept in the session (`session["location_id"]`), not in the URL, so that
every link, the bell's and the menu's included, stays on the chosen place without carrying a
parameter, and a bookmark shows whatever the person last chose. It is read afresh on every
request against the locations the person may see now: a place since deactivated or taken away
falls back to the whole view. Only people who see two or more active locations get the switch."""
from dataclasses import dataclass

from flask import g, session
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.tenancy import place_ids
from ..extensions import db
from .models import Location

SESSION_KEY = "location_id"


@dataclass(frozen=True)
class Place:
    """What a page shows: `location_id` (None: the whole view), `ids` (the caller's locations,
    None: every one), `choices` [(id, name)] of the visible active locations, default first."""
    location_id: int | None
    ids: list | None
    choices: list

    @property
    def switch(self):
        """Whether the header offers the switch (two or more places to choose from), and the
        pages name places at all: a one-location shop's pages look exactly as before."""
        return len(self.choices) >= 2

    @property
    def whole_label(self):
        return "Whole shop" if self.ids is None else "All my locations"

    @property
    def name(self):
        return next((name for lid, name in self.choices if lid == self.location_id), None)


def visible_locations(client_id, ids):
    """[(id, name)] of the shop's active locations the caller sees, the default first, then by name."""
    stmt = (select(Location.id, Location.name).where(Location.client_id == client_id, Location.active.is_(True))
            .order_by(Location.is_default.desc(), func.lower(Location.name), Location.id))
    if ids is not None:
        stmt = stmt.where(Location.id.in_(ids))
    return [tuple(row) for row in db.session.execute(stmt)]


def current_place():
    """The signed-in person's Place for this request (one query, once per request)."""
    if "place" in g:
        return g.place
    user = current_user
    ids = place_ids(user)
    choices = visible_locations(user.client_id, ids)
    chosen = session.get(SESSION_KEY)
    if not any(lid == chosen for lid, _ in choices):
        chosen = None
    if chosen is None and ids is not None and len(choices) == 1:
        chosen = choices[0][0]  # limited to one place: that place
    g.place = Place(chosen, ids, choices)
    return g.place


def choose(location_id):
    """Remember the switch's choice (None: the whole view); the caller has checked it is visible."""
    if location_id is None:
        session.pop(SESSION_KEY, None)
    else:
        session[SESSION_KEY] = location_id
    g.pop("place", None)
