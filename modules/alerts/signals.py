"""What the alert path announces: `alerts_raised`, sent in the alert's transaction with the new
alerts, so that the bell and the outbox write their rows beside them (they listen; alerts imports
neither)."""
from blinker import Namespace

signals = Namespace()

# send(sender, alerts=[NewAlert...], now=datetime, user_id=int|None) -> a listener may return the
# JSON-ready notification it wrote for `user_id` (the answer to a stock change), else None.
alerts_raised = signals.signal("alerts-raised")


def announce(new_alerts, now, user_id=None):
    answers = alerts_raised.send(None, alerts=new_alerts, now=now, user_id=user_id)
    return next((value for _, value in answers if value is not None), None)
