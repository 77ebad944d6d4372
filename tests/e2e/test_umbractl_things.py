"""umbractl thing commands: AWS CLI names, flags, JSON output and errors."""
import json
import subprocess

from conftest import UMBRACTL


def ctl(data_dir, *args):
    r = subprocess.run([UMBRACTL, "--data-dir", str(data_dir)] + list(args), capture_output=True,
                       timeout=20, text=True)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr


def test_thing_lifecycle_like_the_aws_cli(tmp_path):
    rc, out, _ = ctl(tmp_path, "create-thing", "--thing-name", "MotionSensor",
                     "--attribute-payload", '{"attributes": {"room": "hall"}}')
    assert rc == 0
    assert out["thingName"] == "MotionSensor"
    assert out["thingArn"].startswith("arn:aws:iot:us-east-1:")
    assert out["thingArn"].endswith(":thing/MotionSensor")
    assert len(out["thingId"]) == 36
    rc, desc, _ = ctl(tmp_path, "describe-thing", "--thing-name", "MotionSensor")
    assert rc == 0
    assert desc["defaultClientId"] == "MotionSensor"
    assert desc["attributes"] == {"room": "hall"}
    assert desc["version"] == 1

    payload = tmp_path / "attrs.json"
    payload.write_text('{"attributes": {"floor": "2"}, "merge": true}')
    rc, out, _ = ctl(tmp_path, "update-thing", "--thing-name", "MotionSensor",
                     "--attribute-payload", "file://%s" % payload, "--expected-version", "1")
    assert rc == 0 and out is None  # AWS prints nothing for an empty response
    rc, desc, _ = ctl(tmp_path, "describe-thing", "--thing-name", "MotionSensor")
    assert desc["attributes"] == {"room": "hall", "floor": "2"} and desc["version"] == 2

    rc, listing, _ = ctl(tmp_path, "list-things", "--attribute-name", "room", "--attribute-value",
                         "hall")
    assert [t["thingName"] for t in listing["things"]] == ["MotionSensor"]

    assert ctl(tmp_path, "delete-thing", "--thing-name", "MotionSensor")[0] == 0
    rc, _, err = ctl(tmp_path, "describe-thing", "--thing-name", "MotionSensor")
    assert rc == 1
    assert err.startswith("An error occurred (ResourceNotFoundException) when calling the "
                          "DescribeThing operation:")


def test_errors_and_usage(tmp_path):
    assert ctl(tmp_path, "create-thing", "--thing-name", "t")[0] == 0
    rc, _, err = ctl(tmp_path, "update-thing", "--thing-name", "t", "--expected-version", "5")
    assert rc == 1 and "(VersionConflictException)" in err
    rc, _, err = ctl(tmp_path, "create-thing", "--thing-name", "bad name")
    assert rc == 1 and "(InvalidRequestException)" in err
    rc, _, err = ctl(tmp_path, "create-thing")
    assert rc == 2 and "--thing-name" in err
    rc, _, err = ctl(tmp_path, "create-thing", "--thing-name", "x", "--attribute-payload", "{oops")
    assert rc == 2 and "invalid JSON" in err
    rc, _, err = ctl(tmp_path, "create-thing", "--thing-name", "x", "--bogus", "1")
    assert rc == 2 and "unknown option" in err
    rc, _, err = ctl(tmp_path, "update-thing", "--thing-name", "x", "--expected-version", "two")
    assert rc == 2
    rc, _, err = ctl(tmp_path, "create-thing", "--thing-name", "x", "--attribute-payload",
                     "file:///nonexistent.json")
    assert rc == 2 and "cannot read" in err


def test_registry_shared_with_a_running_daemon(broker):
    rc, out, _ = ctl(broker.data_dir, "create-thing", "--thing-name", "live")
    assert rc == 0
    broker.restart()
    rc, desc, _ = ctl(broker.data_dir, "describe-thing", "--thing-name", "live")
    assert rc == 0 and desc["thingId"] == out["thingId"]
