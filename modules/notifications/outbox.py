"""The outbox: deliveries rows written in the alert's transaction, sent later by the dispatcher."""


def enqueue_alert_deliveries(new_alerts, now):
    """Queue email/WhatsApp/SMS messages for new alerts of shops in instant mode."""
    return 0


def enqueue_test(client_id, channel):
    """Queue a test message to the shop's recipients of one channel; returns how many."""
    return 0
