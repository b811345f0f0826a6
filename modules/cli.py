"""flask --app app create-shop | seed-demo | reset-password | monitor run-once | workers run (and
Flask-Migrate's db ...)."""
import secrets

import click
from flask.cli import AppGroup

from .errors import ApiError
from .validation import Fields

monitor_cli = AppGroup("monitor", help="The stock monitor.")
workers_cli = AppGroup("workers", help="The monitor and the dispatcher, in a process of their own.")


@click.command("create-shop")
@click.argument("name")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--timezone", default="UTC", show_default=True)
def create_shop_command(name, email, password, timezone):
    """Create a shop with its owner."""
    from .auth import service

    fields = Fields({"shop_name": name, "email": email, "password": password, "timezone": timezone})
    fields.text("shop_name", required=True, max_length=120)
    email = service.normalize_email(fields)
    service.check_password_field(fields, user_inputs=(name, email))
    service.read_timezone(fields)
    try:
        fields.check()
        client, user = service.create_shop(name, email, password, timezone)
    except ApiError as e:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in e.details.items()) or e.message)
    click.echo(f"Created shop {client.name} (id {client.id}) with owner {user.email}.")


@click.command("seed-demo")
@click.option("--email", default=None, help="Login of the demo owner (default demo@example.com).")
def seed_demo_command(email):
    """Create the demo shop and print its login."""
    from .seed import DEMO_EMAIL, seed_demo

    try:
        email, password = seed_demo(email or DEMO_EMAIL)
    except ApiError:
        raise click.ClickException("the demo shop's email is already taken; pass --email")
    click.echo(f"Demo shop created. Log in as {email} with password {password}")


@click.command("reset-password")
@click.argument("email")
def reset_password_command(email):
    """Give a user a new random password and print it: the way back in when a login is lost.
    Every session of theirs ends, the account's failed sign-ins are forgotten, and the audit log
    records the fact."""
    from .auth import audit, throttle
    from .auth.models import User
    from .auth.sessions import end_every_session
    from .extensions import db

    user = db.session.execute(db.select(User).where(db.func.lower(User.email) == email.strip().lower())
                              ).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user has the email {email}")
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    end_every_session(user)
    throttle.forget_account(user.email.lower())
    audit.record(user.client_id, None, "user.password_reset", f"user {user.id}: {user.email} (command line)")
    db.session.commit()
    click.echo(f"New password for {user.email}: {password}")


@monitor_cli.command("run-once")
def monitor_run_once():
    """One scan of every shop; prints what it created."""
    from .alerts.monitor import run_cycle

    new = run_cycle()
    if new is None:
        click.echo("Another process holds the scan lock; nothing done.")
        return
    click.echo(f"Created {len(new)} alert(s).")
    for alert in new:
        click.echo(f"  shop {alert.client_id} product {alert.product_id}: {alert.level} (stock {alert.stock})")


@workers_cli.command("run")
@click.option("--monitor/--no-monitor", default=True, show_default=True, help="Run the stock monitor.")
@click.option("--dispatcher/--no-dispatcher", default=True, show_default=True, help="Run the delivery dispatcher.")
def workers_run(monitor, dispatcher):
    """Run the stock monitor and the delivery dispatcher until SIGTERM or Ctrl-C (web processes
    then run with STOCK_MONITOR_ENABLED=0 DELIVERY_ENABLED=0)."""
    from flask import current_app

    from .workers import run_until_signalled

    app = current_app._get_current_object()
    app.config.update(STOCK_MONITOR_ENABLED=monitor, DELIVERY_ENABLED=dispatcher)
    if not (monitor or dispatcher):
        raise click.ClickException("nothing to run: both the monitor and the dispatcher are off")
    run_until_signalled(app)


def init_app(app):
    app.cli.add_command(create_shop_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(reset_password_command)
    app.cli.add_command(monitor_cli)
    app.cli.add_command(workers_cli)
