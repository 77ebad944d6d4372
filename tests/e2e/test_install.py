"""make install: binaries, man pages, configuration, the systemd unit; checked as installed."""
import json
import os
import re
import stat
import subprocess

import pytest

from conftest import SANITIZE

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def make_install(*args):
    """Run `make install ARGS` for the build under test (the sanitizer one too)."""
    # Called from `make e2e`, the environment holds the outer make's jobserver: not ours.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "install",
                        "SANITIZE=%d" % SANITIZE] + list(args),
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.fixture
def staged(tmp_path):
    """A default install (PREFIX /usr/local) staged under DESTDIR."""
    dest = tmp_path / "stage"
    make_install("DESTDIR=%s" % dest)
    return dest


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_install_stages_every_file(staged):
    prefix = staged / "usr/local"
    expected = {
        "sbin/umbrad": 0o755, "bin/umbractl": 0o755,
        "share/man/man8/umbrad.8": 0o644, "share/man/man1/umbractl.1": 0o644,
        "share/doc/umbra/umbra.json.example": 0o644, "share/doc/umbra/operations.md": 0o644,
        "etc/umbra/umbra.json": 0o644,
        "lib/systemd/system/umbrad.service": 0o644, "lib/sysusers.d/umbra.conf": 0o644,
    }
    for rel, want in expected.items():
        assert (prefix / rel).is_file(), rel
        assert mode(prefix / rel) == want, rel
    for prog in ("sbin/umbrad", "bin/umbractl"):
        r = subprocess.run([str(prefix / prog), "--version"], capture_output=True, timeout=10)
        assert r.returncode == 0 and b"0." in r.stdout


def test_example_configuration_has_every_key_with_its_default(staged):
    prefix = staged / "usr/local"
    umbrad = str(prefix / "sbin/umbrad")
    example = json.loads((prefix / "share/doc/umbra/umbra.json.example").read_text())
    help_text = subprocess.run([umbrad, "--help"], capture_output=True, text=True,
                               timeout=10).stdout
    flags = re.findall(r"^  --([a-z-]+) +(?:TEXT|N) ", help_text, re.M)
    assert flags and sorted(k.replace("-", "_") for k in flags) == sorted(example)
    assert example["max_packet_size"] == 131072 and example["mqtts"] == "0.0.0.0:8883"
    assert example["mqtt"] == "off" and example["hosts"] is None
    # It is a file umbrad reads, and reading it changes nothing.
    r = subprocess.run([umbrad, "-c", str(prefix / "share/doc/umbra/umbra.json.example"),
                        "--print-config"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and json.loads(r.stdout) == example
    # The service's own file differs only in the data directory.
    service_cfg = json.loads((prefix / "etc/umbra/umbra.json").read_text())
    assert service_cfg == dict(example, data_dir="/var/lib/umbra")


def test_installing_again_keeps_the_operators_configuration(staged):
    cfg = staged / "usr/local/etc/umbra/umbra.json"
    cfg.write_text('{"log_level": "warn"}\n')
    make_install("DESTDIR=%s" % staged)
    assert cfg.read_text() == '{"log_level": "warn"}\n'
    assert (staged / "usr/local/sbin/umbrad").is_file()


def test_unit_runs_the_installed_daemon_as_its_own_user(staged):
    unit = (staged / "usr/local/lib/systemd/system/umbrad.service").read_text()
    assert "@" not in re.sub(r"#.*", "", unit).replace("@system-service", "").replace(
        "@privileged", "").replace("@resources", "")
    for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=umbra",
                 "StateDirectory=umbra", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "PrivateTmp=yes", "ProtectHome=yes", "CapabilityBoundingSet=",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "LimitNOFILE=262144",
                 "ExecStart=/usr/local/sbin/umbrad -c /usr/local/etc/umbra/umbra.json "
                 "--data-dir /var/lib/umbra"):
        assert "\n" + line + "\n" in unit, line
    sysusers = subprocess.run(["systemd-sysusers", "--root=%s" % staged, "--dry-run"],
                              capture_output=True, text=True, timeout=30)
    assert sysusers.returncode == 0, sysusers.stderr
    assert "Creating user 'umbra'" in sysusers.stdout + sysusers.stderr


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    # Installed for real under a temporary prefix, so that every path the unit
    # names (ExecStart, the man pages of Documentation=) exists for verify.
    prefix = tmp_path / "usr"
    make_install("PREFIX=%s" % prefix)
    unit = prefix / "lib/systemd/system/umbrad.service"
    assert "ExecStart=%s/sbin/umbrad " % prefix in unit.read_text()
    env = dict(os.environ, MANPATH=str(prefix / "share/man"))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                       timeout=60, env=env)
    # verify exits 0 even for unknown keys: any output is a finding.
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r.stdout + r.stderr
    # The hardening keeps the exposure score under 2.0 ("OK"; --threshold counts in tenths).
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=20",
                        str(unit)], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "Overall exposure level for umbrad.service" in r.stdout


@pytest.mark.parametrize("page", ["share/man/man8/umbrad.8", "share/man/man1/umbractl.1"])
def test_man_pages_render_without_warnings(staged, page):
    path = str(staged / "usr/local" / page)
    r = subprocess.run(["groff", "-man", "-ww", "-z", path], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                       timeout=30, env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "SYNOPSIS" in r.stdout and "EXIT STATUS" in r.stdout


def test_man_pages_name_every_flag_and_command(staged):
    prefix = staged / "usr/local"
    umbrad_page = (prefix / "share/man/man8/umbrad.8").read_text()
    help_text = subprocess.run([str(prefix / "sbin/umbrad"), "--help"], capture_output=True,
                               text=True, timeout=10).stdout
    for flag in re.findall(r"^  (--[a-z-]+|-c)\b", help_text, re.M):
        assert flag.replace("-", "\\-") in umbrad_page, flag
    umbractl_page = (prefix / "share/man/man1/umbractl.1").read_text()
    help_text = subprocess.run([str(prefix / "bin/umbractl"), "--help"], capture_output=True,
                               text=True, timeout=10).stdout
    commands = re.findall(r"^  ([a-z][a-z-]+) ", help_text, re.M)
    assert len(commands) > 40
    for command in commands:
        assert command.replace("-", "\\-") in umbractl_page, command
