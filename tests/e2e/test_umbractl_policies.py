"""umbractl policy commands: the AWS CLI flow of policies, versions, attachments and
test-authorization, and the documents AWS refuses."""
import json
import subprocess

import pytest

from conftest import UMBRACTL


def ctl(data_dir, *args):
    r = subprocess.run([UMBRACTL, "--data-dir", str(data_dir)] + list(args), capture_output=True,
                       timeout=60, text=True)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr


def ok(data_dir, *args):
    rc, out, err = ctl(data_dir, *args)
    assert rc == 0, err
    return out


def fails(data_dir, exception, *args):
    rc, _, err = ctl(data_dir, *args)
    assert rc == 1, err
    assert "(%s)" % exception in err, err
    return err


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(effect, action, resource):
    return {"Effect": effect, "Action": action, "Resource": resource}


@pytest.fixture
def cert(tmp_path):
    out = ok(tmp_path, "create-keys-and-certificate", "--set-as-active")
    return out["certificateArn"]


def test_policy_flow_like_the_aws_cli(tmp_path, cert):
    d = tmp_path
    region_account = cert.split(":cert/")[0]  # arn:aws:iot:REGION:ACCOUNT
    topic = region_account + ":topic/"
    p1 = tmp_path / "p1.json"
    p1.write_text(doc(stmt("Allow", "iot:Connect", region_account + ":client/${iot:ClientId}"),
                      stmt("Allow", "iot:Publish", topic + "${iot:ClientId}/*")))

    out = ok(d, "create-policy", "--policy-name", "DevicePolicy", "--policy-document",
             "file://%s" % p1)
    assert out["policyName"] == "DevicePolicy"
    assert out["policyArn"] == region_account + ":policy/DevicePolicy"
    assert out["policyVersionId"] == "1"
    assert out["policyDocument"] == p1.read_text()
    fails(d, "ResourceAlreadyExistsException", "create-policy", "--policy-name", "DevicePolicy",
          "--policy-document", "file://%s" % p1)

    got = ok(d, "get-policy", "--policy-name", "DevicePolicy")
    assert got["defaultVersionId"] == "1"
    assert got["policyDocument"] == p1.read_text()
    assert {"creationDate", "lastModifiedDate", "generationId"} <= set(got)

    # Versions: a second, made default; the listing shows both, newest first.
    v2 = doc(stmt("Allow", "iot:Connect", region_account + ":client/${iot:ClientId}"),
             stmt("Allow", "iot:Publish", topic + "${iot:ClientId}/*"),
             stmt("Allow", "iot:Subscribe", region_account + ":topicfilter/${iot:ClientId}/#"))
    out = ok(d, "create-policy-version", "--policy-name", "DevicePolicy", "--policy-document", v2,
             "--set-as-default")
    assert out["policyVersionId"] == "2" and out["isDefaultVersion"] is True
    versions = ok(d, "list-policy-versions", "--policy-name", "DevicePolicy")["policyVersions"]
    assert [(v["versionId"], v["isDefaultVersion"]) for v in versions] == [("2", True),
                                                                           ("1", False)]
    assert ok(d, "get-policy-version", "--policy-name", "DevicePolicy", "--policy-version-id",
              "1")["policyDocument"] == p1.read_text()
    assert ok(d, "set-default-policy-version", "--policy-name", "DevicePolicy",
              "--policy-version-id", "1") is None
    assert ok(d, "get-policy", "--policy-name", "DevicePolicy")["defaultVersionId"] == "1"
    assert ok(d, "set-default-policy-version", "--policy-name", "DevicePolicy",
              "--policy-version-id", "2") is None
    for _ in range(3):
        ok(d, "create-policy-version", "--policy-name", "DevicePolicy", "--policy-document", v2)
    err = fails(d, "VersionsLimitExceededException", "create-policy-version", "--policy-name",
                "DevicePolicy", "--policy-document", v2)
    assert "The policy DevicePolicy already has the maximum number of versions (5)" in err
    fails(d, "InvalidRequestException", "delete-policy-version", "--policy-name", "DevicePolicy",
          "--policy-version-id", "2")
    for v in ("1", "3", "4", "5"):
        ok(d, "delete-policy-version", "--policy-name", "DevicePolicy", "--policy-version-id", v)
    fails(d, "ResourceNotFoundException", "get-policy-version", "--policy-name", "DevicePolicy",
          "--policy-version-id", "1")

    # A deny-only policy, and attachments to the certificate.
    ok(d, "create-policy", "--policy-name", "NoSecrets", "--policy-document",
       doc(stmt("Deny", "iot:Publish", topic + "${iot:ClientId}/secret")))
    ok(d, "create-policy", "--policy-name", "Unattached", "--policy-document",
       doc(stmt("Allow", "iot:Receive", "*")))
    for name in ("DevicePolicy", "NoSecrets"):
        assert ok(d, "attach-policy", "--policy-name", name, "--target", cert) is None
    ok(d, "attach-policy", "--policy-name", "NoSecrets", "--target", cert)  # idempotent
    attached = ok(d, "list-attached-policies", "--target", cert)["policies"]
    assert [p["policyName"] for p in attached] == ["DevicePolicy", "NoSecrets"]
    assert attached[0]["policyArn"] == region_account + ":policy/DevicePolicy"
    page = ok(d, "list-attached-policies", "--target", cert, "--page-size", "1", "--recursive")
    assert len(page["policies"]) == 1 and page["nextMarker"] == "DevicePolicy"
    page = ok(d, "list-attached-policies", "--target", cert, "--marker", page["nextMarker"])
    assert [p["policyName"] for p in page["policies"]] == ["NoSecrets"]
    assert ok(d, "list-targets-for-policy", "--policy-name", "DevicePolicy") == {"targets": [cert]}
    eff = ok(d, "get-effective-policies", "--principal", cert)["effectivePolicies"]
    assert [p["policyName"] for p in eff] == ["DevicePolicy", "NoSecrets"]
    assert eff[0]["policyDocument"] == v2

    listed = ok(d, "list-policies", "--ascending-order")["policies"]
    assert [p["policyName"] for p in listed] == ["DevicePolicy", "NoSecrets", "Unattached"]
    listed = ok(d, "list-policies", "--page-size", "2")
    assert [p["policyName"] for p in listed["policies"]] == ["Unattached", "NoSecrets"]
    listed = ok(d, "list-policies", "--page-size", "2", "--marker", listed["nextMarker"])
    assert [p["policyName"] for p in listed["policies"]] == ["DevicePolicy"]

    # test-authorization with ${iot:ClientId}.
    infos = [{"actionType": "PUBLISH", "resources": [topic + "sensor-1/temp"]},
             {"actionType": "PUBLISH", "resources": [topic + "sensor-2/temp"]},
             {"actionType": "PUBLISH", "resources": [topic + "sensor-1/secret"]},
             {"actionType": "CONNECT", "resources": [region_account + ":client/sensor-1"]},
             {"actionType": "SUBSCRIBE", "resources": [region_account + ":topicfilter/sensor-1/#"]},
             {"actionType": "RECEIVE", "resources": [topic + "sensor-1/temp"]}]
    out = ok(d, "test-authorization", "--principal", cert, "--client-id", "sensor-1",
             "--auth-infos", json.dumps(infos))
    results = out["authResults"]
    assert [r["authDecision"] for r in results] == [
        "ALLOWED", "IMPLICIT_DENY", "EXPLICIT_DENY", "ALLOWED", "ALLOWED", "IMPLICIT_DENY"]
    first = results[0]
    assert first["authInfo"] == infos[0]
    assert first["allowed"]["policies"] == [
        {"policyName": "DevicePolicy", "policyArn": region_account + ":policy/DevicePolicy"}]
    assert [p["policyName"] for p in first["denied"]["implicitDeny"]["policies"]] == ["NoSecrets"]
    assert first["denied"]["explicitDeny"]["policies"] == []
    assert first["missingContextValues"] == []
    assert [p["policyName"] for p in results[2]["denied"]["explicitDeny"]["policies"]] == [
        "NoSecrets"]

    out = ok(d, "test-authorization", "--principal", cert, "--client-id", "sensor-1",
             "--auth-infos", json.dumps([infos[2], infos[5]]),
             "--policy-names-to-skip", '["NoSecrets"]', "--policy-names-to-add", '["Unattached"]')
    assert [r["authDecision"] for r in out["authResults"]] == ["ALLOWED", "ALLOWED"]
    # Another client id gets its own topics only.
    out = ok(d, "test-authorization", "--principal", cert, "--client-id", "sensor-2",
             "--auth-infos", json.dumps(infos[:2]))
    assert [r["authDecision"] for r in out["authResults"]] == ["IMPLICIT_DENY", "ALLOWED"]
    fails(d, "InvalidRequestException", "test-authorization", "--principal", cert,
          "--auth-infos", '[{"actionType": "RETAIN", "resources": ["*"]}]')
    fails(d, "InvalidRequestException", "test-authorization", "--auth-infos", "[]")

    # Delete rules: attached, then extra versions, then gone.
    err = fails(d, "DeleteConflictException", "delete-policy", "--policy-name", "DevicePolicy")
    assert "attached to one or more principals (name=DevicePolicy)" in err
    assert ok(d, "detach-policy", "--policy-name", "DevicePolicy", "--target", cert) is None
    assert [p["policyName"] for p in
            ok(d, "list-attached-policies", "--target", cert)["policies"]] == ["NoSecrets"]
    assert ok(d, "list-targets-for-policy", "--policy-name", "DevicePolicy") == {"targets": []}
    ok(d, "create-policy-version", "--policy-name", "DevicePolicy", "--policy-document", v2)
    err = fails(d, "DeleteConflictException", "delete-policy", "--policy-name", "DevicePolicy")
    assert "one or more policy versions attached to it (name=DevicePolicy)" in err
    ok(d, "delete-policy-version", "--policy-name", "DevicePolicy", "--policy-version-id", "6")
    assert ok(d, "delete-policy", "--policy-name", "DevicePolicy") is None
    fails(d, "ResourceNotFoundException", "get-policy", "--policy-name", "DevicePolicy")


