// An application's view of pg_pat through pgbouncer in transaction pooling mode, with node-pg
// (TAP 011): the checks of client.py, made the way docs/application.md tells node-pg users.
//
//   node node_client.js SOCKET_DIR PORT USER TOKEN OTHER_TOKEN
//
// node-pg comes from NODE_PATH (the test points it at the npm cache scripts/install-deps fills).
// Prints one "name=value" line per observation as soon as it is made, so a client that dies
// half-way still shows how far it got.
"use strict";

const pg = require("pg");

function show(name, value) {
  process.stdout.write(`${name}=${value}\n`);
}

// The HTTP status and WWW-Authenticate header for a pg_pat error (docs/application.md): one
// generic 401 for every invalid token; the reason (err.detail) is for the logs only.
function httpAnswer(err, required = []) {
  if (err.code === "28000") return `401 Bearer error="invalid_token"`;
  if (err.code === "42501")
    return `403 Bearer error="insufficient_scope", scope="${required.join(" ")}"`;
  if (["22023", "22004", "22001", "22007"].includes(err.code)) return "400";
  return `500 ${err.code}`;
}

// Runs fn(client) between BEGIN and COMMIT on a client checked out of pool, as a request
// would; ROLLBACK and rethrow on error.
async function inTransaction(pool, fn) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK");
    throw err;
  } finally {
    client.release();
  }
}

// The request that is expected to fail: its HTTP answer, or "no error".
async function answerOf(pool, fn, required) {
  try {
    await inTransaction(pool, fn);
    return ["no error", null];
  } catch (err) {
    if (!err.code) throw err;
    return [httpAnswer(err, required), err];
  }
}

async function main() {
  const [host, port, user, token, otherToken] = process.argv.slice(2);
  const config = { host, port: Number(port), user, database: "postgres" };

  // Client a is a pool (one connection) as an API server has; client b a plain connection.
  // pgbouncer has one server connection for both: a's context must not reach b.
  const pool = new pg.Pool({ ...config, max: 1 });
  const warnings = [];
  pool.on("connect", (client) => client.on("notice", (msg) => warnings.push(msg)));
  const b = new pg.Client(config);
  await b.connect();

  const aPid = await inTransaction(pool, async (a) => {
    const auth = await a.query("SELECT pat_authenticate($1, $2) AS u", [token, ["notes:read"]]);
    show("a_user", auth.rows[0].u);
    const scopes = await a.query("SELECT pat_current_scopes() AS s");
    show("a_scopes", scopes.rows[0].s.join(","));
    return (await a.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
  });
  const row = (await b.query("SELECT pat_current_user() AS u, pg_backend_pid() AS pid")).rows[0];
  show("same_server_connection", row.pid === aPid ? "yes" : `no (${row.pid} and ${aPid})`);
  show("b_user", row.u === null ? "NULL" : row.u);

  // pool.query() runs each statement on its own (autocommit): pat_authenticate warns, and the
  // next statement has no context.
  await pool.query("SELECT pat_authenticate($1)", [token]);
  show(
    "autocommit_warning",
    warnings.length ? `${warnings[0].severity} ${warnings[0].code}` : "none",
  );
  const next = (await pool.query("SELECT pat_current_user() AS u")).rows[0].u;
  show("autocommit_next_user", next === null ? "NULL" : next);

  // A missing scope is 403; a token revoked by another client is 401 on the very next request.
  const [missing] = await answerOf(
    pool,
    (a) => a.query("SELECT pat_authenticate($1, $2)", [token, ["notes:write"]]),
    ["notes:write"],
  );
  show("missing_scope", missing);
  await b.query("SELECT pat_revoke(t.token_id) FROM pat_validate($1) t", [otherToken]);
  const [revoked, revokedErr] = await answerOf(pool, (a) =>
    a.query("SELECT pat_authenticate($1)", [otherToken]),
  );
  show("revoked", revoked);
  show("revoked_detail", revokedErr ? revokedErr.detail : "none");
  const [malformed] = await answerOf(pool, (a) =>
    a.query("SELECT pat_authenticate($1)", ["pat_garbage"]),
  );
  show("malformed", malformed);
  await pool.end();
  await b.end();

  // A query config with a name makes node-pg prepare a named statement once per connection;
  // the second client's statement of the same name lands on the same server connection.
  const c = new pg.Client(config);
  const d = new pg.Client(config);
  await c.connect();
  await d.connect();
  const named = { name: "pat_current_user", text: "SELECT pat_current_user()" };
  await c.query(named);
  try {
    await d.query(named);
    show("prepared_clash", "none");
  } catch (err) {
    show("prepared_clash", err.code);
  }
  await c.end();
  await d.end();

  // Without a name node-pg uses the unnamed statement: nothing is left to clash.
  const e1 = new pg.Client(config);
  const e2 = new pg.Client(config);
  await e1.connect();
  await e2.connect();
  let unprepared = "none";
  for (let i = 0; i < 10; i++) {
    for (const e of [e1, e2]) {
      try {
        await e.query("SELECT pat_current_user() AS u, $1::int AS i", [i]);
      } catch (err) {
        unprepared = err.code;
      }
    }
  }
  show("unprepared_clash", unprepared);
  await e1.end();
  await e2.end();
}

main().catch((err) => {
  process.stderr.write(`node client failed: ${err.stack || err}\n`);
  process.exit(1);
});
