"""umbractl: thing types, describe-endpoint, CA deletion, --output text, --help, the data dir."""
import json
import os
import subprocess

import pytest

from conftest import UMBRACTL


def ctl(data_dir, *args, env=None):
    r = subprocess.run([UMBRACTL, "--data-dir", str(data_dir)] + list(args), capture_output=True,
                       timeout=20, text=True, env=env)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip().startswith("{") else r.stdout), r.stderr


def test_thing_type_lifecycle(tmp_path):
    rc, out, _ = ctl(tmp_path, "create-thing-type", "--thing-type-name", "MotionSensor",
                     "--thing-type-properties",
                     '{"thingTypeDescription": "PIR sensor", "searchableAttributes": ["room"]}')
    assert rc == 0
    assert out["thingTypeArn"].endswith(":thingtype/MotionSensor")
    type_id = out["thingTypeId"]
    # Same name and properties again: the same type, as AWS answers.
    rc, again, _ = ctl(tmp_path, "create-thing-type", "--thing-type-name", "MotionSensor",
                       "--thing-type-properties",
                       '{"thingTypeDescription": "PIR sensor", "searchableAttributes": ["room"]}')
    assert rc == 0 and again["thingTypeId"] == type_id
    rc, _, err = ctl(tmp_path, "create-thing-type", "--thing-type-name", "MotionSensor")
    assert rc == 1 and "(ResourceAlreadyExistsException)" in err

    rc, desc, _ = ctl(tmp_path, "describe-thing-type", "--thing-type-name", "MotionSensor")
    assert desc["thingTypeProperties"] == {"thingTypeDescription": "PIR sensor",
                                           "searchableAttributes": ["room"]}
    assert desc["thingTypeMetadata"]["deprecated"] is False
    assert isinstance(desc["thingTypeMetadata"]["creationDate"], int)

    # A typed thing may have up to 50 attributes; an untyped one 3.
    attrs = {"a%d" % i: "v" for i in range(10)}
    rc, _, err = ctl(tmp_path, "create-thing", "--thing-name", "untyped", "--attribute-payload",
                     json.dumps({"attributes": attrs}))
    assert rc == 1 and "(InvalidRequestException)" in err
    assert ctl(tmp_path, "create-thing", "--thing-name", "hall", "--thing-type-name",
               "MotionSensor", "--attribute-payload", json.dumps({"attributes": attrs}))[0] == 0
    assert ctl(tmp_path, "create-thing", "--thing-name", "plain")[0] == 0
    rc, listing, _ = ctl(tmp_path, "list-things", "--thing-type-name", "MotionSensor")
    assert [t["thingName"] for t in listing["things"]] == ["hall"]
    assert listing["things"][0]["thingTypeName"] == "MotionSensor"

    rc, _, err = ctl(tmp_path, "create-thing", "--thing-name", "x", "--thing-type-name", "Nope")
    assert rc == 1 and "(ResourceNotFoundException)" in err

    # Deprecated: no new things of it, existing ones keep it; undo brings it back.
    assert ctl(tmp_path, "deprecate-thing-type", "--thing-type-name", "MotionSensor")[0] == 0
    rc, _, err = ctl(tmp_path, "create-thing", "--thing-name", "new", "--thing-type-name",
                     "MotionSensor")
    assert rc == 1 and "depreated thing type:MotionSensor" in err
    rc, _, err = ctl(tmp_path, "update-thing", "--thing-name", "plain", "--thing-type-name",
                     "MotionSensor")
    assert rc == 1 and "(InvalidRequestException)" in err
    rc, desc, _ = ctl(tmp_path, "describe-thing-type", "--thing-type-name", "MotionSensor")
    assert desc["thingTypeMetadata"]["deprecated"] is True
    assert "deprecationDate" in desc["thingTypeMetadata"]
    assert ctl(tmp_path, "deprecate-thing-type", "--thing-type-name", "MotionSensor",
               "--undo-deprecate")[0] == 0
    assert ctl(tmp_path, "update-thing", "--thing-name", "plain", "--thing-type-name",
               "MotionSensor")[0] == 0
    assert ctl(tmp_path, "update-thing", "--thing-name", "plain", "--remove-thing-type")[0] == 0

    # Delete: only deprecated, and only once no thing uses it.
    rc, _, err = ctl(tmp_path, "delete-thing-type", "--thing-type-name", "MotionSensor")
    assert rc == 1 and "deprecated" in err
    ctl(tmp_path, "deprecate-thing-type", "--thing-type-name", "MotionSensor")
    rc, _, err = ctl(tmp_path, "delete-thing-type", "--thing-type-name", "MotionSensor")
    assert rc == 1 and "associated" in err
    assert ctl(tmp_path, "delete-thing", "--thing-name", "hall")[0] == 0
    assert ctl(tmp_path, "delete-thing-type", "--thing-type-name", "MotionSensor")[0] == 0
    rc, _, err = ctl(tmp_path, "describe-thing-type", "--thing-type-name", "MotionSensor")
    assert rc == 1 and "(ResourceNotFoundException)" in err


