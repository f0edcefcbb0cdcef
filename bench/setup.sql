-- bench/setup.sql: schema, helpers and scopes/roles for bench/run (loaded after pg_pat and
-- bench/baseline.sql). Everything here lives in schema bench; nothing touches pg_pat itself.

CREATE SCHEMA bench;

-- Primary-key lookup reference: a plain table with as many rows as there are tokens.
CREATE TABLE bench.plain (id integer PRIMARY KEY, payload text NOT NULL);

-- A uniform quarter of every token created, to draw samples from (plaintext: throwaway
-- cluster only). used: the sample it went into.
CREATE UNLOGGED TABLE bench.kept (impl text NOT NULL, token_id uuid NOT NULL,
                                  token text NOT NULL, used text);

-- The tokens checked at the current scale: i = 1..K per (impl, kind). Over the wire uses i = 1.
CREATE TABLE bench.sample (
    impl     text NOT NULL,      -- pat | baseline
    kind     text NOT NULL,      -- valid | revoked | malformed | not_found
    i        integer NOT NULL,
    token    text NOT NULL,
    token_id uuid,
    PRIMARY KEY (impl, kind, i)
);

-- Under load (large scale only): the working set, W valid tokens per implementation in random
-- order (row id = position), and the hot set, its first rows. A pgbench transaction checks the
-- token of one random row.
CREATE TABLE bench.work (id integer PRIMARY KEY, pat text NOT NULL, baseline text NOT NULL);
CREATE TABLE bench.hot (id integer PRIMARY KEY, pat text NOT NULL, baseline text NOT NULL);

-- Tokens the churn revokes, one per churn transaction, in id order (never in the working set).
CREATE TABLE bench.churn_pool (
    impl     text NOT NULL,
    id       integer NOT NULL,
    token_id uuid NOT NULL,
    PRIMARY KEY (impl, id)
);
CREATE SEQUENCE bench.churn_next_pat;
CREATE SEQUENCE bench.churn_next_baseline;

-- Every measurement of the run, one row per repetition.
CREATE TABLE bench.results (
    section text NOT NULL,       -- wire (TPS) | loop (µs per call, gross) | create (tokens/s) | pool | info
    metric  text NOT NULL,
    scale   text NOT NULL,
    rep     integer NOT NULL,
    value   double precision NOT NULL
);

-- Scopes and roles, the same in both implementations. Tokens carry catalog:read and
-- orders:read; the checks ask for catalog:read.
SELECT pat_define_scope(s) FROM unnest('{catalog:read,catalog:write,orders:read}'::text[]) AS s;
SELECT pat_define_role('member', '{catalog:read,orders:read}');
SELECT baseline.define_role('member', '{catalog:read,orders:read}');

-- n_users users holding role member.
CREATE FUNCTION bench.add_users(n_users integer) RETURNS void LANGUAGE sql AS $$
    SELECT count(*) FROM generate_series(0, n_users - 1) AS u,
        LATERAL pat_grant_role('user-' || u, 'member') AS g;
    SELECT count(*) FROM generate_series(0, n_users - 1) AS u,
        LATERAL baseline.grant_role('user-' || u, 'member') AS g;
$$;

