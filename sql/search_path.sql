-- A caller's search_path can never redirect what pg_pat runs: a schema placed before
-- pg_catalog shadows the functions and operators pg_pat uses, and every one of them raises
-- if called. Every API call below must succeed without touching them.
CREATE SCHEMA regress_shadow;
CREATE FUNCTION regress_shadow.shadow_called() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a shadowing object in regress_shadow was called';
END
$$;
CREATE FUNCTION regress_shadow.shadow_text_eq(text, text) RETURNS boolean
    LANGUAGE sql AS 'SELECT regress_shadow.shadow_called()';
CREATE FUNCTION regress_shadow.shadow_bytea_eq(bytea, bytea) RETURNS boolean
    LANGUAGE sql AS 'SELECT regress_shadow.shadow_called()';
CREATE FUNCTION regress_shadow.shadow_uuid_eq(uuid, uuid) RETURNS boolean
    LANGUAGE sql AS 'SELECT regress_shadow.shadow_called()';
CREATE FUNCTION regress_shadow.shadow_ts_lt(timestamptz, timestamptz) RETURNS boolean
    LANGUAGE sql AS 'SELECT regress_shadow.shadow_called()';
CREATE OPERATOR regress_shadow.= (LEFTARG = text, RIGHTARG = text,
                                  FUNCTION = regress_shadow.shadow_text_eq);
CREATE OPERATOR regress_shadow.= (LEFTARG = bytea, RIGHTARG = bytea,
                                  FUNCTION = regress_shadow.shadow_bytea_eq);
CREATE OPERATOR regress_shadow.= (LEFTARG = uuid, RIGHTARG = uuid,
                                  FUNCTION = regress_shadow.shadow_uuid_eq);
CREATE OPERATOR regress_shadow.< (LEFTARG = timestamptz, RIGHTARG = timestamptz,
                                  FUNCTION = regress_shadow.shadow_ts_lt);
CREATE FUNCTION regress_shadow.now() RETURNS timestamptz
    LANGUAGE sql AS 'SELECT CASE WHEN regress_shadow.shadow_called() THEN NULL::timestamptz END';
CREATE FUNCTION regress_shadow.length(text) RETURNS integer
    LANGUAGE sql AS 'SELECT CASE WHEN regress_shadow.shadow_called() THEN 0 END';
CREATE FUNCTION regress_shadow.btrim(text) RETURNS text
    LANGUAGE sql AS 'SELECT CASE WHEN regress_shadow.shadow_called() THEN '''' END';
CREATE FUNCTION regress_shadow.array_position(anycompatiblearray, anycompatible) RETURNS integer
    LANGUAGE sql AS 'SELECT CASE WHEN regress_shadow.shadow_called() THEN 0 END';
CREATE FUNCTION regress_shadow.unnest(text[]) RETURNS SETOF text
    LANGUAGE sql AS 'SELECT CASE WHEN regress_shadow.shadow_called() THEN '''' END';
CREATE FUNCTION regress_shadow.gen_random_uuid() RETURNS uuid
    LANGUAGE sql AS 'SELECT CASE WHEN regress_shadow.shadow_called() THEN NULL::uuid END';

-- The shadows work where the caller's search_path applies:
SET search_path = regress_shadow, public, pg_catalog;
SELECT 'a'::text = 'a'::text;
SELECT length('abc');

-- pg_pat does not use them.
SELECT pat_define_scope('shadow:read', 'read');
SELECT pat_define_scope('shadow:write');
SELECT pat_define_role('regress_shadow_role', '{shadow:read}');
SELECT pat_grant_role('shadow_user', 'regress_shadow_role');
SELECT array_agg(s) FROM pat_grantable_scopes('shadow_user') AS s;
CREATE TEMP TABLE shadow_tokens AS
    SELECT * FROM pat_create('shadow_user', 'shadow token', '{shadow:read}', '30 days');
SELECT v.valid, v.status, v.token_name, v.scopes
    FROM shadow_tokens t, pat_validate(t.token, '{shadow:read}') v;
SELECT v.status FROM shadow_tokens t, pat_validate(t.token, '{shadow:write}') v;
SELECT pat_authenticate(token, '{shadow:read}') FROM shadow_tokens;
SELECT pat_update(token_id, 'renamed') FROM shadow_tokens;
SELECT name, status FROM pat_list('shadow_user');
SELECT pat_revoke(token_id) FROM shadow_tokens;
SELECT v.status FROM shadow_tokens t, pat_validate(t.token) v;
SELECT pat_revoke_all('shadow_user');
SELECT pat_revoke_role('shadow_user', 'regress_shadow_role');

RESET search_path;
DROP SCHEMA regress_shadow CASCADE;
