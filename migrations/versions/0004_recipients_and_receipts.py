"""Recipients as rows (shop-level or a person's own, any channel: a new channel needs no
migration), each person's preferences, limits shared by processes, and what a delivery carries
(its payload, the provider's receipt).

Revision ID: 0004
Revises: 0003
"""
import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# (channel, its enabled flag, its list) on notification_settings before this revision
_OLD_CHANNELS = (("email", "email_enabled", "email_recipients"), ("whatsapp", "whatsapp_enabled", "whatsapp_numbers"),
                 ("sms", "sms_enabled", "sms_numbers"))


def _as_datetime(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value  # SQLite's raw text


def _as_list(value):
    if isinstance(value, str):
        value = json.loads(value or "[]")
    return list(value or [])


def upgrade():
    recipients = op.create_table(
        'recipients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('address', sa.String(length=512), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column('mode', sa.String(length=16), nullable=True),
        sa.Column('secret', sa.String(length=128), nullable=True),
        sa.Column('opted_out_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_recipients_client_id_clients')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recipients_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recipients')),
    )
    # A shop's list holds an address once; a person has one address per channel.
    op.create_index('uq_recipients_shop_address', 'recipients', ['client_id', 'channel', 'address'], unique=True,
                    sqlite_where=sa.text('user_id IS NULL'), postgresql_where=sa.text('user_id IS NULL'))
    op.create_index('uq_recipients_user_channel', 'recipients', ['user_id', 'channel'], unique=True,
                    sqlite_where=sa.text('user_id IS NOT NULL'), postgresql_where=sa.text('user_id IS NOT NULL'))
    op.create_table(
        'user_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('kinds', sa.String(length=100), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_user_preferences_client_id_clients')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_preferences_user_id_users')),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_user_preferences')),
    )
    op.create_table(
        'rate_limits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('period', sa.String(length=32), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False, server_default='0'),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_rate_limits_client_id_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_limits')),
        sa.UniqueConstraint('client_id', 'name', 'period', name='uq_rate_limits_window'),
    )
    op.add_column('deliveries', sa.Column('payload', sa.JSON(), nullable=True))
    op.add_column('deliveries', sa.Column('provider_status', sa.String(length=32), nullable=True))
    op.add_column('deliveries', sa.Column('delivered_at', sa.DateTime(), nullable=True))
    op.create_index('ix_deliveries_provider_id', 'deliveries', ['provider_id'])

    # Each shop's lists become rows, enabled as their channel was.
    bind = op.get_bind()
    old = bind.execute(sa.text(
        "SELECT client_id, " + ", ".join(f"{flag}, {column}" for _, flag, column in _OLD_CHANNELS)
        + ", updated_at FROM notification_settings")).all()
    rows = []
    for row in old:
        values = list(row)
        for n, (channel, _, _) in enumerate(_OLD_CHANNELS):
            enabled, addresses = bool(values[1 + 2 * n]), _as_list(values[2 + 2 * n])
            for address in dict.fromkeys(addresses):
                rows.append({"client_id": row[0], "user_id": None, "channel": channel, "address": address,
                             "enabled": enabled, "mode": None, "secret": None, "opted_out_at": None,
                             "created_at": _as_datetime(row[-1])})
    if rows:
        op.bulk_insert(recipients, rows)
    with op.batch_alter_table('notification_settings', schema=None) as batch_op:
        for _, flag, column in _OLD_CHANNELS:
            batch_op.drop_column(flag)
            batch_op.drop_column(column)


def downgrade():
    with op.batch_alter_table('notification_settings', schema=None) as batch_op:
        for _, flag, column in _OLD_CHANNELS:
            batch_op.add_column(sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false()))
            batch_op.add_column(sa.Column(column, sa.JSON(), nullable=False, server_default='[]'))
    bind = op.get_bind()
    lists = {}
    for client_id, channel, address, enabled in bind.execute(sa.text(
            "SELECT client_id, channel, address, enabled FROM recipients WHERE user_id IS NULL ORDER BY id")):
        entry = lists.setdefault(client_id, {})
        addresses, was_enabled = entry.get(channel, ([], False))
        entry[channel] = (addresses + [address], was_enabled or bool(enabled))
    for client_id, channels in lists.items():
        values = {}
        for channel, flag, column in _OLD_CHANNELS:
            addresses, enabled = channels.get(channel, ([], False))
            values[flag], values[column] = enabled, json.dumps(addresses)
        bind.execute(sa.text(
            "UPDATE notification_settings SET " + ", ".join(f"{k} = :{k}" for k in values)
            + " WHERE client_id = :client_id"), {**values, "client_id": client_id})
    op.drop_index('ix_deliveries_provider_id', table_name='deliveries')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('provider_status')
        batch_op.drop_column('payload')
    op.drop_table('rate_limits')
    op.drop_table('user_preferences')
    op.drop_index('uq_recipients_user_channel', table_name='recipients')
    op.drop_index('uq_recipients_shop_address', table_name='recipients')
    op.drop_table('recipients')