-- Tokens g = first..last through the public API (pat_create / baseline.create_token), keeping
-- a uniform quarter of them. The filter reads the function's output, so it cannot be pushed
-- below the call: every g creates a token.
CREATE FUNCTION bench.create_api(impl text, first bigint, last bigint, n_users integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF impl = 'pat' THEN
        INSERT INTO bench.kept (impl, token_id, token)
        SELECT 'pat', c.token_id, c.token
        FROM generate_series(first, last) AS g,
             LATERAL pat_create('user-' || g % n_users, 'token-' || g,
                                '{catalog:read,orders:read}', '90 days'::text) AS c
        WHERE hashtext(c.token) & 3 = 0;
    ELSE
        INSERT INTO bench.kept (impl, token_id, token)
        SELECT 'baseline', c.token_id, c.token
        FROM generate_series(first, last) AS g,
             LATERAL baseline.create_token('user-' || g % n_users, 'token-' || g,
                                           '{catalog:read,orders:read}', '90 days') AS c
        WHERE hashtext(c.token) & 3 = 0;
    END IF;
END
$$;

-- A fresh sample of k tokens per kind and implementation: valid and revoked ones drawn at
-- random from every token kept so far (so they are spread over the whole table and index),
-- revoked through the API; malformed = garbage of token length; not_found = well-formed
-- tokens that were never stored.
CREATE FUNCTION bench.draw_sample(k integer) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    short text;
BEGIN
    DELETE FROM bench.sample;
    SELECT string_agg(impl, ', ') INTO short FROM (
        SELECT impl FROM bench.kept WHERE used IS NULL GROUP BY impl HAVING count(*) < 2 * k
    ) AS s;
    IF short IS NOT NULL THEN
        RAISE EXCEPTION 'not enough unused kept tokens for a sample of % (%)', k, short;
    END IF;
    WITH pick AS (
        SELECT token_id, row_number() OVER (PARTITION BY impl ORDER BY random()) AS rn
        FROM bench.kept WHERE used IS NULL
    ), chosen AS (
        UPDATE bench.kept AS kp
        SET used = CASE WHEN p.rn <= k THEN 'valid' ELSE 'revoked' END
        FROM pick AS p
        WHERE kp.token_id = p.token_id AND p.rn <= 2 * k
        RETURNING kp.impl, kp.used, p.rn, kp.token, kp.token_id
    )
    INSERT INTO bench.sample (impl, kind, i, token, token_id)
    SELECT impl, used, CASE WHEN used = 'valid' THEN rn ELSE rn - k END, token, token_id
    FROM chosen;

    PERFORM count(*) FROM bench.sample AS s, LATERAL pat_revoke(s.token_id) AS r
    WHERE s.impl = 'pat' AND s.kind = 'revoked';
    PERFORM count(*) FROM bench.sample AS s, LATERAL baseline.revoke_token(s.token_id) AS r
    WHERE s.impl = 'baseline' AND s.kind = 'revoked';

    INSERT INTO bench.sample (impl, kind, i, token)
    SELECT impl, 'malformed', i, 'garbage-' || md5(impl || i || random())
    FROM unnest('{pat,baseline}'::text[]) AS impl, generate_series(1, k) AS i;

    INSERT INTO bench.sample (impl, kind, i, token)
    SELECT 'pat', 'not_found', i, (pat.new_token()).token FROM generate_series(1, k) AS i;
    INSERT INTO bench.sample (impl, kind, i, token)
    SELECT 'baseline', 'not_found', i,
           'bpat_' || translate(encode(gen_random_bytes(24), 'base64'), '+/', '-_')
    FROM generate_series(1, k) AS i;
END
$$;

-- One in-server loop: `calls` checks in a single statement, rotating over the sample of
-- (impl, kind); returns the gross µs per call. The empty loop is the same statement without
-- the check. cache_off: pg_pat with pat.token_cache_size = 0 for this transaction (NULL when
-- pg_pat has no such setting). Raises unless every call returned the status the kind expects.
CREATE FUNCTION bench.loop(impl text, kind text, calls integer, empty boolean DEFAULT false,
                           cache_off boolean DEFAULT false)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    k integer;
    fn text := CASE impl WHEN 'pat' THEN 'public.pat_validate' ELSE 'baseline.validate' END;
    what text;
    q text;
    t0 timestamptz;
    secs double precision;
    n bigint;
BEGIN
    SELECT count(*) INTO k FROM bench.sample AS s WHERE s.impl = loop.impl AND s.kind = loop.kind;
    IF k = 0 THEN
        RAISE EXCEPTION 'no sample for % %', impl, kind;
    END IF;
    IF cache_off THEN
        IF current_setting('pat.token_cache_size', true) IS NULL THEN
            RETURN NULL;
        END IF;
        PERFORM set_config('pat.token_cache_size', '0', true);
    END IF;
    what := CASE WHEN empty THEN 'count(*) FILTER (WHERE s.token IS NOT NULL)'
                 ELSE format('count(*) FILTER (WHERE (%s(s.token, %L)).status = %L)',
                             fn, '{catalog:read}', kind) END;
    -- generate_series in the select list streams (in FROM it would be materialized first).
    q := format('SELECT %s FROM (SELECT generate_series(0, %s) AS g) AS gs'
                ' JOIN bench.sample AS s ON s.impl = %L AND s.kind = %L AND s.i = 1 + gs.g %% %s',
                what, calls - 1, impl, kind, k);
    t0 := clock_timestamp();
    EXECUTE q INTO n;
    secs := extract(epoch FROM clock_timestamp() - t0);
    IF n <> calls THEN
        RAISE EXCEPTION '% %: % of % calls returned status %', impl, kind, n, calls, kind;
    END IF;
    RETURN secs * 1e6 / calls;
END
$$;

-- Index and sequential scans per call of the check on the first `calls` sample tokens of a
-- kind, counted in this transaction (0 for malformed input means no table was touched).
CREATE FUNCTION bench.scans_per_call(impl text, kind text, calls integer)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    before bigint;
    after bigint;
    schema_name text := CASE impl WHEN 'pat' THEN 'pat' ELSE 'baseline' END;
    fn text := CASE impl WHEN 'pat' THEN 'public.pat_validate' ELSE 'baseline.validate' END;
BEGIN
    SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) INTO before
    FROM pg_stat_xact_user_tables WHERE schemaname = schema_name;
    EXECUTE format('SELECT count(*) FROM bench.sample AS s, LATERAL %s(s.token, %L) AS v'
                   ' WHERE s.impl = %L AND s.kind = %L AND s.i <= %s',
                   fn, '{catalog:read}', impl, kind, calls);
    SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) INTO after
    FROM pg_stat_xact_user_tables WHERE schemaname = schema_name;
    RETURN (after - before)::double precision / calls;
