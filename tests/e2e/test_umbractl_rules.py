"""Topic rules in the registry: umbractl's create/get/list/replace/delete/enable/disable-topic-rule,
with the AWS CLI's payload, output and errors."""
import json
import subprocess

import pytest

from conftest import UMBRACTL

# The lecture's two rules, as the AWS console would create them.
NOTIFY = {"sql": "SELECT * FROM '#'", "description": "send every message on",
          "awsIotSqlVersion": "2016-03-23", "ruleDisabled": False,
          "actions": [{"http": {"url": "https://127.0.0.1:8443/notify"}}]}
SAVE = {"sql": "SELECT * FROM '#'", "awsIotSqlVersion": "2016-03-23",
        "actions": [{"dynamoDB": {"tableName": "MotionData", "roleArn": "arn:aws:iam::1:role/r",
                                  "hashKeyField": "topic", "hashKeyValue": "${topic()}",
                                  "rangeKeyField": "timestamp", "rangeKeyValue": "${timestamp()}"}}]}


def republish_to(topic):
    return {"republish": {"topic": topic, "roleArn": "arn:aws:iam::1:role/r"}}


def run(d, *args):
    return subprocess.run([UMBRACTL, "--data-dir", str(d)] + list(args), capture_output=True,
                          text=True, timeout=30)


