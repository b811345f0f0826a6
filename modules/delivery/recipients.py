"""Who hears of an alert: recipient rows on the shop's lists (user_id null) and each person's own,
with their mode (instant or digest) and kinds; opting out (Twilio's STOP, one-click unsubscribe)."""
import secrets
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, func, or_, select, true, update

from ..alerts import kinds as alert_kinds
from ..auth.models import NotificationSettings, User, UserLocation
from ..auth.tenancy import for_shop, owned_by
from ..extensions import db
from ..notifications.models import UserPreferences
from ..notifications.service import hears_place
from ..timeutil import utcnow
from .models import Recipient


@dataclass(frozen=True)
class Target:
    """One address to send to, as the outbox needs it."""

    client_id: int
    channel: str
    address: str
    mode: str
    kinds: str | None  # ",low,forecast," for a person who chose; None: their role's kinds
    user_id: int | None = None  # None: on the shop's list (every kind)
    role: str | None = None
    location_id: int | None = None  # on a location's list: that location's alerts only
    places: frozenset | None = None  # a person limited to these locations hears only theirs

    def wants(self, kind):
        return alert_kinds.hears(kind, self.role, self.kinds)

    def hears_at(self, location_id):
        """Whether an alert at `location_id` is this address's: a location's list hears its own
        place, a person limited to some places theirs (as in the bell), anyone else every place."""
        return ((self.location_id is None or location_id == self.location_id)
                and (self.places is None or location_id in self.places))


def targets(client_ids, mode=None):
    """Every enabled, not opted-out address of these shops (their lists and their active users'
    own), with its effective mode; only those in `mode` when given."""
    effective = func.coalesce(Recipient.mode, NotificationSettings.delivery_mode, "instant")
    stmt = (
        select(Recipient.client_id, Recipient.channel, Recipient.address, effective, UserPreferences.kinds,
               Recipient.user_id, User.role, Recipient.location_id)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Recipient.client_id)
        .outerjoin(User, User.id == Recipient.user_id)
        .outerjoin(UserPreferences, UserPreferences.user_id == Recipient.user_id)
        .where(Recipient.client_id.in_(bindparam("ids", list(client_ids), expanding=True)),
               Recipient.enabled.is_(True), Recipient.opted_out_at.is_(None),
               or_(Recipient.user_id.is_(None), and_(User.active.is_(True), User.client_id == Recipient.client_id)))
        .order_by(Recipient.id)
    )
    if mode is not None:
        stmt = stmt.where(effective == mode)
    out = defaultdict(list)
    places = _limited_places(client_ids)
    for row in db.session.execute(stmt):
        out[row[0]].append(Target(*row, places=places.get(row.user_id) if row.role != "owner" else None))
    return out


def _limited_places(client_ids):
    """{user id: frozenset of the locations they are limited to} of these shops' limited people."""
    places = defaultdict(set)
    for user_id, location_id in db.session.execute(
            select(UserLocation.user_id, UserLocation.location_id)
            .where(UserLocation.client_id.in_(bindparam("ids", list(client_ids), expanding=True)))):
        places[user_id].add(location_id)
    return {user_id: frozenset(ids) for user_id, ids in places.items()}


def join_targets(stmt, client_id_col, kind_col, mode, location_col=None):
    """`stmt` joined to the addresses of its rows' shops (`client_id_col`) in `mode` that want the
    kind in `kind_col` (and, on a location's list or for a person limited to some locations, whose
    location is `location_col`): targets() and Target.wants()/hears_at() over columns, for an
    INSERT ... SELECT."""
    effective = func.coalesce(Recipient.mode, NotificationSettings.delivery_mode, "instant")
    place = (Recipient.location_id.is_(None) if location_col is None
             else or_(Recipient.location_id.is_(None), Recipient.location_id == location_col))
    return (
        stmt.join(Recipient, and_(Recipient.client_id == client_id_col, Recipient.enabled.is_(True),
                                  Recipient.opted_out_at.is_(None), place))
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Recipient.client_id)
        .outerjoin(User, User.id == Recipient.user_id)
        .outerjoin(UserPreferences, UserPreferences.user_id == Recipient.user_id)
        .where(effective == mode,
               # the shop's list hears every kind; a person, the kinds they chose, else their role's
               or_(Recipient.user_id.is_(None),
                   and_(User.active.is_(True), User.client_id == Recipient.client_id,
                        alert_kinds.sql_hears(kind_col, User.role, UserPreferences.kinds),
                        true() if location_col is None else hears_place(User, location_col))))
    )


