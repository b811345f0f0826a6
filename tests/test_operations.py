"""Operations a newcomer meets: `flask --app app reset-password EMAIL`, a busy port in one clear
line, and log lines that keep their timestamps after the migrations ran."""
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) ")


def test_reset_password_prints_a_new_password_that_signs_in(app, runner, shop):
    result = runner.invoke(args=["reset-password", shop.email.upper()])
    assert result.exit_code == 0, result.output
    match = re.fullmatch(rf"New password for {re.escape(shop.email)}: (\S{{12,}})\n", result.output)
    assert match, result.output
    http = app.test_client()
    assert http.post("/api/auth/login", json={"email": shop.email, "password": match.group(1)}).status_code == 200
    assert http.post("/api/auth/login", json={"email": shop.email, "password": shop.password}).status_code == 401
    assert shop.get("/api/auth/me").status_code == 401  # the old session ended with the reset


def test_reset_password_of_an_unknown_email_fails_and_says_so(runner, shop):
    result = runner.invoke(args=["reset-password", "nobody@example.com"])
    assert result.exit_code == 1
    assert "no user has the email nobody@example.com" in result.output


def test_two_resets_give_two_different_passwords(runner, shop):
    first = runner.invoke(args=["reset-password", shop.email]).output
    second = runner.invoke(args=["reset-password", shop.email]).output
    assert first != second


def _environ(tmp_path, **extra):
    return {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'ops.db'}", "SEED_DEMO": "1",
            "STOCK_MONITOR_ENABLED": "0", "DELIVERY_ENABLED": "0", "PYTHONUNBUFFERED": "1",
            "SECRET_KEY": "test-secret", **extra}


def test_a_busy_port_is_one_clear_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env=_environ(tmp_path, PORT=str(port), HOST="127.0.0.1"))
    assert done.returncode == 1
    output = (done.stdout + done.stderr).strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert f"cannot listen on 127.0.0.1:{port} (already in use)" in output
    assert not (tmp_path / "ops.db").exists() or "Demo shop ready" not in output  # nothing seeded first


def test_log_lines_keep_their_timestamps_after_the_migrations(tmp_path):
    script = (
        "import logging\n"
        "from flask_migrate import upgrade\n"
        "from modules import create_app\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    logging.getLogger('stockbell').info('before the migrations')\n"
        "    upgrade()\n"
        "    logging.getLogger('stockbell').info('after the migrations')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=_environ(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    after = [line for line in lines if "after the migrations" in line]
    assert len(after) == 1 and TIMESTAMPED.match(after[0]), lines
    running = [line for line in lines if "Running upgrade" in line]
    assert running and all(TIMESTAMPED.match(line) for line in running), lines  # Alembic's progress too