def ok(d, *args):
    r = run(d, *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else None


def fails(d, exception, *args):
    r = run(d, *args)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "An error occurred (%s)" % exception in r.stderr, r.stderr
    return r.stderr


def test_rule_lifecycle_like_the_aws_cli(tmp_path):
    d = tmp_path
    payload = tmp_path / "rule.json"
    payload.write_text(json.dumps(NOTIFY))
    assert ok(d, "create-topic-rule", "--rule-name", "notify", "--topic-rule-payload",
              "file://" + str(payload)) is None
    ok(d, "create-topic-rule", "--rule-name", "save", "--topic-rule-payload", json.dumps(SAVE))
    got = ok(d, "get-topic-rule", "--rule-name", "notify")
    account = got["ruleArn"].split(":")[4]
    assert got["ruleArn"] == "arn:aws:iot:us-east-1:%s:rule/notify" % account
    rule = got["rule"]
    assert rule["ruleName"] == "notify" and rule["sql"] == NOTIFY["sql"]
    assert rule["description"] == NOTIFY["description"] and rule["ruleDisabled"] is False
    assert rule["actions"] == NOTIFY["actions"] and rule["awsIotSqlVersion"] == "2016-03-23"
    assert isinstance(rule["createdAt"], int)
    rules = ok(d, "list-topic-rules")["rules"]
    assert [r["ruleName"] for r in rules] == ["notify", "save"]
    assert rules[0]["topicPattern"] == "#" and rules[0]["ruleDisabled"] is False

    ok(d, "disable-topic-rule", "--rule-name", "save")
    assert ok(d, "get-topic-rule", "--rule-name", "save")["rule"]["ruleDisabled"] is True
    assert [r["ruleName"] for r in ok(d, "list-topic-rules", "--rule-disabled")["rules"]] == ["save"]
    ok(d, "enable-topic-rule", "--rule-name", "save")
    assert ok(d, "get-topic-rule", "--rule-name", "save")["rule"]["ruleDisabled"] is False

    replaced = dict(NOTIFY, sql="SELECT temp FROM 'sensors/+/data' WHERE temp > 30")
    ok(d, "replace-topic-rule", "--rule-name", "notify", "--topic-rule-payload", json.dumps(replaced))
    assert ok(d, "get-topic-rule", "--rule-name", "notify")["rule"]["sql"] == replaced["sql"]
    assert [r["ruleName"] for r in
            ok(d, "list-topic-rules", "--topic", "sensors/+/data")["rules"]] == ["notify"]
    page = ok(d, "list-topic-rules", "--max-results", "1")
    assert [r["ruleName"] for r in page["rules"]] == ["notify"] and page["nextToken"]
    page2 = ok(d, "list-topic-rules", "--max-results", "1", "--next-token", page["nextToken"])
    assert [r["ruleName"] for r in page2["rules"]] == ["save"] and "nextToken" not in page2

    ok(d, "delete-topic-rule", "--rule-name", "notify")
    msg = fails(d, "UnauthorizedException", "get-topic-rule", "--rule-name", "notify")
    assert "Access to topic rule 'notify' was denied" in msg
    fails(d, "UnauthorizedException", "delete-topic-rule", "--rule-name", "notify")
    fails(d, "UnauthorizedException", "enable-topic-rule", "--rule-name", "notify")
    fails(d, "UnauthorizedException", "replace-topic-rule", "--rule-name", "notify",
          "--topic-rule-payload", json.dumps(NOTIFY))
    fails(d, "ResourceAlreadyExistsException", "create-topic-rule", "--rule-name", "save",
          "--topic-rule-payload", json.dumps(SAVE))


@pytest.mark.parametrize("name, payload, exception, says", [
    ("bad-name", NOTIFY, "InvalidRequestException", "^[a-zA-Z0-9_]+$"),
    ("r", {"sql": "SELEC * FROM '#'", "actions": []}, "SqlParseException", "at 1:1"),
    ("r", {"sql": "SELECT nosuch(x) FROM '#'", "actions": []}, "SqlParseException",
     "Unknown function nosuch()"),
    ("r", {"sql": "SELECT * FROM '#' WHERE", "actions": []}, "SqlParseException", "at 1:24"),
    ("r", {"actions": []}, "InvalidRequestException", "sql"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [{"lambda": {"functionArn": "arn:x"}}]},
     "InvalidRequestException", "supported: republish, http, dynamoDB, dynamoDBv2, s3, postgres)"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [{"http": {"url": "ftp://h/x"}}]},
     "InvalidRequestException", "http.url must be an https:// (or http://) URL"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [{"http": {"url": "https://h/" + "x" * 2000}}]},
     "InvalidRequestException", "at most 2000"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [
        {"http": {"url": "https://h/", "headers": [{"key": "a: b", "value": "v"}]}}]},
     "InvalidRequestException", "http.headers[0] needs a key"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [
        {"http": {"url": "https://h/", "headers": [{"key": "x-a", "value": "${nope()}"}]}}]},
     "InvalidRequestException", "Unknown function nope()"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [
        {"http": {"url": "https://h/", "headers": [{"key": "k", "value": "v"}] * 101}}]},
     "InvalidRequestException", "at most 100"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [{"dynamoDBv2": {"roleArn": "x", "putItem": {}}}]},
     "InvalidRequestException", "dynamoDBv2.putItem.tableName is required"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [
        {"postgres": {"connectionString": "dbname=x", "table": "a b"}}]},
     "InvalidRequestException", "must be SQL names"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [
        {"postgres": {"connectionString": "dbname=x", "table": "t",
                      "columns": [{"name": "x\"; DROP", "value": "1"}]}}]},
     "InvalidRequestException", "postgres.columns[0] needs a name"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [{"postgres": {"table": "t"}}]},
     "InvalidRequestException", "postgres.connectionString is required"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [{"republish": {"topic": "a"}}]},
     "InvalidRequestException", "republish.roleArn is required"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [{"republish": {"topic": "a", "roleArn": "x",
                                                                   "qos": 2}}]},
     "InvalidRequestException", "qos must be 0 or 1"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [{"http": {"url": "u"}}] * 11},
     "InvalidRequestException", "at most 10 actions"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [{}]}, "InvalidRequestException",
     "exactly one action"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [republish_to("a/${topic(2)")]},
     "InvalidRequestException", "republish.topic: Unclosed ${ at 1:3"),
    ("r", {"sql": "SELECT * FROM '#'", "actions": [republish_to("a/${nope()}")]},
     "InvalidRequestException", "Unknown function nope()"),
    ("r", {"sql": "SELECT * FROM '#'", "errorAction": {"sns": {}}}, "InvalidRequestException",
     "errorAction: action sns is not supported"),
    ("r", {"sql": "SELECT * FROM '#'", "awsIotSqlVersion": "2020"}, "InvalidRequestException",
     "awsIotSqlVersion"),
    ("r", {"sql": "SELECT * FROM '#'", "ruleDisabled": "no"}, "InvalidRequestException",
     "ruleDisabled"),
])
def test_bad_rules_are_refused_with_aws_errors(tmp_path, name, payload, exception, says):
    msg = fails(tmp_path, exception, "create-topic-rule", "--rule-name", name,
                "--topic-rule-payload", json.dumps(payload))
    assert says in msg, msg
    assert ok(tmp_path, "list-topic-rules")["rules"] == []


def test_payload_must_be_json(tmp_path):
    r = run(tmp_path, "create-topic-rule", "--rule-name", "r", "--topic-rule-payload", "{nope")
    assert r.returncode == 2 and "invalid JSON" in r.stderr
