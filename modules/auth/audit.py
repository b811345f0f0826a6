"""The audit log: who changed what in a shop, one row per change, added to the caller's session so
that it commits (or rolls back) with the change itself. Values of secrets are never written:
a password change is recorded as the fact alone."""
import json

from ..extensions import db
from ..timeutil import isoformat
from .models import AuditEntry
from .tenancy import for_shop


def _plain(value):
    """A JSON-ready value: datetimes as ISO 8601, everything else as it is."""
    if hasattr(value, "isoformat"):
        return isoformat(value)
    return value


def diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for the fields whose value changed."""
    return {name: [_plain(before.get(name)), _plain(value)] for name, value in after.items()
            if before.get(name) != value}


def record(client_id, user_id, action, target, changes=None):
    """Add one entry (e.g. "product.update", "product 12: Oat milk", {"low_stock_threshold": [5, 0]})
    to the current transaction; the caller commits."""
    entry = AuditEntry(client_id=client_id, user_id=user_id, action=action, target=str(target)[:200],
                       changes=json.dumps({k: [_plain(v) for v in pair] for k, pair in (changes or {}).items()}))
    db.session.add(entry)
    return entry


def entry_dict(entry):
    return {
        "id": entry.id,
        "user": {"id": entry.user.id, "email": entry.user.email} if entry.user else None,
        "action": entry.action,
        "target": entry.target,
        "changes": json.loads(entry.changes or "{}"),
        "created_at": isoformat(entry.created_at),
    }


def entries(client_id, limit=50, before_id=None):
    """One page of the shop's audit log, newest first."""
    stmt = for_shop(AuditEntry, client_id)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return db.session.execute(stmt.order_by(AuditEntry.id.desc()).limit(limit)).unique().scalars().all()
