"""What purchasing announces: `order_sent`, after a purchase order was marked sent and flushed,
inside the caller's transaction. Delivery listens and queues the supplier's email in the outbox."""
from blinker import Namespace

signals = Namespace()

# send(sender, client_id=, order=<the message's content: dict>, now=)
order_sent = signals.signal("order-sent")
