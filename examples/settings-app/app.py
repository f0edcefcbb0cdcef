"""pg_pat's reference application: a settings page for personal access tokens and a Bearer API.

Flask and psycopg 3 from Debian's packages, connected through pgbouncer in transaction pooling
mode. The settings page acts for the signed-in user outside any token context (the back end's
own session); the API authenticates every request with pat_authenticate in one transaction.

    python3 app.py init   # as a superuser: load schema.sql, create the example's users
    python3 app.py serve  # the web app (SETTINGS_APP_DSN, SETTINGS_APP_PORT)
"""
import datetime
import hashlib
import hmac
import json
import os
import secrets
import sys

import psycopg
from flask import Flask, abort, g, jsonify, redirect, render_template, request, session, url_for

HERE = os.path.dirname(os.path.abspath(__file__))
EXPIRATIONS = [("7 days", "7 days"), ("30 days", "30 days"), ("60 days", "60 days"),
               ("90 days", "90 days"), ("custom", "Custom date"), ("never", "No expiration")]
USERS = {"alice": ("Alice Example", "alice-password"), "bob": ("Bob Example", "bob-password")}
API_SCOPES = {"GET": "notes:read", "POST": "notes:write"}
# The scope a token may have bound to some notebooks (pat_create/pat_update resources).
WRITE_SCOPE = "notes:write"
# The scope pg_pat asks of a token that mints children (pat.delegate_scope, its default here).
DELEGATE_SCOPE = "tokens:delegate"

app = Flask(__name__, template_folder=os.path.join(HERE, "templates"))
app.secret_key = os.environ.get("SETTINGS_APP_SECRET") or secrets.token_hex(32)


# --- the database ------------------------------------------------------------------------------

def db():
    """This request's connection, through pgbouncer: no server-side prepared statements, which
    pgbouncer 1.18 cannot route in transaction pooling mode."""
    if "db" not in g:
        g.db = psycopg.connect(os.environ["SETTINGS_APP_DSN"], prepare_threshold=None)
    return g.db


@app.teardown_appcontext
def close_db(_exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def hash_password(password, salt=None):
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 200_000).hex()
    return f"pbkdf2_sha256${salt}${digest}"


def check_password(password, stored):
    _, salt, _ = stored.split("$", 2)
    return hmac.compare_digest(hash_password(password, salt), stored)


# --- sessions and forms --------------------------------------------------------------------------

def signed_in_user():
    user = session.get("user_id")
    if user is None:
        abort(redirect(url_for("login")))
    return user


def csrf_token():
    if "csrf" not in session:
        session["csrf"] = secrets.token_hex(16)
    return session["csrf"]


app.jinja_env.globals["csrf_token"] = csrf_token


@app.before_request
def check_csrf():
    if request.method == "POST" and not request.path.startswith("/api/"):
        if not hmac.compare_digest(request.form.get("csrf", ""), session.get("csrf", "")):
            abort(400, "stale form; reload the page")


def owned_token(user, token_id):
    """The user's token (a pat_list row), or 404: the back end acts outside a token context, so
    it must itself keep users to their own tokens."""
    with db().cursor() as cur:
        cur.execute("SELECT token_id, name, scopes, status FROM pat_list(%s) WHERE token_id::text = %s",
                    [user, token_id])
        row = cur.fetchone()
    if row is None or row[3] == "revoked":
        abort(404)
    return row


# --- the settings page ---------------------------------------------------------------------------

@app.get("/")
def index():
    return redirect(url_for("tokens"))


@app.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        user = request.form.get("user_id", "")
        with db().cursor() as cur:
            cur.execute("SELECT password_hash FROM app.users WHERE user_id = %s", [user])
            row = cur.fetchone()
        if row is not None and check_password(request.form.get("password", ""), row[0]):
            session.clear()
            session["user_id"] = user
            return redirect(url_for("tokens"))
        error = "Unknown user or wrong password."
    return render_template("login.html", error=error)


