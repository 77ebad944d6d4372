"""The postgres action (an Umbra extension) against a real PostgreSQL server: column mapping with
templates, PostgreSQL's own type conversion, tables made on first use, a batch with one bad row,
and a database that is down reaching errorAction."""
import json
import time

import pytest

from conftest import SLOW, free_port
from mqtt_raw import Client, publish
from pg_server import PgServer
from test_rule_sinks import counters
from test_rules import republish, rule, wait_loaded
from test_shadows import listen, next_publish


@pytest.fixture(scope="module")
def pg():
    server = PgServer()
    yield server
    server.stop()


def postgres(conninfo, table, columns=None, payload_column=None):
    action = {"connectionString": conninfo, "table": table}
    if columns is not None:
        action["columns"] = [{"name": n, "value": v} for n, v in columns]
    if payload_column:
        action["payloadColumn"] = payload_column
    return {"postgres": action}


def wait_rows(pg, query, n, timeout=10.0):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        got = pg.sql(query)
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def test_rows_go_to_typed_columns(broker, pg):
    b = broker
    pg.sql("CREATE TABLE readings (device text, temp double precision, seen bigint, doc jsonb)")
    rule(b, "pg", "SELECT temp, hum FROM 'pg/+/data'",
         postgres(pg.conninfo, "readings",
                  [("device", "${topic(2)}"), ("temp", "${temp}"), ("seen", "${timestamp()}")],
                  "doc"))
    wait_loaded(b)
    pub = Client(b.port)
    pub.connect("p")
    pub.send(publish("pg/d1/data", b'{"temp": 21.5, "hum": 40}', qos=1, pid=1))
    pub.send(publish("pg/d2/data", b'{"temp": -3, "hum": 90}', qos=1, pid=2))
    got = wait_rows(pg, "SELECT device, temp, seen, doc FROM readings ORDER BY device", 2)
    assert [(r[0], float(r[1])) for r in got] == [("d1", 21.5), ("d2", -3.0)]
    assert all(abs(int(r[2]) / 1000 - time.time()) < 60 for r in got)
    assert json.loads(got[0][3]) == {"temp": 21.5, "hum": 40}
    assert counters(b, "pg", {"matched": 2, "succeeded": 2, "failed": 0, "dropped": 0})


def test_missing_table_is_made_on_first_use(broker, pg):
    b = broker
    rule(b, "auto", "SELECT * FROM 'auto/#'", postgres(pg.conninfo, "Auto_Events",
                                                       [("topic", "${topic()}")]))
    wait_loaded(b)
    pub = Client(b.port)
    pub.connect("p")
    pub.send(publish("auto/x", b'{"v": 1}'))
    # No payloadColumn with a column mapping: just the columns; names fold to lower case.
    assert wait_rows(pg, "SELECT topic FROM auto_events", 1) == [["auto/x"]]
    rule(b, "whole", "SELECT * FROM 'whole/#'", postgres(pg.conninfo, "whole_docs"))
    wait_loaded(b)
    pub.send(publish("whole/x", b'{"v": 2}'))
    got = wait_rows(pg, "SELECT payload FROM whole_docs", 1)
    assert [json.loads(r[0]) for r in got] == [{"v": 2}]


def test_many_rows_and_one_bad_row(broker, pg):
    """Rows are written in batches; a row its table refuses fails alone (to errorAction) and the
    rest of its batch is written."""
    b = broker
    pg.sql("CREATE TABLE counts (n integer NOT NULL)")
    rule(b, "many", "SELECT * FROM 'many/#'", postgres(pg.conninfo, "counts", [("n", "${n}")]),
         error_action=republish("errors/pg"))
    wait_loaded(b)
    sub = listen(b, "s", "errors/#")
    pub = Client(b.port)
    pub.connect("p")
    for i in range(500):
        n = '"not a number"' if i == 250 else str(i)
        pub.send(publish("many/x", b'{"n": %s}' % n.encode()))
    got = wait_rows(pg, "SELECT count(*), sum(n) FROM counts WHERE true HAVING count(*) >= 499", 1)
    assert got == [["499", str(sum(range(500)) - 250)]]
    doc = json.loads(next_publish(sub).payload)
    assert doc["failures"][0]["failedAction"] == "PostgresAction"
    assert doc["failures"][0]["failedResource"] == "counts"
    assert "integer" in doc["failures"][0]["errorMessage"]
    assert counters(b, "many", {"matched": 500, "succeeded": 499, "failed": 1, "dropped": 0})


def test_database_down_fails_fast_to_error_action(broker):
    b = broker
    down = "host=127.0.0.1 port=%d dbname=iot user=umbra" % free_port()
    rule(b, "down", "SELECT * FROM 'down/#'", postgres(down, "t"),
         republish("down-ok"), error_action=republish("errors/down"))
    wait_loaded(b)
    sub = listen(b, "s", "errors/#", "down-ok")
    pub = Client(b.port)
    pub.connect("p")
    pub.send(publish("down/x", b'{"v": 1}'))
    first = next_publish(sub)
    assert first.topic == "down-ok"  # the other action is not held up
    doc = json.loads(next_publish(sub).payload)
    assert doc["failures"][0]["failedAction"] == "PostgresAction"
    assert "cannot connect to PostgreSQL" in doc["failures"][0]["errorMessage"]


def test_creation_refuses_bad_names(broker, pg):
    from test_rules import ctl  # noqa: F401 (the same CLI helper, expecting failure here)
    import subprocess
    from conftest import UMBRACTL
    payload = {"sql": "SELECT * FROM 'x'", "actions": [postgres(pg.conninfo, "t; DROP TABLE x")]}
    r = subprocess.run([UMBRACTL, "--data-dir", broker.data_dir, "create-topic-rule",
                        "--rule-name", "bad", "--topic-rule-payload", json.dumps(payload)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "InvalidRequestException" in r.stderr and "SQL names" in r.stderr
