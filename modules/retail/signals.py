"""What retail announces: `stock_changed`, sent after a product's stock (or its threshold, its
category or its archiving) changed and was flushed, inside the caller's transaction. Retail knows
nothing of who listens; the alert path answers synchronously, in the same transaction."""
from blinker import Namespace

signals = Namespace()

# send(sender, client_id=, product_ids=, user_id=, every=) -> receivers may return a JSON-ready
# dict (the bell notification the change raised for `user_id`) or None; with every=True, a list.
stock_changed = signals.signal("stock-changed")


def announce_stock_change(client_id, product_ids, user_id=None, every=False):
    """Tell the listeners; returns the first answer (the alert shown to `user_id`), or None; with
    `every`, the list of every alert the change raised."""
    answers = stock_changed.send(None, client_id=client_id, product_ids=list(product_ids), user_id=user_id,
                                 every=every)
    return next((value for _, value in answers if value is not None), None)