def shop_lists(client_id):
    """{channel: {"enabled", "addresses", "opted_out", "secret"}} of the shop's own lists."""
    lists = {}
    rows = db.session.execute(for_shop(Recipient, client_id).where(Recipient.user_id.is_(None),
                                                                    Recipient.location_id.is_(None))
                              .order_by(Recipient.id)).scalars()
    for row in rows:
        entry = lists.setdefault(row.channel, {"enabled": False, "addresses": [], "opted_out": [], "secret": None})
        entry["enabled"] = entry["enabled"] or row.enabled
        entry["addresses"].append(row.address)
        if row.opted_out_at is not None:
            entry["opted_out"].append(row.address)
        entry["secret"] = entry["secret"] or row.secret
    return lists


def location_lists(client_id, location_id):
    """{channel: [addresses]} of one location's lists."""
    lists = {}
    rows = db.session.execute(for_shop(Recipient, client_id).where(Recipient.location_id == location_id)
                              .order_by(Recipient.id)).scalars()
    for row in rows:
        lists.setdefault(row.channel, []).append(row.address)
    return lists


def on_shop_list(client_id, channel, addresses):
    """The addresses among `addresses` already on the shop's own list of `channel` (any case)."""
    wanted = {a.lower() for a in addresses}
    if not wanted:
        return []
    return sorted(a for (a,) in db.session.execute(
        select(Recipient.address).where(owned_by(Recipient, client_id), Recipient.user_id.is_(None),
                                        Recipient.location_id.is_(None), Recipient.channel == channel))
        if a.lower() in wanted)


def save_shop_list(client_id, channel, addresses, enabled, signed=False, location_id=None):
    """Make the shop's list of one channel (a location's, with `location_id`) exactly
    `addresses`, enabled or not. An address kept keeps its state (an opt-out stays); one removed
    and entered again starts afresh. With `signed`, rows get a signing secret when they have none;
    returns a secret made now, or None."""
    place = Recipient.location_id.is_(None) if location_id is None else Recipient.location_id == location_id
    mine = and_(owned_by(Recipient, client_id), Recipient.user_id.is_(None), Recipient.channel == channel, place)
    existing = {r.address: r for r in db.session.execute(select(Recipient).where(mine)).scalars()}
    if addresses is None:
        addresses = list(existing)
    for address, row in existing.items():
        if address not in addresses:
            db.session.delete(row)
    made = None
    for address in addresses:
        row = existing.get(address)
        if row is None:
            # mode null: the shop's delivery mode, a location's list as the shop's own (its digest
            # lists that location's alerts only: delivery/digest.py).
            row = Recipient(client_id=client_id, channel=channel, address=address, location_id=location_id,
                            created_at=utcnow())
            db.session.add(row)
        row.enabled = bool(enabled)
        if signed and enabled and not row.secret:
            row.secret = made = secrets.token_hex(32)
    db.session.flush()
    return made


def secrets_of(client_ids, channel):
    """{(client_id, address): secret} of the shop-level rows of one channel."""
    rows = db.session.execute(
        select(Recipient.client_id, Recipient.address, Recipient.secret)
        .where(Recipient.client_id.in_(bindparam("ids", list(client_ids), expanding=True)),
               Recipient.channel == channel, Recipient.user_id.is_(None)))
    return {(c, a): s for c, a, s in rows}


def opt_out(client_id, channel, address, now):
    """Stop sending to this address on this channel for this shop (its list and anyone's own).
    Returns how many rows it touched."""
    result = db.session.execute(
        update(Recipient).where(owned_by(Recipient, client_id), Recipient.channel == channel,
                                func.lower(Recipient.address) == address.lower(), Recipient.opted_out_at.is_(None))
        .values(opted_out_at=now), execution_options={"synchronize_session": False})
    return result.rowcount


def forget(client_id, channel, address):
    """Remove an address the provider says no longer exists (a push subscription that ended)."""
    db.session.execute(delete(Recipient).where(owned_by(Recipient, client_id), Recipient.channel == channel,
                                               Recipient.address == address),
                       execution_options={"synchronize_session": False})


def personal(user):
    """{channel: Recipient} of one person's own addresses."""
    rows = db.session.execute(for_shop(Recipient, user.client_id).where(Recipient.user_id == user.id)).scalars()
    return {r.channel: r for r in rows}


def save_personal(user, channel, address, enabled, mode):
    """Set one person's own address on a channel (None removes it)."""
    row = personal(user).get(channel)
    if address is None:
        if row is not None:
            db.session.execute(delete(Recipient).where(Recipient.id == row.id))
        return
    if row is None:
        row = Recipient(client_id=user.client_id, user_id=user.id, channel=channel, address=address,
                        created_at=utcnow())
        db.session.add(row)
    elif row.address != address:
        row.address, row.opted_out_at = address, None
    row.enabled, row.mode = bool(enabled), mode
    db.session.flush()