def test_attach_needs_a_registered_certificate(tmp_path, cert):
    d = tmp_path
    ok(d, "create-policy", "--policy-name", "P", "--policy-document",
       doc(stmt("Allow", "iot:Connect", "*")))
    fails(d, "ResourceNotFoundException", "attach-policy", "--policy-name", "P", "--target",
          cert[:-1] + ("0" if cert[-1] != "0" else "1"))
    fails(d, "ResourceNotFoundException", "attach-policy", "--policy-name", "P", "--target",
          "us-east-1:0b5bd2d7-aaaa-bbbb-cccc-0123456789ab")
    fails(d, "ResourceNotFoundException", "attach-policy", "--policy-name", "Nope", "--target",
          cert)
    for i in range(10):
        ok(d, "create-policy", "--policy-name", "L%d" % i, "--policy-document",
           doc(stmt("Allow", "iot:Connect", "*")))
        ok(d, "attach-policy", "--policy-name", "L%d" % i, "--target", cert)
    fails(d, "LimitExceededException", "attach-policy", "--policy-name", "P", "--target", cert)
    rc, _, err = ctl(d, "attach-policy", "--policy-name", "P")
    assert rc == 2 and "--target" in err


MALFORMED = {
    "bad JSON": '{"Version": "2012-10-17", "Statement": [',
    "Effect Maybe": doc(stmt("Maybe", "iot:Connect", "*")),
    "missing Resource": doc({"Effect": "Allow", "Action": "iot:Connect"}),
    "resource foo": doc(stmt("Allow", "iot:Connect", "foo")),
    "too long": doc(stmt("Allow", "iot:Publish",
                         ["arn:aws:iot:us-east-1:123456789012:topic/t%04d" % i
                          for i in range(60)])),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_documents_are_refused(tmp_path, case):
    text = MALFORMED[case]
    if case == "too long":
        assert len("".join(text.split())) > 2048
    err = fails(tmp_path, "MalformedPolicyException", "create-policy", "--policy-name", "M",
                "--policy-document", text)
    assert err.startswith("An error occurred (MalformedPolicyException) when calling the "
                          "CreatePolicy operation: ")
    fails(tmp_path, "ResourceNotFoundException", "get-policy", "--policy-name", "M")
    ok(tmp_path, "create-policy", "--policy-name", "M", "--policy-document",
       doc(stmt("Allow", "iot:Connect", "*")))
    err = fails(tmp_path, "MalformedPolicyException", "create-policy-version", "--policy-name", "M",
                "--policy-document", text)
    assert "CreatePolicyVersion" in err
