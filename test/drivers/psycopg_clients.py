#!/usr/bin/python3
# psycopg 3 through a pooler in transaction mode (test/integration/drivers_test.cpp; the
# scenario is described in test/drivers/README.md). prepare_threshold=0: psycopg prepares every
# query at its first use, under its own names _pg3_0, _pg3_1, … per connection, so the clients'
# first statements all share a name with different texts. Half the clients keep at most 3
# statements (prepared_max), so psycopg DEALLOCATEs and prepares again all the time. Also in
# pipeline mode and inside transactions.
#
# Usage: psycopg_clients.py LABEL=HOST:PORT ...   (DRIVER_USER, DRIVER_PASSWORD, DRIVER_DB,
# DRIVER_CLIENTS, DRIVER_ROUNDS in the environment). Exit 0 only when every value was right.
import os
import sys
import threading

import psycopg

DRIVER = "psycopg"
USER = os.environ.get("DRIVER_USER", "app")
PASSWORD = os.environ.get("DRIVER_PASSWORD", "apppass")
DB = os.environ.get("DRIVER_DB", "app")
CLIENTS = int(os.environ.get("DRIVER_CLIENTS", "8"))
ROUNDS = int(os.environ.get("DRIVER_ROUNDS", "50"))
TABLE = "drivers_" + DRIVER

# The same texts in every driver's script: stmt_a differs by the client's parity.
STMT_A = ["select %s::int + 1", "select %s::text || 'x'"]
STMT_B = "select %s::int * 2, %s::text"
STMT_INS = "insert into " + TABLE + " (client, k) values (%s, %s)"
STMT_CNT = "select count(*)::int from " + TABLE + " where client = %s"


def expect_a(i, v):
    return v + 1 if i % 2 == 0 else f"{v}x"


class Failure(Exception):
    pass


def check(what, got, want):
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def one(conn, sql, params):
    return conn.execute(sql, params).fetchone()


def client(i, conninfo, outcome):
    executions = 0
    backends = set()
    committed = 0
    try:
        with psycopg.connect(conninfo, autocommit=True, prepare_threshold=0) as conn:
            if i % 2 == 1:
                conn.prepared_max = 3  # fewer than its statements: DEALLOCATE, prepare again
            for k in range(ROUNDS):
                v = i * 1000 + k
                check("stmt_a", one(conn, STMT_A[i % 2], (v,))[0], expect_a(i, v))
                check("stmt_b", one(conn, STMT_B, (v, f"c{i}")), (2 * v, f"c{i}"))
                executions += 2
                # Other work between them: unprepared, and tells which server this was.
                backends.add(conn.execute("select pg_backend_pid()", prepare=False).fetchone()[0])
                # A pipeline of prepared statements (one Sync for all).
                with conn.pipeline():
                    cur_a = conn.execute(STMT_A[i % 2], (v + 1,))
                    cur_b = conn.execute(STMT_B, (v + 1, f"p{i}"))
                check("pipeline stmt_a", cur_a.fetchone()[0], expect_a(i, v + 1))
                check("pipeline stmt_b", cur_b.fetchone(), (2 * (v + 1), f"p{i}"))
                executions += 2
                # A transaction: committed four times out of five, else rolled back.
                rollback = k % 5 == 4
                with conn.transaction():
                    conn.execute(STMT_INS, (i, k))
                    check("count in transaction", one(conn, STMT_CNT, (i,))[0], committed + 1)
                    check("stmt_a in transaction", one(conn, STMT_A[i % 2], (v,))[0], expect_a(i, v))
                    executions += 3
                    if rollback:
                        raise psycopg.Rollback()
                if not rollback:
                    committed += 1
            check("final count", one(conn, STMT_CNT, (i,))[0], committed)
            executions += 1
        outcome[i] = (executions, backends, None)
    except Exception as error:  # noqa: BLE001 - every failure is reported
        outcome[i] = (executions, backends, f"client {i}: {type(error).__name__}: {error}".strip())


def run_target(label, host, port):
    conninfo = f"host={host} port={port} user={USER} password={PASSWORD} dbname={DB} sslmode=disable"
    with psycopg.connect(conninfo, autocommit=True) as setup:
        setup.execute(f"drop table if exists {TABLE}; create table {TABLE} (client int, k int)")
    outcome = {}
    threads = [threading.Thread(target=client, args=(i, conninfo, outcome)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    executions = sum(o[0] for o in outcome.values())
    backends = set().union(*(o[1] for o in outcome.values()))
    errors = [o[2] for o in outcome.values() if o[2]]
    errors += [f"client {i}: did not finish" for i in range(CLIENTS) if i not in outcome]
    for error in errors:
        print("ERROR " + error)
    print(f"{DRIVER} {label}: clients={CLIENTS} rounds={ROUNDS} executions={executions} "
          f"backends={len(backends)} errors={len(errors)}", flush=True)
    return not errors


def main():
    ok = True
    for target in sys.argv[1:]:
        label, address = target.split("=", 1)
        host, port = address.rsplit(":", 1)
        ok = run_target(label, host, port) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