def test_list_thing_types_pages(tmp_path):
    for n in ("a", "b", "c"):
        assert ctl(tmp_path, "create-thing-type", "--thing-type-name", n)[0] == 0
    rc, page, _ = ctl(tmp_path, "list-thing-types", "--max-results", "2")
    assert [t["thingTypeName"] for t in page["thingTypes"]] == ["a", "b"]
    rc, page, _ = ctl(tmp_path, "list-thing-types", "--max-results", "2", "--next-token",
                      page["nextToken"])
    assert [t["thingTypeName"] for t in page["thingTypes"]] == ["c"] and "nextToken" not in page
    rc, page, _ = ctl(tmp_path, "list-thing-types", "--thing-type-name", "b")
    assert [t["thingTypeName"] for t in page["thingTypes"]] == ["b"]


@pytest.mark.parametrize("args", [
    ["create-thing-type", "--thing-type-name", "bad name"],
    ["create-thing-type", "--thing-type-name", "t", "--thing-type-properties",
     '{"searchableAttributes": ["a", "b", "c", "d"]}'],
    ["create-thing-type", "--thing-type-name", "t", "--thing-type-properties",
     '{"thingTypeDescription": "%s"}' % ("x" * 2029)],
    ["create-thing", "--thing-name", "t", "--attribute-payload", '{"attributes": {"k": "a b"}}'],
    ["list-thing-types", "--max-results", "0"],
])
def test_invalid_requests_are_aws_errors(tmp_path, args):
    rc, _, err = ctl(tmp_path, *args)
    assert rc == 1
    assert err.startswith("An error occurred (InvalidRequestException)")


def test_attribute_values_take_equals_and_brackets(tmp_path):
    assert ctl(tmp_path, "create-thing", "--thing-name", "t", "--attribute-payload",
               '{"attributes": {"pos": "a[1]=2"}}')[0] == 0
    rc, _, err = ctl(tmp_path, "create-thing", "--thing-name", "u", "--attribute-payload",
                     '{"attributes": {"bad key": "v"}}')
    assert rc == 1
    assert "1 validation error detected: Value 'bad key'" in err


def test_describe_endpoint_names_the_server_certificate(start_broker):
    b = start_broker("--hosts", "localhost,127.0.0.1,devices.example.test", tls=True)
    rc, out, _ = ctl(b.data_dir, "describe-endpoint", "--endpoint-type", "iot:Data-ATS")
    assert rc == 0 and out == {"endpointAddress": "devices.example.test"}
    assert ctl(b.data_dir, "describe-endpoint")[1] == out
    rc, _, err = ctl(b.data_dir, "describe-endpoint", "--endpoint-type", "iot:Bogus")
    assert rc == 1 and "Endpoint type iot:Bogus not recognized." in err
    # The first start said the same, with the CA path and the next command.
    logs = b.logs()
    assert "endpoint devices.example.test, port %d" % b.tls_port in logs
    assert "devices trust %s/ca.pem" % b.data_dir in logs
    assert "create-keys-and-certificate" in logs


