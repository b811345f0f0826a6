"""Snoozing and muting one product: no alert of any kind until the snooze ends (or, muted, until
it is lifted). Lifting it checks the product at once, so a product still low rings today."""
from .service import raise_alerts


def snooze(product, until, muted):
    product.snoozed_until = None if muted else until
    product.muted = muted
    return product


def lift(product, now):
    product.snoozed_until = None
    product.muted = False
    return raise_alerts(client_id=product.client_id, product_ids=[product.id], now=now)