@app.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("login"))


def token_tree(user):
    """The user's tokens as pat_list rows in display order: each token followed by the tokens
    it minted (depth says how far down the chain), revoked ones left out. A child whose parent
    is gone from the list (expired and hidden, say) starts its own branch."""
    with db().cursor() as cur:
        cur.execute("SELECT token_id, name, scopes, created_at, expires_at, last_used_at, status,"
                    " parent_id, created_by, token_type, networks, resources, suspended"
                    " FROM pat_list(%s)", [user])
        rows = cur.fetchall()
    names = {r[0]: r[1] for r in rows}  # revoked tokens too: a creator may be one
    listed = [dict(token_id=r[0], name=r[1], scopes=r[2], created_at=r[3], expires_at=r[4],
                   last_used_at=r[5], status=r[6], parent_id=r[7],
                   parent_name=names.get(r[7]), created_by=r[8],
                   creator=describe_creator(r[8], names), token_type=r[9],
                   networks=[str(n) for n in (r[10] or [])],
                   notebooks=(r[11] or {}).get(WRITE_SCOPE, []), suspended=r[12])
              for r in rows if r[6] != "revoked"]
    shown = {t["token_id"] for t in listed}
    children = {}
    for t in listed:
        children.setdefault(t["parent_id"] if t["parent_id"] in shown else None, []).append(t)
    ordered = []

    def walk(parent, depth):
        for t in children.get(parent, []):
            t["depth"] = depth
            ordered.append(t)
            walk(t["token_id"], depth + 1)
    walk(None, 0)
    return ordered


def describe_creator(created_by, names):
    """pat_list's created_by, for people: 'token:<id>:<user>' (minted in a token context) as
    the token's name, 'actor:<actor>' (pat_set_actor, as this page sets it) as the actor,
    'role:<role>' (the back end with no actor) as it is."""
    kind, _, rest = (created_by or "").partition(":")
    if kind == "token":
        token_id, _, token_user = rest.partition(":")
        name = {str(i): n for i, n in names.items()}.get(token_id)
        return f"token “{name}”" if name is not None else f"a token of {token_user}"
    if kind == "actor":
        return rest
    return created_by or ""


def descendants(tokens, token_id):
    """The listed tokens that die with token_id: its children, theirs, and so on."""
    found, frontier = [], {token_id}
    while frontier:
        below = [t for t in tokens if t["parent_id"] in frontier]
        found += below
        frontier = {t["token_id"] for t in below}
    return found


@app.get("/settings/tokens")
def tokens():
    user = signed_in_user()
    now = datetime.datetime.now(datetime.timezone.utc)
    listed = token_tree(user)
    for t in listed:
        t["expiring"] = (t["status"] == "active" and t["expires_at"] is not None
                         and t["expires_at"] - now < datetime.timedelta(days=7))
    with db().cursor() as cur:
        cur.execute("SELECT s FROM pat_grantable_scopes(%s) s ORDER BY s", [user])
        grantable = [r[0] for r in cur.fetchall()]
    return render_template("tokens.html", user=user, tokens=listed, grantable=grantable,
                           expirations=EXPIRATIONS, error=request.args.get("error"))


@app.post("/settings/tokens")
def create_token():
    user = signed_in_user()
    name = request.form.get("name", "").strip()
    scopes = request.form.getlist("scopes")
    expires = request.form.get("expiration", "30 days")
    if expires == "custom":
        expires = request.form.get("custom_date", "")
    conn = db()
    try:
        with conn.cursor() as cur:
            # The signed-in person is the token's creator (created_by), not the app's role.
            cur.execute("SELECT pat_set_actor(%s)", [user])
            cur.execute("SELECT token_id, token, expires_at FROM pat_create(%s, %s, %s::text[], %s::text)",
                        [user, name, scopes, expires])
            token_id, token, expires_at = cur.fetchone()
        conn.commit()
    except psycopg.Error as error:
        conn.rollback()
        # pg_pat's messages are written for the person making the token (22023, 42501, 22007).
        return redirect(url_for("tokens", error=error.diag.message_primary))
    # The secret is in this response only: pg_pat keeps a digest.
    return render_template("token_created.html", user=user, name=name, token=token,
                           token_id=token_id, expires_at=expires_at)