END
$$;

-- The working set, hot set and churn pool: w + pool kept tokens per implementation that no
-- sample took (so none is revoked), in random order, marked used = 'work' / 'churn'.
CREATE FUNCTION bench.make_work(w integer, hot integer, pool integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    short text;
BEGIN
    SELECT string_agg(format('%s has %s', impl, n), ', ') INTO short FROM (
        SELECT i.impl, count(k.impl) AS n
        FROM unnest('{pat,baseline}'::text[]) AS i(impl)
        LEFT JOIN bench.kept AS k ON k.impl = i.impl AND k.used IS NULL
        GROUP BY i.impl HAVING count(k.impl) < w + pool
    ) AS s;
    IF short IS NOT NULL THEN
        RAISE EXCEPTION 'not enough unused kept tokens for a working set of % and a churn pool of % per implementation (%): lower BENCH_WORKING_SET',
            w, pool, short;
    END IF;
    CREATE TEMP TABLE picked (impl text, used text, rn integer, token text, token_id uuid)
        ON COMMIT DROP;
    WITH pick AS (
        SELECT token_id, row_number() OVER (PARTITION BY impl ORDER BY random()) AS rn
        FROM bench.kept WHERE used IS NULL
    ), chosen AS (
        UPDATE bench.kept AS kp
        SET used = CASE WHEN p.rn <= w THEN 'work' ELSE 'churn' END
        FROM pick AS p
        WHERE kp.token_id = p.token_id AND p.rn <= w + pool
        RETURNING kp.impl, kp.used, p.rn, kp.token, kp.token_id
    )
    INSERT INTO picked SELECT * FROM chosen;
    -- Without statistics the self-join below is planned as a nested loop: quadratic.
    ANALYZE picked;

    DELETE FROM bench.work;
    DELETE FROM bench.hot;
    DELETE FROM bench.churn_pool;
    INSERT INTO bench.work (id, pat, baseline)
    SELECT p.rn, p.token, b.token
    FROM picked AS p JOIN picked AS b ON b.rn = p.rn AND b.impl = 'baseline'
    WHERE p.impl = 'pat' AND p.used = 'work';
    INSERT INTO bench.hot SELECT * FROM bench.work WHERE id <= hot;
    INSERT INTO bench.churn_pool (impl, id, token_id)
    SELECT impl, rn - w, token_id FROM picked WHERE used = 'churn';
    PERFORM setval('bench.churn_next_pat', 1, false);
    PERFORM setval('bench.churn_next_baseline', 1, false);
END
$$;

-- The next token of the churn pool. Raises when the pool is used up, so the churn pgbench fails
-- (and the run with it) instead of silently revoking nothing.
CREATE FUNCTION bench.churn_token(impl text) RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    k bigint := nextval(format('bench.churn_next_%s', impl));
    t uuid;
BEGIN
    SELECT p.token_id INTO t FROM bench.churn_pool AS p
    WHERE p.impl = churn_token.impl AND p.id = k;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the churn pool of % is used up (token %)', impl, k;
    END IF;
    RETURN t;
END
$$;

-- First checks, in a new session (psql -c): net µs per check of the n working-set tokens with
-- ids first_id .. first_id + n - 1, which this session has not checked before. First it checks
-- one other working-set token of every user, so pg_pat has every user's roles cached and both
-- implementations have paid their once-per-session set-up (plans, function lookups); what is
-- left is the cost of a token the session has not seen, from a user it knows. Net of the same
-- fetch from bench.work without the check. Raises unless every check returned valid.
CREATE FUNCTION bench.first_checks(impl text, first_id integer, n integer)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    col text := CASE impl WHEN 'pat' THEN 'pat' ELSE 'baseline' END;
    fn text := CASE impl WHEN 'pat' THEN 'public.pat_validate' ELSE 'baseline.validate' END;
    tokens text := CASE impl WHEN 'pat' THEN 'pat.tokens' ELSE 'baseline.tokens' END;
    last_id integer := first_id + n - 1;
    warm bigint;
    users bigint;
    ok bigint;
    t0 timestamptz;
    fetch_secs double precision;
    check_secs double precision;
BEGIN
    IF last_id > (SELECT max(id) FROM bench.work) THEN
        RAISE EXCEPTION 'first checks: no working-set tokens % .. %', first_id, last_id;
    END IF;
    EXECUTE format($q$
        SELECT count(*) FILTER (WHERE (%s(u.token, '{catalog:read}')).valid), count(*) FROM (
            SELECT DISTINCT ON (t.user_id) k.token
            FROM bench.kept AS k JOIN %s AS t ON t.token_id = k.token_id
            WHERE k.impl = %L AND k.used = 'work'
              AND k.token NOT IN (SELECT w.%I FROM bench.work AS w WHERE w.id BETWEEN %s AND %s)
            ORDER BY t.user_id, k.token_id) AS u$q$,
        fn, tokens, impl, col, first_id, last_id) INTO warm, users;
    IF warm <> users OR users = 0 THEN
        RAISE EXCEPTION 'first checks %: % of % warm-up checks valid', impl, warm, users;
    END IF;

    t0 := clock_timestamp();
    EXECUTE format('SELECT count(*) FILTER (WHERE w.%I IS NOT NULL) FROM bench.work AS w'
                   ' WHERE w.id BETWEEN %s AND %s', col, first_id, last_id) INTO ok;
    fetch_secs := extract(epoch FROM clock_timestamp() - t0);
    t0 := clock_timestamp();
    EXECUTE format('SELECT count(*) FILTER (WHERE (%s(w.%I, %L)).valid) FROM bench.work AS w'
                   ' WHERE w.id BETWEEN %s AND %s', fn, col, '{catalog:read}', first_id, last_id)
        INTO ok;
    check_secs := extract(epoch FROM clock_timestamp() - t0);
    IF ok <> n THEN
        RAISE EXCEPTION 'first checks %: % of % checks valid', impl, ok, n;
    END IF;
    RETURN (check_secs - fetch_secs) * 1e6 / n;
END
$$;

-- pg_pat's token cache in one session after `draws` checks of uniformly random working-set
-- tokens (what one pgbench client of a working-set cell does), recorded as info rows
-- 'cache <column>' of pat_token_cache_stats() (a pg_pat 1.3 function: only call it if it exists).
CREATE FUNCTION bench.cache_after_random_checks(draws integer, scale text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n_work integer;
    ok bigint;
BEGIN
    SELECT count(*) INTO n_work FROM bench.work;
    -- The sort in the subquery keeps the draws in their random order (a hash join would not).
    SELECT count(*) FILTER (WHERE (pat_validate(r.pat, '{catalog:read}')).valid) INTO ok FROM (
        SELECT w.pat
        FROM (SELECT g, 1 + floor(random() * n_work)::integer AS id
              FROM generate_series(1, draws) AS g) AS d
        JOIN bench.work AS w ON w.id = d.id
        ORDER BY d.g OFFSET 0) AS r;
    IF ok <> draws THEN
        RAISE EXCEPTION 'cache stats: % of % checks valid', ok, draws;
    END IF;
    -- Every numeric column, whichever the installed version's are (before 1.10: this backend's
    -- cache only; since: the shared cache, and this backend's as backend_*).
    INSERT INTO bench.results
    SELECT 'info', 'cache ' || c.key, scale, 1, c.value::double precision
    FROM pat_token_cache_stats() AS s, jsonb_each_text(to_jsonb(s)) AS c(key, value)
    WHERE jsonb_typeof(to_jsonb(s) -> c.key) = 'number';
    INSERT INTO bench.results VALUES ('info', 'cache draws', scale, 1, draws);
END
$$;

-- The calling backend's private memory (its anonymous pages), kB.
CREATE FUNCTION bench.anonymous_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/self/smaps_rollup'), 'Anonymous:\s+(\d+) kB'))[1]::bigint
$$;

-- Median of a measurement over its repetitions.
CREATE FUNCTION bench.med(p_section text, p_metric text, p_scale text)
RETURNS double precision LANGUAGE sql STABLE AS $$
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY value) FROM bench.results
    WHERE section = p_section AND metric = p_metric AND scale = p_scale
$$;

-- Median over repetitions of (loop - empty loop of the same repetition): net µs per call.
CREATE FUNCTION bench.net(p_metric text, p_scale text)
RETURNS double precision LANGUAGE sql STABLE AS $$
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r.value - e.value)
    FROM bench.results AS r
    JOIN bench.results AS e ON e.section = 'loop' AND e.metric = 'empty loop'
                           AND e.scale = r.scale AND e.rep = r.rep
    WHERE r.section = 'loop' AND r.metric = p_metric AND r.scale = p_scale
