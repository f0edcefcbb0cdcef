# shellcheck shell=bash
# The settings app's stack, for `run` and the browser suite: a throwaway cluster preloading
# pg_pat (scripts/lib.sh), schema.sql and the example's users, pgbouncer in transaction pooling
# mode in front of it, and the app behind pgbouncer. Everything runs as the postgres OS user,
# from a postgres-owned copy of this folder; stack_stop (also on exit) stops it all.
#   source examples/settings-app/stack.sh; stack_start PORT
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
STACK_APP_DIR="" STACK_APP_PID="" STACK_BOUNCER_INI=""

stack_stop() {
    [[ -n $STACK_APP_PID ]] && kill "$STACK_APP_PID" 2>/dev/null
    [[ -n $STACK_BOUNCER_INI && -f ${STACK_BOUNCER_INI%/*}/pgbouncer.pid ]] &&
        kill "$(cat "${STACK_BOUNCER_INI%/*}/pgbouncer.pid")" 2>/dev/null
    STACK_APP_PID="" STACK_BOUNCER_INI=""
    return 0
}
trap 'stack_stop; pat_cleanup' EXIT

stack_start() { # app-port
    local app_port=$1
    local bouncer_port=$((app_port + 1))
    pat_cluster_start >/dev/null || pat_die "could not start the cluster"
    pat_mktemp
    STACK_APP_DIR=$PAT_MKTEMP
    cp -r "$(dirname "${BASH_SOURCE[0]}")/." "$STACK_APP_DIR/"
    chown -R postgres:postgres "$STACK_APP_DIR"
    pat_as_pg "$STACK_APP_DIR" python3 app.py init "host=$PGHOST port=$PGPORT user=postgres dbname=postgres" ||
        pat_die "could not load the app's schema"

    # pgbouncer: the app's role only, trusted over loopback (the cluster is private to this run).
    STACK_BOUNCER_INI=$STACK_APP_DIR/pgbouncer.ini
    cat >"$STACK_BOUNCER_INI" <<INI
[databases]
notes = host=$PGHOST port=$PGPORT dbname=postgres user=settings_app
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $STACK_APP_DIR/userlist.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
logfile = $STACK_APP_DIR/pgbouncer.log
pidfile = $STACK_APP_DIR/pgbouncer.pid
INI
    echo '"settings_app" ""' >"$STACK_APP_DIR/userlist.txt"
    chown postgres:postgres "$STACK_BOUNCER_INI" "$STACK_APP_DIR/userlist.txt"
    pat_as_pg "$STACK_APP_DIR" pgbouncer -d -q "$STACK_BOUNCER_INI" || pat_die "pgbouncer did not start"

    # The app, through pgbouncer.
    (cd "$STACK_APP_DIR" && exec runuser -u postgres -- env HOME=/var/lib/postgresql \
        SETTINGS_APP_DSN="host=127.0.0.1 port=$bouncer_port dbname=notes user=settings_app" \
        SETTINGS_APP_PORT="$app_port" python3 app.py serve >"$STACK_APP_DIR/app.log" 2>&1) &
    STACK_APP_PID=$!
    local i
    for i in $(seq 1 100); do
        python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$app_port/login', timeout=1)" \
            2>/dev/null && return 0
        sleep 0.1
    done
    tail -n 20 "$STACK_APP_DIR/app.log" >&2
    pat_die "the app did not start"
}