def listed_words(text):
    """A form field of words separated by commas or spaces, as a list."""
    return [w for w in text.replace(",", " ").split() if w]


@app.route("/settings/tokens/<token_id>/edit", methods=["GET", "POST"])
def edit_token(token_id):
    user = signed_in_user()
    row = owned_token(user, token_id)
    with db().cursor() as cur:
        cur.execute("SELECT s FROM pat_grantable_scopes(%s) s ORDER BY s", [user])
        grantable = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT networks, resources FROM pat_list(%s) WHERE token_id::text = %s",
                    [user, token_id])
        networks, resources = cur.fetchone()
    networks = " ".join(str(n) for n in (networks or []))
    notebooks = " ".join((resources or {}).get(WRITE_SCOPE, []))
    error = None
    if request.method == "POST":
        conn = db()
        scopes = request.form.getlist("scopes")
        networks = request.form.get("networks", "")
        notebooks = request.form.get("notebooks", "")
        # Empty fields lift the limit ('{}' clears it); notebooks bind notes:write only.
        bound = listed_words(notebooks) if WRITE_SCOPE in scopes else []
        try:
            conn.execute("SELECT pat_update(%s::uuid, %s, %s::text[], networks => %s::cidr[],"
                         " resources => %s::jsonb)",
                         [token_id, request.form.get("name", "").strip(), scopes,
                          listed_words(networks),
                          json.dumps({WRITE_SCOPE: bound} if bound else {})])
            conn.commit()
            return redirect(url_for("tokens"))
        except psycopg.Error as failure:
            conn.rollback()
            error = failure.diag.message_primary
    return render_template("edit.html", user=user, token_id=token_id, name=row[1],
                           scopes=row[2], grantable=grantable, networks=networks,
                           notebooks=notebooks, error=error)


@app.post("/settings/tokens/<token_id>/suspend")
def suspend_token(token_id):
    """Suspend or resume: the token is refused (or works again) from the commit on, in every
    client; its expiry never moves."""
    user = signed_in_user()
    owned_token(user, token_id)
    conn = db()
    function = "pat_resume" if request.form.get("resume") else "pat_suspend"
    conn.execute(f"SELECT {function}(%s::uuid)", [token_id])
    conn.commit()
    return redirect(url_for("tokens"))


@app.route("/settings/tokens/<token_id>/delete", methods=["GET", "POST"])
def delete_token(token_id):
    user = signed_in_user()
    row = owned_token(user, token_id)
    if request.method == "POST":
        conn = db()
        # Every client, at commit; the tokens it minted answer revoked from their next check.
        conn.execute("SELECT pat_revoke(%s::uuid)", [token_id])
        conn.commit()
        return redirect(url_for("tokens"))
    minted = descendants(token_tree(user), row[0])
    return render_template("delete.html", user=user, token_id=token_id, name=row[1],
                           minted=minted)


# --- the Bearer API ------------------------------------------------------------------------------

def api_error(status, challenge, message):
    response = jsonify(error=message)
    response.status_code = status
    response.headers["WWW-Authenticate"] = challenge
    return response


