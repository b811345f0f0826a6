"""Snooze from the pages: the products list and a product's page post here and are sent back."""
from flask import flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..auth.tenancy import get_owned_or_404
from ..errors import ApiError
from ..extensions import db
from ..retail.models import Product
from ..timeutil import utcnow
from ..validation import Fields
from . import bp, snooze
from .forms import SNOOZE_FIELDS, read_snooze


def _back():
    """Where the form came from, when it is one of our product pages (never another site)."""
    target = request.form.get("next", "")
    if target.startswith("/retail/products") and "//" not in target and "\\" not in target:
        return target
    return url_for("retail.products")


@bp.post("/retail/products/<int:product_id>/snooze")
@login_required
def snooze_product(product_id):
    product = get_owned_or_404(Product, product_id)
    if not current_user.can_manage:
        flash("Only owners and managers can snooze a product.", "error")
        return redirect(_back(), code=303)
    fields = Fields({k: v for k, v in request.form.items() if k in SNOOZE_FIELDS}, form=True)
    try:
        until, muted = read_snooze(fields, current_user.client.timezone, utcnow())
        fields.check()
    except ApiError as e:
        flash("Not snoozed: " + "; ".join(e.details.values()), "error")
        return redirect(_back(), code=303)
    snooze.snooze(product, until, muted, current_user.id)
    db.session.commit()
    flash(f"Muted {product.name}." if muted else f"Snoozed {product.name}.", "success")
    return redirect(_back(), code=303)


@bp.post("/retail/products/<int:product_id>/snooze/lift")
@login_required
def lift_snooze(product_id):
    product = get_owned_or_404(Product, product_id)
    if not current_user.can_manage:
        flash("Only owners and managers can end a snooze.", "error")
        return redirect(_back(), code=303)
    snooze.lift(product, utcnow(), current_user.id)
    db.session.commit()
    flash(f"Alerts for {product.name} are back on.", "success")
    return redirect(_back(), code=303)