$$;

-- The result table, as markdown lines. s, l: the labels of the two scales. The cost column is
-- cost at l / cost at s: µs ratio, or TPS at s / TPS at l (above 1: dearer with more tokens).
-- ws, hot: the labels of the working and hot sets of the rows under load (measured at l only;
-- NULL: no such section).
CREATE FUNCTION bench.report(s text, l text, ws text DEFAULT NULL, hot text DEFAULT NULL)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r record;
    a double precision;
    b double precision;
    c double precision;
    p double precision;
    au double precision;
    bl double precision;
    target text;
    nc text := 'new connection per check (pgbench -C)';
BEGIN
    RETURN NEXT format('| measurement | %s tokens | %s tokens | cost %s / %s | target (at %s) |',
                       s, l, l, s, l);
    RETURN NEXT '|---|---:|---:|---:|---|';

    RETURN NEXT '| **over the wire: transactions/s** (pgbench, median) | | | | |';
    FOR r IN SELECT * FROM (VALUES
            (1, 'SELECT 1'), (2, 'primary-key lookup (plain table)'),
            (3, 'same parameters, no check'),
            (4, 'pat_validate valid'), (5, 'pat_validate valid, one column'),
            (6, 'pat_authenticate valid'), (7, 'pat_validate malformed'),
            (8, 'pat_validate revoked'), (9, 'baseline.validate valid'),
            (10, 'baseline.validate malformed'), (11, 'baseline.validate revoked')) AS v(o, m)
            ORDER BY o LOOP
        a := bench.med('wire', r.m, s);
        b := bench.med('wire', r.m, l);
        RETURN NEXT format('| %s | %s | %s | %s | |', r.m, bench.fmt(a, 0), bench.fmt(b, 0),
                           bench.fmt(a / nullif(b, 0), 2));
    END LOOP;
    a := bench.med('wire', 'pat_validate valid', s) / bench.med('wire', 'SELECT 1', s);
    b := bench.med('wire', 'pat_validate valid', l) / bench.med('wire', 'SELECT 1', l);
    RETURN NEXT format('| ratio pat_validate valid / SELECT 1 | %s | %s | | ≥ 0.90: %s |',
                       bench.fmt(a, 3), bench.fmt(b, 3), bench.verdict(b >= 0.90));
    a := bench.med('wire', 'same parameters, no check', s) / bench.med('wire', 'SELECT 1', s);
    b := bench.med('wire', 'same parameters, no check', l) / bench.med('wire', 'SELECT 1', l);
    RETURN NEXT format('| ratio same parameters, no check / SELECT 1 | %s | %s | | |',
                       bench.fmt(a, 3), bench.fmt(b, 3));
    FOR r IN SELECT * FROM unnest('{valid,malformed,revoked}'::text[]) WITH ORDINALITY AS v(k, o)
             ORDER BY o LOOP
        a := bench.med('wire', 'pat_validate ' || r.k, s)
             / bench.med('wire', 'baseline.validate ' || r.k, s);
        b := bench.med('wire', 'pat_validate ' || r.k, l)
             / bench.med('wire', 'baseline.validate ' || r.k, l);
        RETURN NEXT format('| ratio pat_validate / baseline, %s | %s | %s | | |',
                           r.k, bench.fmt(a, 2), bench.fmt(b, 2));
    END LOOP;

    RETURN NEXT '| **inside the server: µs per call** (loop in one statement, net of the empty loop, median) | | | | |';
    a := bench.med('loop', 'empty loop', s);
    b := bench.med('loop', 'empty loop', l);
    RETURN NEXT format('| empty loop (subtracted from the rows below) | %s | %s | | |',
                       bench.fmt(a, 3), bench.fmt(b, 3));
    FOR r IN SELECT * FROM (VALUES
            (1, 'pat_validate valid'), (2, 'pat_validate valid, cache off'),
            (3, 'pat_validate malformed'), (4, 'pat_validate revoked'),
            (5, 'pat_validate not_found'),
            (6, 'baseline.validate valid'), (7, 'baseline.validate malformed'),
            (8, 'baseline.validate revoked'), (9, 'baseline.validate not_found')) AS v(o, m)
            ORDER BY o LOOP
        a := bench.net(r.m, s);
        b := bench.net(r.m, l);
        target := '';
        IF r.m = 'pat_validate valid' THEN
            target := format('≤ 1 µs: %s; cost ≤ 1.3: %s', bench.verdict(b <= 1.0),
                             bench.verdict(b / nullif(a, 0) <= 1.3));
        END IF;
        RETURN NEXT format('| %s | %s | %s | %s | %s |', r.m, bench.fmt(a, 3), bench.fmt(b, 3),
                           bench.fmt(b / nullif(a, 0), 2), target);
    END LOOP;
    FOR r IN SELECT * FROM unnest('{valid,malformed,revoked,not_found}'::text[])
                           WITH ORDINALITY AS v(k, o) ORDER BY o LOOP
        a := bench.net('baseline.validate ' || r.k, s) / nullif(bench.net('pat_validate ' || r.k, s), 0);
        b := bench.net('baseline.validate ' || r.k, l) / nullif(bench.net('pat_validate ' || r.k, l), 0);
        RETURN NEXT format('| ratio baseline / pat_validate (times faster), %s | %s | %s | | %s |',
                           r.k, bench.fmt(a, 1), bench.fmt(b, 1),
                           CASE WHEN r.k = 'valid' THEN '≥ 5: ' || bench.verdict(b >= 5) ELSE '' END);
    END LOOP;
    FOR r IN SELECT * FROM (VALUES
            (1, 'pat_validate valid, first check in a session'),
            (2, 'pat_validate valid, repeated'),
            (3, 'pat_validate malformed'),
            (4, 'baseline.validate valid'),
            (5, 'baseline.validate malformed')) AS v(o, m)
            ORDER BY o LOOP
        a := bench.med('info', 'scans ' || r.m, s);
        b := bench.med('info', 'scans ' || r.m, l);
        target := CASE WHEN r.m = 'pat_validate malformed'
                       THEN '0 (no table touched): ' || bench.verdict(b = 0) ELSE '' END;
        RETURN NEXT format('| table/index scans per call, %s | %s | %s | | %s |',
                           r.m, bench.fmt(a, 2), bench.fmt(b, 2), target);
    END LOOP;
    FOR r IN SELECT * FROM (VALUES (1, 'pat'), (2, 'baseline')) AS v(o, i) ORDER BY o LOOP
        RETURN NEXT format('| rows written during the wire runs (last-used), %s | %s in %s min | %s in %s min | | ≤ 1 per token per minute: %s |',
                           r.i,
                           bench.fmt(bench.med('info', 'writes ' || r.i, s), 0),
                           bench.fmt(bench.med('info', 'wire minutes', s), 1),
                           bench.fmt(bench.med('info', 'writes ' || r.i, l), 0),
                           bench.fmt(bench.med('info', 'wire minutes', l), 1),
                           bench.verdict(bench.med('info', 'writes ' || r.i, l)
                                         <= ceil(bench.med('info', 'wire minutes', l)) + 1));
    END LOOP;

    RETURN NEXT format('| **creating tokens: tokens/s** (API, batches of %s, median; tables growing from %s) | | | | |',
                       bench.fmt(bench.med('info', 'create batch', 'all'), 0), s);
    a := bench.med('create', 'pat_create', 'all');
    b := bench.med('create', 'baseline.create_token', 'all');
    RETURN NEXT format('| pat_create | %s | | | |', bench.fmt(a, 0));
    RETURN NEXT format('| baseline.create_token | %s | | | |', bench.fmt(b, 0));
    RETURN NEXT format('| ratio pat_create / baseline.create_token | %s | | | ≥ 1.0 (pat_create writes an audit row, the baseline none): %s |',
                       bench.fmt(a / nullif(b, 0), 2), bench.verdict(a / b >= 1.0));
    RETURN NEXT format('| in the server, µs per pat_create (batches) | %s | | | |', bench.fmt(1e6 / nullif(a, 0), 1));
    RETURN NEXT format('| in the server, µs per baseline.create_token (batches) | %s | | | |', bench.fmt(1e6 / nullif(b, 0), 1));
    a := bench.med('create', 'pat_create, one per transaction', 'all');
    b := bench.med('create', 'baseline.create_token, one per transaction', 'all');
    IF a IS NOT NULL THEN
        RETURN NEXT '| **creating one token per transaction: transactions/s** (pgbench -c 1, fsync and synchronous_commit on, tables at the large scale) | | | | |';
        RETURN NEXT format('| pat_create | %s | | | |', bench.fmt(a, 0));
        RETURN NEXT format('| baseline.create_token | %s | | | |', bench.fmt(b, 0));
        RETURN NEXT format('| ratio pat_create / baseline.create_token, one per transaction | %s | | | |', bench.fmt(a / nullif(b, 0), 2));
    END IF;

    IF ws IS NULL THEN
        RETURN;
    END IF;
    RETURN NEXT format('| **under load (%s): transactions/s** (pgbench, median; each transaction fetches one random token of a set from a table and checks it: working set of %s, hot set of %s tokens per implementation; churn: a second pgbench at %s transactions/s, each revoking a token and granting a new user a role) | | | | |',
                       l, ws, hot, bench.fmt(bench.med('info', 'churn rate', l), 0));
    FOR r IN SELECT * FROM (VALUES
            (1, 'working set ' || ws, ''), (2, 'working set ' || ws, ', with churn'),
            (3, 'hot ' || hot, ''), (4, 'hot ' || hot, ', with churn')) AS v(o, g, sfx)
            ORDER BY o LOOP
        c := bench.med('wire', r.g || ': control (fetch, no check)' || r.sfx, l);
        p := bench.med('wire', r.g || ': pat_validate' || r.sfx, l);
        au := bench.med('wire', r.g || ': pat_authenticate' || r.sfx, l);
        bl := bench.med('wire', r.g || ': baseline.validate' || r.sfx, l);
        RETURN NEXT bench.large_row(r.g || ': control (fetch, no check)' || r.sfx, bench.fmt(c, 0));
        RETURN NEXT bench.large_row(r.g || ': pat_validate' || r.sfx, bench.fmt(p, 0));
        RETURN NEXT bench.large_row(r.g || ': pat_authenticate' || r.sfx, bench.fmt(au, 0));
        RETURN NEXT bench.large_row(r.g || ': baseline.validate' || r.sfx, bench.fmt(bl, 0));
        RETURN NEXT bench.large_row('ratio pat_validate / baseline.validate, ' || r.g || r.sfx,
                                    bench.fmt(p / nullif(bl, 0), 2),
                                    CASE WHEN r.o = 2 THEN '≥ 3: ' || bench.verdict(p / bl >= 3) ELSE '' END);
        RETURN NEXT bench.large_row('ratio pat_validate / control, ' || r.g || r.sfx,
                                    bench.fmt(p / nullif(c, 0), 3),
                                    CASE WHEN r.o = 2 THEN '≥ 0.80: ' || bench.verdict(p / c >= 0.80) ELSE '' END);
        RETURN NEXT bench.large_row('ratio pat_authenticate / control, ' || r.g || r.sfx,
                                    bench.fmt(au / nullif(c, 0), 3));
    END LOOP;
    FOR r IN SELECT * FROM (VALUES
            (1, 'hot ' || hot, 'pat_validate'), (2, 'hot ' || hot, 'pat_authenticate'),
            (3, 'hot ' || hot, 'baseline.validate'), (4, 'hot ' || hot, 'control (fetch, no check)'),
            (5, 'working set ' || ws, 'pat_validate'),
            (6, 'working set ' || ws, 'baseline.validate')) AS v(o, g, f)
            ORDER BY o LOOP
        a := bench.med('wire', r.g || ': ' || r.f || ', with churn', l)
             / bench.med('wire', r.g || ': ' || r.f, l);
        RETURN NEXT bench.large_row(format('ratio with churn / without, %s: %s', r.g, r.f),
                                    bench.fmt(a, 3),
                                    CASE WHEN r.o = 1 THEN '≥ 0.9: ' || bench.verdict(a >= 0.9) ELSE '' END);
    END LOOP;
    SELECT min(v.med), max(v.med) INTO a, b FROM (
        SELECT bench.med('info', metric, l) AS med FROM bench.results
        WHERE section = 'info' AND scale = l AND metric LIKE 'churn tps: %' GROUP BY metric) AS v;
    RETURN NEXT bench.large_row('churn achieved (transactions/s, lowest and highest cell median)',
                                bench.fmt(a, 1) || ' – ' || bench.fmt(b, 1),
                                format('asked: %s', bench.fmt(bench.med('info', 'churn rate', l), 0)));
    FOR r IN SELECT * FROM unnest('{8,64}'::text[]) WITH ORDINALITY AS v(n, o) ORDER BY o LOOP
        c := bench.med('wire', format('working set %s, %s connections: control (fetch, no check)', ws, r.n), l);
        p := bench.med('wire', format('working set %s, %s connections: pat_validate', ws, r.n), l);
        IF p IS NULL THEN
            CONTINUE;
        END IF;
        RETURN NEXT bench.large_row(format('working set %s, %s connections: control (fetch, no check)', ws, r.n), bench.fmt(c, 0));
        RETURN NEXT bench.large_row(format('working set %s, %s connections: pat_validate', ws, r.n), bench.fmt(p, 0));
        RETURN NEXT bench.large_row(format('ratio pat_validate / control, working set %s, %s connections', ws, r.n),
                                    bench.fmt(p / nullif(c, 0), 3));
    END LOOP;
    a := bench.med('wire', format('working set %s, 64 connections: pat_validate', ws), l)
         / bench.med('wire', format('working set %s, 8 connections: pat_validate', ws), l);
    IF a IS NOT NULL THEN
        RETURN NEXT bench.large_row('ratio pat_validate checks/s, 64 connections / 8 connections',
                                    bench.fmt(a, 3), '≥ 1.0 (no lock collapse): ' || bench.verdict(a >= 1.0));
    END IF;
    c := bench.med('wire', nc || ': control (fetch, no check)', l);
    p := bench.med('wire', nc || ': pat_validate', l);
    bl := bench.med('wire', nc || ': baseline.validate', l);
    RETURN NEXT bench.large_row(nc || ': control (fetch, no check)', bench.fmt(c, 0));
    RETURN NEXT bench.large_row(nc || ': pat_validate', bench.fmt(p, 0));
    RETURN NEXT bench.large_row(nc || ': baseline.validate', bench.fmt(bl, 0));
    RETURN NEXT bench.large_row('ratio pat_validate / baseline.validate, new connection per check',
                                bench.fmt(p / nullif(bl, 0), 2));
    RETURN NEXT bench.large_row('ratio pat_validate / control, new connection per check',
                                bench.fmt(p / nullif(c, 0), 3));
    IF bench.med('info', 'cache draws', l) IS NOT NULL THEN
        RETURN NEXT bench.large_row(
            format('pg_pat token cache of one session after %s random checks of the working set: hit rate',
                   bench.fmt(bench.med('info', 'cache draws', l), 0)),
            bench.fmt(coalesce(bench.med('info', 'cache backend_hits', l), bench.med('info', 'cache hits', l))
                      / nullif(coalesce(bench.med('info', 'cache backend_hits', l), bench.med('info', 'cache hits', l))
                               + coalesce(bench.med('info', 'cache backend_misses', l), bench.med('info', 'cache misses', l)), 0), 3));
        RETURN NEXT bench.large_row(
            'the server''s cache: tokens / MB / evictions / invalidations (before 1.10: the session''s)',
            format('%s / %s / %s / %s',
                   bench.fmt(bench.med('info', 'cache tokens', l), 0),
                   bench.fmt(bench.med('info', 'cache bytes', l) / 1048576, 1),
                   bench.fmt(coalesce(bench.med('info', 'cache evictions', l), bench.med('info', 'cache evicted', l)), 0),
                   bench.fmt(coalesce(bench.med('info', 'cache invalidations', l), bench.med('info', 'cache dropped', l)), 0)));
    END IF;
    IF bench.med('info', 'pool connections', l) IS NOT NULL THEN
        RETURN NEXT format('| **pooled connections (%s): %s held open at once, each checking %s random tokens of the working set twice, one check per statement** | | | | |',
                           l, bench.fmt(bench.med('info', 'pool connections', l), 0),
                           bench.fmt(bench.med('info', 'pool draws', l), 0));
        FOR r IN SELECT * FROM (VALUES
                (1, 'control', 'control: fetch the token text only'),
                (2, 'pat', 'pat_validate')) AS v(o, impl, m)
                ORDER BY o LOOP
            a := bench.med('pool', r.impl || ' memory growth kB', l) / 1024;
            b := bench.med('pool', r.impl || ' pass 1 checks/s', l);
            c := bench.med('pool', r.impl || ' pass 2 checks/s', l);
            RETURN NEXT bench.large_row(r.m || ': private memory growth per connection, MB',
                                        bench.fmt(a, 2),
                                        CASE WHEN r.impl = 'pat' THEN '≤ 1 MB: ' || bench.verdict(a <= 1) ELSE '' END);
            RETURN NEXT bench.large_row(r.m || ': checks/s per connection, first pass / second pass',
                                        bench.fmt(b, 0) || ' / ' || bench.fmt(c, 0),
                                        CASE WHEN r.impl = 'pat' THEN '≥ 0.95: ' || bench.fmt(b / nullif(c, 0), 2) || ', ' || bench.verdict(b / nullif(c, 0) >= 0.95) ELSE '' END);
        END LOOP;
    END IF;

    RETURN NEXT format('| **under load (%s): the issue''s other targets** (wire: medians of the over-the-wire cells above; µs: inside the server, net) | | | | |', l);
    FOR r IN SELECT * FROM (VALUES
            (1, 'pat_validate valid, one column', 0.90),
            (2, 'pat_authenticate valid', 0.95)) AS v(o, m, t)
            ORDER BY o LOOP
        a := bench.med('wire', r.m, s) / bench.med('wire', 'same parameters, no check', s);
        b := bench.med('wire', r.m, l) / bench.med('wire', 'same parameters, no check', l);
        RETURN NEXT format('| ratio %s / same parameters, no check | %s | %s | | ≥ %s: %s |',
                           r.m, bench.fmt(a, 3), bench.fmt(b, 3), r.t, bench.verdict(b >= r.t));
    END LOOP;
    p := bench.med('loop', 'pat_validate first check (user known)', l);
    bl := bench.med('loop', 'baseline.validate first check', l);
    RETURN NEXT bench.large_row('pat_validate first check (user known), µs', bench.fmt(p, 3),
                                '≤ 3 µs: ' || bench.verdict(p <= 3));
    RETURN NEXT bench.large_row('baseline.validate first check, µs', bench.fmt(bl, 3));
    RETURN NEXT bench.large_row('ratio baseline / pat_validate (times faster), first check',
                                bench.fmt(bl / nullif(p, 0), 1));
    a := bench.net('pat_validate valid', s);
    b := bench.net('pat_validate valid', l);
    RETURN NEXT format('| pat_validate valid, warm check (the in-server row above), µs | %s | %s | | ≤ 0.7 µs: %s |',
                       bench.fmt(a, 3), bench.fmt(b, 3), bench.verdict(b <= 0.7));
END
$$;

-- A row with a value at the large scale only.
CREATE FUNCTION bench.large_row(metric text, value text, target text DEFAULT '') RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('| %s | | %s | | %s |', metric, value, target)
$$;

CREATE FUNCTION bench.fmt(x double precision, digits integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN x IS NULL OR x = 'NaN' THEN 'n/a'
                ELSE round(x::numeric, digits)::text END
$$;

CREATE FUNCTION bench.verdict(ok boolean) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN ok THEN 'met' WHEN NOT ok THEN '**missed**' ELSE 'n/a' END
$$;