@app.route("/api/notes", methods=["GET", "POST"])
def notes():
    scope = API_SCOPES[request.method]
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return api_error(401, 'Bearer realm="notes"', "a personal access token is required")
    conn = db()
    try:
        # One transaction: the token context lives exactly as long as this request's work.
        with conn.transaction():
            # The HTTP client's address: the connection's (inet_client_addr()) is pgbouncer's.
            conn.execute("SELECT pat_authenticate(%s, %s, %s::inet)",
                         [header[len("Bearer "):], [scope], request.remote_addr])
            if request.method == "GET":
                rows = conn.execute("SELECT note_id, body, created_at FROM app.notes"
                                    " ORDER BY note_id").fetchall()
                return jsonify(notes=[dict(id=r[0], body=r[1], created_at=r[2].isoformat())
                                      for r in rows])
            posted = request.get_json(silent=True) or {}
            note_id = conn.execute("INSERT INTO app.notes (body, notebook) VALUES (%s, %s)"
                                   " RETURNING note_id",
                                   [posted.get("body", ""), posted.get("notebook", "inbox")]
                                   ).fetchone()[0]
        return jsonify(id=note_id), 201
    except psycopg.Error as error:
        # Invalid tokens all get the same answer; the reason stays in the server's log.
        if error.sqlstate == "28000":
            return api_error(401, 'Bearer realm="notes", error="invalid_token"', "invalid token")
        if error.sqlstate == "42501":
            return api_error(403, f'Bearer realm="notes", error="insufficient_scope", scope="{scope}"',
                             f"the token lacks {scope}")
        if error.sqlstate and error.sqlstate.startswith("23"):
            return jsonify(error="invalid note"), 400
        raise


@app.post("/api/tokens")
def delegate():
    """An agent's token (holding the delegate scope) mints a child token for a sub-agent:
    {"name": ..., "scopes": [...], "expires": "1 hour"} (expires optional: the longest pg_pat
    allows). The child is the same user's, holds at most its parent's scopes, expires no later,
    and dies with it. The secret is in this response only."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return api_error(401, 'Bearer realm="notes"', "a personal access token is required")
    request_body = request.get_json(silent=True) or {}
    name, scopes = request_body.get("name"), request_body.get("scopes")
    expires = request_body.get("expires")
    if not isinstance(name, str) or not isinstance(scopes, list) \
            or not all(isinstance(s, str) for s in scopes) \
            or not (expires is None or isinstance(expires, str)):
        return jsonify(error='expected {"name": text, "scopes": [text], "expires": text}'), 400
    conn = db()
    minting = False
    try:
        # One transaction: pat_delegate mints a child of the token this request authenticated.
        with conn.transaction():
            conn.execute("SELECT pat_authenticate(%s, %s)", [header[len("Bearer "):], [DELEGATE_SCOPE]])
            minting = True
            token_id, token, expires_at = conn.execute(
                "SELECT token_id, token, expires_at FROM pat_delegate(%s, %s::text[], %s::text)",
                [name, scopes, expires]).fetchone()
    except psycopg.Error as error:
        if error.sqlstate == "28000":
            return api_error(401, 'Bearer realm="notes", error="invalid_token"', "invalid token")
        if error.sqlstate == "42501" and not minting:
            return api_error(403, f'Bearer realm="notes", error="insufficient_scope", scope="{DELEGATE_SCOPE}"',
                             f"the token lacks {DELEGATE_SCOPE}")
        # What the child may not be (more scope or a longer life than its parent, too deep, an
        # unknown scope): pg_pat's message says which, written for the one asking.
        if error.sqlstate == "42501":
            return jsonify(error=error.diag.message_primary), 403
        if error.sqlstate and error.sqlstate[:2] in ("22", "23"):
            return jsonify(error=error.diag.message_primary), 400
        raise
    response = jsonify(token_id=str(token_id), token=token, name=name, scopes=scopes,
                       expires_at=expires_at.isoformat() if expires_at else None)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


# --- setup ---------------------------------------------------------------------------------------

def init(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        with open(os.path.join(HERE, "schema.sql")) as f:
            conn.execute(f.read())
        for user, (display, password) in USERS.items():
            conn.execute("INSERT INTO app.users VALUES (%s, %s, %s)",
                         [user, display, hash_password(password)])


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "init":
        init(sys.argv[2])
    elif command == "serve":
        app.run(host="127.0.0.1", port=int(os.environ.get("SETTINGS_APP_PORT", "8080")),
                threaded=True)
    else:
        sys.exit(__doc__)
