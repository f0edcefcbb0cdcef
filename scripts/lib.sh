# shellcheck shell=bash
# Shared helpers for scripts/demo and scripts/test. Source it, don't run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# PostgreSQL refuses to run as root, so the server and every test tool run as
# the `postgres` OS user on a postgres-owned copy of the tree, against a
# throwaway cluster that is torn down on exit.

# PostgreSQL's paths come from pg_config (PG_CONFIG, else the one on PATH, else Debian's); on a
# fresh machine it appears only with install-deps, after which callers run pat_pg_paths again.
export PG_CONFIG=${PG_CONFIG:-$(command -v pg_config || echo /usr/bin/pg_config)}
PAT_PGBIN="" PAT_PGXS_DIR=""
pat_pg_paths() {
    [[ -x $PG_CONFIG ]] || return 0
    PAT_PGBIN=$("$PG_CONFIG" --bindir)
    local pgxs
    pgxs=$("$PG_CONFIG" --pgxs)
    PAT_PGXS_DIR=${pgxs%/src/makefiles/pgxs.mk}
    case ":$PATH:" in *":$PAT_PGBIN:"*) ;; *) export PATH="$PAT_PGBIN:$PATH" ;; esac
}
pat_pg_paths

# Repository root, whatever the caller's cwd.
PAT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Things pat_cleanup removes/stops; filled in by the helpers below.
PAT_CLEANUP_DIRS=()
PAT_CLUSTER_DATA=""

pat_log() { printf '==> %s\n' "$*"; }
pat_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

pat_require_root() {
    [[ $(id -u) -eq 0 ]] || pat_die "run as root (e.g. sudo $0): it installs packages and the extension"
}

# Run a command as postgres with our PATH. cwd is set explicitly because the
# caller's cwd (e.g. /root) may be unreadable for postgres.
#   pat_as_pg DIR cmd args...
pat_as_pg() {
    local dir=$1; shift
    (cd "$dir" && runuser -u postgres -- env PATH="$PATH" HOME=/var/lib/postgresql "$@")
}

# EXIT trap: stop the cluster, then delete every temp dir we made.
pat_cleanup() {
    local rc=$?
    if [[ -n $PAT_CLUSTER_DATA && -f $PAT_CLUSTER_DATA/postmaster.pid ]]; then
        pat_as_pg / pg_ctl -D "$PAT_CLUSTER_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    PAT_CLUSTER_DATA=""
    local d
    for d in "${PAT_CLEANUP_DIRS[@]}"; do
        [[ -n $d && $d == /tmp/pg_pat.* ]] && rm -rf -- "$d"
    done
    PAT_CLEANUP_DIRS=()
    return $rc
}
trap pat_cleanup EXIT
# Make Ctrl-C / kill go through the EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM

# New postgres-owned temp dir, registered for cleanup. Result in $PAT_MKTEMP.
pat_mktemp() {
    # The postgres user only exists once postgresql-15 is installed.
    id postgres >/dev/null 2>&1 || pat_die "no 'postgres' OS user; run scripts/install-deps first"
    PAT_MKTEMP=$(mktemp -d /tmp/pg_pat.XXXXXX)
    PAT_CLEANUP_DIRS+=("$PAT_MKTEMP")
    chown postgres:postgres "$PAT_MKTEMP"
}

# Copy the source tree into DIR, without .git, objects (they are for the major they were built
# for) and old test output.
pat_copy_source() { # dir
    tar -C "$PAT_ROOT" \
        --exclude=./.git --exclude=./build --exclude=./results \
        --exclude=./output_iso --exclude=./tmp_check --exclude=./log \
        --exclude=./regression.diffs --exclude=./regression.out \
        --exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude=./tmp_check_regress \
        --exclude=./tmp_check_isolation \
        -cf - . | tar -C "$1" -xpf -
}

# (a) Copy the source tree (pat_copy_source) to a fresh postgres-owned temp dir, so postgres can
# write results/, tmp_check/... Result in $PAT_COPY.
pat_copy_tree() {
    pat_mktemp
    PAT_COPY=$PAT_MKTEMP
    pat_copy_source "$PAT_COPY"
    chown -R postgres:postgres "$PAT_COPY"
}

