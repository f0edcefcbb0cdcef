--
-- "No control characters" means C0, DEL and C1 (U+0080 to U+009F): a leak report's source
-- and an audit actor are shown to users and written to logs, where NEL (U+0085) breaks a line
-- and CSI (U+009B) starts a terminal escape. One rule (core has_control_character) serves
-- them and role names.
--
\set SHOW_CONTEXT never
SELECT pg_catalog.getdatabaseencoding() = 'UTF8' AS utf8;

SELECT pat_report_leaked(ARRAY['x'], E'found\u0085forged line');
\echo :SQLSTATE
SELECT pat_report_leaked(ARRAY['x'], E'\u009b31mred');
\echo :SQLSTATE
SELECT pat_report_leaked(ARRAY['x'], E'\u001b[31mred');
\echo :SQLSTATE
-- Printable characters beyond ASCII are fine, U+00A0 included.
SELECT pat_report_leaked(ARRAY['x'], E'caf\u00e9\u00a0scan') AS revoked;

BEGIN;
SELECT pat_set_actor(E'support:carol\u0085forged');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_set_actor(E'support:\u009b2Jcarol');
\echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT pat_set_actor(E'support:caf\u00e9');
SELECT pat_current_actor();
ROLLBACK;

SELECT pat_define_role(E'c1\u0085role', '{}');
\echo :SQLSTATE
