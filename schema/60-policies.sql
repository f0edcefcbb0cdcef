
-- Row level security on pat.tokens ==========================================================
-- An application role given direct access to pat.tokens sees and edits only the rows of the
-- user its transaction authenticated as (pat_authenticate). The API functions run as the
-- table owner, to whom the policies do not apply.
ALTER TABLE pat.tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tokens_readable_by_authenticated_user ON pat.tokens FOR SELECT
    USING (user_id OPERATOR(pg_catalog.=) @extschema@.pat_current_user());
CREATE POLICY tokens_editable_by_authenticated_user ON pat.tokens FOR UPDATE
    USING (user_id OPERATOR(pg_catalog.=) @extschema@.pat_current_user());
-- Whoever may define roles (the admin profile) may read every token row, for investigations.
CREATE POLICY tokens_readable_by_admins ON pat.tokens FOR SELECT
    USING (pg_catalog.has_function_privilege(
        '@extschema@.pat_define_role(pg_catalog.text, pg_catalog.text[], pg_catalog.bool)'
            ::pg_catalog.regprocedure,
        'EXECUTE'));
