"""An application's view of pg_pat through pgbouncer in transaction pooling mode (TAP 011).

Run by test/t/011_pgbouncer.pl with the pgbouncer connection string and two tokens; prints one
"name=value" line per observation, as soon as it is made, for the test to check. The node-pg
(node_client.js) and JDBC (JdbcClient.java) clients make the same checks and print the same
lines. Also holds the SQLSTATE-to-HTTP mapping docs/application.md recommends, exercised on
real errors here.
"""
import sys

import psycopg
from psycopg import errors


def http_answer(error, required=()):
    """The HTTP status and WWW-Authenticate header for a pg_pat error (docs/application.md).

    One generic 401 for every invalid token (malformed, not_found, expired, revoked): the
    reason goes to the logs only, never to the client.
    """
    if error.sqlstate == "28000":
        return 401, 'Bearer error="invalid_token"'
    if error.sqlstate == "42501":
        return 403, f'Bearer error="insufficient_scope", scope="{" ".join(required)}"'
    if error.sqlstate in ("22023", "22004", "22001", "22007"):
        return 400, None
    return 500, None


def main():
    conninfo, token, other_token = sys.argv[1:4]

    def show(name, value):
        print(f"{name}={value}", flush=True)

    def answer(status_header):
        status, header = status_header
        return f"{status} {header}" if header else str(status)

    def text(value):
        return "NULL" if value is None else value

    # Two clients, one server connection (default_pool_size = 1): a's context never reaches b.
    a = psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)
    b = psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)
    with a.transaction():
        user = a.execute("SELECT pat_authenticate(%s, '{notes:read}')", [token]).fetchone()[0]
        show("a_user", user)
        show("a_scopes", ",".join(a.execute("SELECT pat_current_scopes()").fetchone()[0]))
        a_pid = a.execute("SELECT pg_backend_pid()").fetchone()[0]
    row = b.execute("SELECT pat_current_user(), pg_backend_pid()").fetchone()
    show("same_server_connection", "yes" if row[1] == a_pid else f"no ({row[1]} and {a_pid})")
    show("b_user", text(row[0]))

    # Autocommit: pat_authenticate warns, and the next statement has no context.
    warnings = []
    a.add_notice_handler(lambda diag: warnings.append((diag.severity_nonlocalized, diag.sqlstate)))
    a.execute("SELECT pat_authenticate(%s)", [token])
    show("autocommit_warning", " ".join(warnings[0]) if warnings else "none")
    show("autocommit_next_user", text(a.execute("SELECT pat_current_user()").fetchone()[0]))

    # A missing scope is 403, a revoked token 401, on the very next request after the revoke.
    try:
        with a.transaction():
            a.execute("SELECT pat_authenticate(%s, '{notes:write}')", [token])
        show("missing_scope", "no error")
    except psycopg.Error as e:
        show("missing_scope", answer(http_answer(e, ["notes:write"])))
    b.execute("SELECT pat_revoke(t.token_id) FROM pat_validate(%s) t", [other_token])
    try:
        with a.transaction():
            a.execute("SELECT pat_authenticate(%s)", [other_token])
        show("revoked", "no error")
    except psycopg.Error as e:
        show("revoked", answer(http_answer(e)))
        show("revoked_detail", e.diag.message_detail)
    try:
        with a.transaction():
            a.execute("SELECT pat_authenticate(%s)", ["pat_garbage"])
        show("malformed", "no error")
    except psycopg.Error as e:
        show("malformed", answer(http_answer(e)))
    a.close()
    b.close()

    # Driver-side named prepared statements behind pgbouncer 1.18 in transaction mode: the
    # second client's statement of the same name lands on the same server connection.
    c = psycopg.connect(conninfo, autocommit=True, prepare_threshold=0)
    d = psycopg.connect(conninfo, autocommit=True, prepare_threshold=0)
    c.execute("SELECT pat_current_user()")
    try:
        d.execute("SELECT pat_current_user()")
        show("prepared_clash", "none")
    except psycopg.Error as e:
        show("prepared_clash", e.sqlstate)
    c.close()
    d.close()
    # With prepare_threshold=None (no named statements) nothing clashes.
    e1 = psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)
    e2 = psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)
    try:
        for _ in range(10):
            e1.execute("SELECT pat_current_user()")
            e2.execute("SELECT pat_current_user()")
        show("unprepared_clash", "none")
    except psycopg.Error as e:
        show("unprepared_clash", e.sqlstate)
    e1.close()
    e2.close()


if __name__ == "__main__":
    main()