# Run a step as postgres in $PAT_COPY with a time limit, its output shown and kept in
# $LOGDIR/NAME.log ($LOG, for parsing). Returns the step's exit status.
pat_step() { # name seconds cmd...
    local name=$1 secs=$2 rc=0
    shift 2
    LOG=$LOGDIR/$name.log
    pat_as_pg "$PAT_COPY" timeout -k 10 "$secs" "$@" 2>&1 | tee "$LOG" || rc=$?
    ((rc != 124)) || echo "*** $name: timed out after ${secs}s"
    return $rc
}

# (b) Start a throwaway cluster as postgres: private data dir, private unix
# socket dir, no TCP listener, so it can't clash with any other server.
# Exports PGHOST/PGPORT/PGUSER/PGDATABASE for clients. Returns 1 on failure
# (callers decide whether that is fatal).
pat_cluster_start() {
    pat_mktemp
    local base=$PAT_MKTEMP
    local port=${PAT_PGPORT:-55432}
    PAT_CLUSTER_DATA=$base/data
    mkdir -p "$base/sock" && chown postgres:postgres "$base/sock"
    pat_as_pg "$base" initdb -D "$PAT_CLUSTER_DATA" -U postgres -A trust \
        -E UTF8 --locale=C.UTF-8 --no-sync >"$base/initdb.log" 2>&1 ||
        { cat "$base/initdb.log"; echo "error: initdb failed" >&2; return 1; }
    cat >>"$PAT_CLUSTER_DATA/postgresql.conf" <<CONF
# throwaway test cluster (scripts/lib.sh)
listen_addresses = ''
unix_socket_directories = '$base/sock'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
max_prepared_transactions = 10
shared_preload_libraries = 'pg_pat'
${PAT_EXTRA_CONF:-}
CONF
    if ! pat_as_pg "$base" pg_ctl -D "$PAT_CLUSTER_DATA" -l "$base/server.log" -w -t 60 start >/dev/null; then
        cat "$base/server.log" >&2 || true
        echo "error: could not start the test cluster" >&2
        return 1
    fi
    PAT_CLUSTER_LOG=$base/server.log
    export PGHOST=$base/sock PGPORT=$port PGUSER=postgres PGDATABASE=postgres
    pat_log "test cluster up (socket $PGHOST, port $PGPORT)"
}

# (c) Stop and remove the cluster now (pat_cleanup also does it on exit).
pat_cluster_stop() {
    [[ -n $PAT_CLUSTER_DATA ]] || return 0
    pat_as_pg / pg_ctl -D "$PAT_CLUSTER_DATA" -m fast -w stop >/dev/null || true
    rm -rf -- "$(dirname "$PAT_CLUSTER_DATA")"
    PAT_CLUSTER_DATA=""
    unset PGHOST PGPORT PGUSER PGDATABASE
}

# Remove every pg_pat file a previous `make install` left on the server of PG_CONFIG, so an
# install from this tree brings exactly this tree's versions: a script of a version this tree
# does not have (another branch's, say) would otherwise stay, and the update tests would walk it.
pat_remove_installed() {
    local share lib
    share=$("$PG_CONFIG" --sharedir) && lib=$("$PG_CONFIG" --pkglibdir) || return 1
    rm -f -- "$share/extension/pg_pat.control" "$share"/extension/pg_pat--*.sql "$lib/pg_pat.so"
    rm -rf -- "$lib/bitcode/pg_pat" "$lib/bitcode/pg_pat.index.bc"
}

# Build and install the extension from the repo, as root (make install writes
# to /usr/share/postgresql and /usr/lib/postgresql).
pat_build_install() {
    pat_log "building and installing pg_pat"
    make -C "$PAT_ROOT" -s -j2 PG_CONFIG="$PG_CONFIG"
    pat_remove_installed
    make -C "$PAT_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}
