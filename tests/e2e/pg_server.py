"""A real PostgreSQL server from Debian's packages, on 127.0.0.1 with a free port, in a temporary
directory: the rules engine's postgres action writes into it. As root the server runs as the
postgres user (PostgreSQL refuses to run as root)."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from conftest import free_port


def _bin(name):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name))
    assert found, "PostgreSQL is not installed (make deps installs postgresql)"
    return found[-1]


class PgServer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="umbra-pg-")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        data = os.path.join(self.dir, "data")
        subprocess.run(self.as_user + [_bin("initdb"), "-D", data, "-A", "trust", "-U", "umbra",
                                       "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        self.log = open(os.path.join(tempfile.gettempdir(), "umbra-pg-%d.log" % self.port), "w+")
        self.proc = subprocess.Popen(
            self.as_user + [_bin("postgres"), "-D", data, "-p", str(self.port), "-k", self.dir,
                            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while subprocess.run([_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             capture_output=True).returncode != 0:
            assert self.proc.poll() is None and time.monotonic() < deadline, self.logs()
            time.sleep(0.1)
        self.sql("CREATE DATABASE iot", db="postgres")
        self.conninfo = "host=127.0.0.1 port=%d dbname=iot user=umbra" % self.port

    def sql(self, statement, db="iot"):
        """Run one statement; its rows as lists of strings."""
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "umbra", "-d",
                            db, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", statement],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return [line.split("\t") for line in r.stdout.splitlines()]

    def logs(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)
        shutil.rmtree(self.dir, ignore_errors=True)
