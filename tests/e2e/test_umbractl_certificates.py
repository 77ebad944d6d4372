"""umbractl certificate commands: ids as AWS computes them, CA checks, status, attachments."""
import hashlib
import json
import subprocess

import pytest

from conftest import UMBRACTL


def ctl(data_dir, *args):
    r = subprocess.run([UMBRACTL, "--data-dir", str(data_dir)] + list(args), capture_output=True,
                       timeout=20, text=True)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr


def sh(cmd, cwd):
    subprocess.run(cmd, shell=True, cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key"
       " -out ca.pem -days 5 -subj /CN=FactoryCA -addext basicConstraints=critical,CA:TRUE", d)
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key"
       " -out other.pem -days 5 -subj /CN=OtherCA -addext basicConstraints=critical,CA:TRUE", d)
    for name, ca in (("dev", "ca"), ("stray", "other")):
        sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s.key -out"
           " %s.csr -subj /CN=%s && openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key"
           " -CAcreateserial -out %s.pem -days 2" % (name, name, name, name, ca, ca, name), d)
    return d


def der_sha256(pem_path):
    der = subprocess.run(["openssl", "x509", "-in", str(pem_path), "-outform", "der"],
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def test_register_with_ca_attach_and_lifecycle(tmp_path, pki):
    d = tmp_path / "data"
    rc, ca, err = ctl(d, "register-ca-certificate", "--ca-certificate", "file://%s/ca.pem" % pki,
                      "--set-as-active")
    assert rc == 0, err
    assert ca["certificateId"] == der_sha256(pki / "ca.pem")
    assert ":cacert/" in ca["certificateArn"]

    rc, cert, err = ctl(d, "register-certificate", "--certificate-pem", "file://%s/dev.pem" % pki,
                        "--set-as-active")
    assert rc == 0, err
    rc, by_ca, _ = ctl(d, "list-certificates-by-ca", "--ca-certificate-id", ca["certificateId"])
    assert [c["certificateId"] for c in by_ca["certificates"]] == [cert["certificateId"]]
    assert ctl(d, "update-ca-certificate", "--certificate-id", ca["certificateId"],
               "--new-status", "INACTIVE")[0] == 0
    rc, cad, _ = ctl(d, "describe-ca-certificate", "--certificate-id", ca["certificateId"])
    assert cad["certificateDescription"]["status"] == "INACTIVE"
    rc, _, err = ctl(d, "update-ca-certificate", "--certificate-id", ca["certificateId"],
                     "--new-status", "REVOKED")
    assert rc == 1 and "(InvalidRequestException)" in err
    assert cert["certificateId"] == der_sha256(pki / "dev.pem")
    rc, desc, _ = ctl(d, "describe-certificate", "--certificate-id", cert["certificateId"])
    cd = desc["certificateDescription"]
    assert cd["status"] == "ACTIVE"
    assert cd["caCertificateId"] == ca["certificateId"]
    assert cd["certificatePem"].startswith("-----BEGIN CERTIFICATE-----")
    assert cd["validity"]["notAfter"] - cd["validity"]["notBefore"] == 2 * 86400

    # Registering it twice is refused, as AWS does.
    rc, _, err = ctl(d, "register-certificate", "--certificate-pem", "file://%s/dev.pem" % pki)
    assert rc == 1 and "(ResourceAlreadyExistsException)" in err

    assert ctl(d, "create-thing", "--thing-name", "sensor")[0] == 0
    assert ctl(d, "attach-thing-principal", "--thing-name", "sensor", "--principal",
               cert["certificateArn"])[0] == 0
    assert ctl(d, "list-thing-principals", "--thing-name", "sensor")[1] == {
        "principals": [cert["certificateArn"]]}
    assert ctl(d, "list-principal-things", "--principal", cert["certificateArn"])[1] == {
        "things": ["sensor"]}

    # ACTIVE or attached certificates cannot be deleted; attached things cannot either.
    rc, _, err = ctl(d, "delete-certificate", "--certificate-id", cert["certificateId"])
    assert rc == 1 and "(CertificateStateException)" in err
    assert ctl(d, "update-certificate", "--certificate-id", cert["certificateId"], "--new-status",
               "INACTIVE")[0] == 0
    rc, _, err = ctl(d, "delete-certificate", "--certificate-id", cert["certificateId"])
    assert rc == 1 and "(DeleteConflictException)" in err
    rc, _, err = ctl(d, "delete-thing", "--thing-name", "sensor")
    assert rc == 1 and "(InvalidRequestException)" in err
    assert ctl(d, "detach-thing-principal", "--thing-name", "sensor", "--principal",
               cert["certificateArn"])[0] == 0
    assert ctl(d, "delete-certificate", "--certificate-id", cert["certificateId"])[0] == 0
    rc, _, err = ctl(d, "describe-certificate", "--certificate-id", cert["certificateId"])
    assert rc == 1 and "(ResourceNotFoundException)" in err


def test_certificate_of_unregistered_ca_needs_without_ca(tmp_path, pki):
    d = tmp_path / "data"
    rc, _, err = ctl(d, "register-certificate", "--certificate-pem", "file://%s/stray.pem" % pki)
    assert rc == 1 and "(CertificateValidationException)" in err
    rc, out, err = ctl(d, "register-certificate-without-ca", "--certificate-pem",
                       "file://%s/stray.pem" % pki, "--status", "ACTIVE")
    assert rc == 0, err
    desc = ctl(d, "describe-certificate", "--certificate-id", out["certificateId"])[1]
    assert "caCertificateId" not in desc["certificateDescription"]


def test_status_rules_and_bad_input(tmp_path, pki):
    d = tmp_path / "data"
    rc, out, _ = ctl(d, "register-certificate-without-ca", "--certificate-pem",
                     "file://%s/dev.pem" % pki)
    cid = out["certificateId"]
    assert ctl(d, "describe-certificate", "--certificate-id", cid)[1][
        "certificateDescription"]["status"] == "INACTIVE"  # AWS's default
    assert ctl(d, "update-certificate", "--certificate-id", cid, "--new-status", "REVOKED")[0] == 0
    rc, _, err = ctl(d, "update-certificate", "--certificate-id", cid, "--new-status", "ACTIVE")
    assert rc == 1 and "(CertificateStateException)" in err
    rc, _, err = ctl(d, "update-certificate", "--certificate-id", cid, "--new-status",
                     "PENDING_TRANSFER")
    assert rc == 1 and "(InvalidRequestException)" in err
    rc, _, err = ctl(d, "describe-certificate", "--certificate-id", "abc")
    assert rc == 1 and "(InvalidRequestException)" in err
    rc, _, err = ctl(d, "register-certificate-without-ca", "--certificate-pem", "not a pem")
    assert rc == 1 and "(CertificateValidationException)" in err
    rc, _, err = ctl(d, "register-ca-certificate", "--ca-certificate", "file://%s/dev.pem" % pki)
    assert rc == 1 and "(CertificateValidationException)" in err
    rc, listing, _ = ctl(d, "list-certificates")
    assert [c["certificateId"] for c in listing["certificates"]] == [cid]
    rc, _, err = ctl(d, "attach-thing-principal", "--thing-name", "nope", "--principal", "x")
    assert rc == 1 and "(ResourceNotFoundException)" in err


def test_create_keys_and_certificate_like_the_getting_started_flow(tmp_path):
    d = tmp_path / "data"
    rc, out, err = ctl(d, "create-keys-and-certificate", "--set-as-active",
                       "--certificate-pem-outfile", str(tmp_path / "device.pem.crt"),
                       "--public-key-outfile", str(tmp_path / "public.pem.key"),
                       "--private-key-outfile", str(tmp_path / "private.pem.key"))
    assert rc == 0, err
    assert out["certificateId"] == der_sha256(tmp_path / "device.pem.crt")
    assert out["keyPair"]["PrivateKey"] == (tmp_path / "private.pem.key").read_text()
    assert (tmp_path / "private.pem.key").stat().st_mode & 0o777 == 0o600
    # RSA 2048, as AWS makes them, signed by the data directory's CA.
    text = subprocess.run(["openssl", "rsa", "-in", str(tmp_path / "private.pem.key"), "-noout",
                           "-text"], capture_output=True, text=True).stdout
    assert "2048 bit" in text
    v = subprocess.run(["openssl", "verify", "-CAfile", str(d / "ca.pem"),
                        str(tmp_path / "device.pem.crt")], capture_output=True)
    assert v.returncode == 0
    desc = ctl(d, "describe-certificate", "--certificate-id", out["certificateId"])[1]
    assert desc["certificateDescription"]["status"] == "ACTIVE"
    assert "caCertificateId" not in desc["certificateDescription"]
    # The key pair is only ever returned once: describe never shows it.
    assert "PRIVATE KEY" not in json.dumps(desc)


def test_create_certificate_from_csr(tmp_path):
    d = tmp_path / "data"
    sh("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem"
       " -out good.csr -subj /CN=thing-42", tmp_path)
    sh("openssl req -new -newkey rsa:1024 -nodes -keyout weak.key -out weak.csr -subj /CN=weak",
       tmp_path)
    rc, out, err = ctl(d, "create-certificate-from-csr", "--certificate-signing-request",
                       "file://%s/good.csr" % tmp_path, "--certificate-pem-outfile",
                       str(tmp_path / "c.pem"))
    assert rc == 0, err
    assert "CN=thing-42" in subprocess.run(["openssl", "x509", "-in", str(tmp_path / "c.pem"),
                                            "-noout", "-subject"], capture_output=True,
                                           text=True).stdout.replace(" ", "")
    assert ctl(d, "describe-certificate", "--certificate-id", out["certificateId"])[1][
        "certificateDescription"]["status"] == "INACTIVE"
    rc, _, err = ctl(d, "create-certificate-from-csr", "--certificate-signing-request",
                     "file://%s/weak.csr" % tmp_path)
    assert rc == 1 and "(InvalidRequestException)" in err and "2048" in err
    rc, _, err = ctl(d, "create-certificate-from-csr", "--certificate-signing-request", "garbage")
    assert rc == 1 and "(InvalidRequestException)" in err
