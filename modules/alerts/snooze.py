"""Snoozing and muting one product: no alert of any kind until the snooze ends (or, muted, until
it is lifted). Lifting it checks the product at once, so a product still low rings today."""
from ..auth import audit
from .service import raise_alerts


def _audited(product, user_id, action, apply):
    before = {"snoozed_until": product.snoozed_until, "muted": product.muted}
    apply()
    changes = audit.diff(before, {"snoozed_until": product.snoozed_until, "muted": product.muted})
    audit.record(product.client_id, user_id, action, f"product {product.id}: {product.name}", changes)


def snooze(product, until, muted, user_id=None):
    def apply():
        product.snoozed_until = None if muted else until
        product.muted = muted

    _audited(product, user_id, "product.mute" if muted else "product.snooze", apply)
    return product


def lift(product, now, user_id=None):
    def apply():
        product.snoozed_until = None
        product.muted = False

    _audited(product, user_id, "product.unsnooze", apply)
    return raise_alerts(client_id=product.client_id, product_ids=[product.id], now=now)
