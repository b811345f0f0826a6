"""A throwaway PostgreSQL cluster for the tests and the benchmarks: initdb into a temporary
folder, pg_ctl on a free port (as the postgres user when run as root), removed afterwards."""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_bindir():
    for candidate in [os.environ.get("PG_BINDIR"), *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if candidate and Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return candidate
    found = shutil.which("initdb")
    return str(Path(found).parent) if found else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TemporaryCluster:
    def __init__(self, bindir=None, parent=None, options=""):
        """`parent`: the folder to make the cluster's own in (the tests give a tmpfs when there is
        one); `options`: more `-c name=value` server settings."""
        self.bindir = bindir or find_bindir()
        if not self.bindir:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.port = free_port()
        self.options = options
        self.root = Path(tempfile.mkdtemp(prefix="stockbell-pg-", dir=parent))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args):
        cmd = [str(Path(self.bindir, args[0])), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self):
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 {self.options}")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def url(self, dbname="postgres"):
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql):
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def stop(self):
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