def test_output_text_is_the_aws_cli_layout(tmp_path):
    ctl(tmp_path, "create-thing", "--thing-name", "b", "--attribute-payload",
        '{"attributes": {"room": "hall", "floor": "2"}}')
    ctl(tmp_path, "create-thing", "--thing-name", "a")
    rc, text, _ = ctl(tmp_path, "list-things", "--output", "text")
    assert rc == 0
    lines = text.splitlines()
    # Shared columns per list item (thingArn, thingName, thingTypeName, version), sorted by
    # key; nested objects follow under their upper-cased key, values in key order.
    assert lines[0].split("\t")[0] == "THINGS" and lines[0].split("\t")[2:] == ["a", "1"]
    assert lines[1].split("\t")[2:] == ["b", "1"]
    assert lines[2] == "ATTRIBUTES\t2\thall"
    rc, text, _ = ctl(tmp_path, "--output", "text", "describe-thing", "--thing-name", "a")
    assert text.split("\t")[-2:] == ["a", "1\n"]
    rc, _, err = ctl(tmp_path, "list-things", "--output", "yaml-stream")
    assert rc == 2 and "--output" in err


def test_delete_ca_certificate_only_when_inactive(tmp_path):
    ca = tmp_path / "ca.pem"
    subprocess.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                   "-keyout ca.key -out ca.pem -days 30 -subj /CN=fleet-ca "
                   "-addext basicConstraints=critical,CA:TRUE", shell=True, cwd=tmp_path,
                   check=True, capture_output=True)
    rc, out, err = ctl(tmp_path, "register-ca-certificate", "--ca-certificate", "file://%s" % ca,
                       "--set-as-active")
    assert rc == 0, err
    cid = out["certificateId"]
    rc, _, err = ctl(tmp_path, "delete-ca-certificate", "--certificate-id", cid)
    assert rc == 1 and "(CertificateStateException)" in err
    assert ctl(tmp_path, "update-ca-certificate", "--certificate-id", cid, "--new-status",
               "INACTIVE")[0] == 0
    assert ctl(tmp_path, "delete-ca-certificate", "--certificate-id", cid)[0] == 0
    rc, _, err = ctl(tmp_path, "describe-ca-certificate", "--certificate-id", cid)
    assert rc == 1 and "(ResourceNotFoundException)" in err


def test_every_command_has_help():
    r = subprocess.run([UMBRACTL, "--help"], capture_output=True, text=True, timeout=10)
    commands = [line.split()[0] for line in r.stdout.splitlines()
                if line.startswith("  ") and not line.strip().startswith("umbractl")]
    wanted = """create-thing describe-thing list-things update-thing delete-thing create-thing-type
        describe-thing-type list-thing-types create-keys-and-certificate create-certificate-from-csr
        register-certificate register-certificate-without-ca register-ca-certificate
        update-ca-certificate list-ca-certificates describe-certificate list-certificates
        list-certificates-by-ca update-certificate delete-certificate attach-thing-principal
        detach-thing-principal list-thing-principals list-principal-things
        describe-endpoint""".split()
    assert set(wanted) <= set(commands), set(wanted) - set(commands)
    for c in commands:
        h = subprocess.run([UMBRACTL, c, "--help"], capture_output=True, text=True, timeout=10)
        assert h.returncode == 0, c
        assert h.stdout.startswith("usage: umbractl %s" % c)


def test_data_dir_from_the_environment(tmp_path):
    env = dict(os.environ, UMBRA_DATA_DIR=str(tmp_path / "env-dir"))
    r = subprocess.run([UMBRACTL, "create-thing", "--thing-name", "from-env"], capture_output=True,
                       text=True, timeout=20, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(tmp_path / "env-dir" / "umbra.db")
    # --data-dir wins over the environment.
    r = subprocess.run([UMBRACTL, "--data-dir", str(tmp_path / "flag-dir"), "list-things"],
                       capture_output=True, text=True, timeout=20, env=env)
    assert json.loads(r.stdout) == {"things": []}
    # Neither: ./var, like umbrad.
    env.pop("UMBRA_DATA_DIR")
    r = subprocess.run([UMBRACTL, "list-things"], capture_output=True, text=True, timeout=20,
                       env=env, cwd=tmp_path)
    assert r.returncode == 0 and os.path.exists(tmp_path / "var" / "umbra.db")
