# A database whose pg_pat is older than 1.2 (no pat.token_checks, no pat_merge_usage) running
# this library: nothing could ever write its checks out, so a worker that tried would log an
# ERROR every interval while the checks stayed in shared memory for good.
#  * checks there are not counted, and the worker logs nothing across twenty intervals;
#  * usage counted before the extension was recreated at 1.0 is dropped by the flush, with a LOG
#    line, instead of staying in shared memory;
#  * after ALTER EXTENSION pg_pat UPDATE, a session that checked tokens under the old schema
#    counts them again, and the worker writes them.
# pat.pending_checks() comes with 1.2: on 1.0 the test declares it itself (probe schema).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('old_schema_usage');
# No flush until the test asks for it (a reload wakes the worker, which then flushes).
$node->append_conf('postgresql.conf', "pat.usage_flush_interval = '1h'\n");
$node->start;

my $PROBE = q{
CREATE SCHEMA probe;
CREATE FUNCTION probe.pending_checks(token_id uuid, since date,
                                     OUT day date, OUT outcome text, OUT checks bigint)
    RETURNS SETOF record AS '$libdir/pg_pat', 'pat_pending_checks' LANGUAGE C;
};
my $PENDING = 'SELECT coalesce(sum(checks), 0) FROM probe.pending_checks(NULL, NULL)';
my $log_offset = -s $node->logfile;

# --- usage counted under 1.9, then the extension recreated at 1.0 ---------------------------

# The checks are counted and the extension recreated in one transaction that first locks every
# pg_pat table: a flush woken meanwhile (any latch wakeup starts a round) waits, then fails on
# the dropped tables and puts the counts back, so they are pending for a 1.0 schema either way
# (and the flush after that drops them).
$node->safe_psql('postgres', 'CREATE DATABASE recreated');
$node->safe_psql('recreated', "CREATE EXTENSION pg_pat; $PROBE");
$node->safe_psql(
	'recreated', q{
BEGIN;
DO $$BEGIN
  EXECUTE (SELECT 'LOCK TABLE ' || string_agg(oid::regclass::text, ', ') || ' IN ACCESS EXCLUSIVE MODE'
             FROM pg_class WHERE relnamespace = 'pat'::regnamespace AND relkind IN ('r', 'p'));
END$$;
SELECT pat_validate('garbage'), pat_validate('garbage');
DROP EXTENSION pg_pat;
CREATE EXTENSION pg_pat VERSION '1.0';
COMMIT;
});
$node->append_conf('postgresql.conf', "pat.usage_flush_interval = '100ms'\n");
$node->reload;
ok( $node->wait_for_log(
		qr/pg_pat dropped the usage of \d+ tokens: pg_pat in database "recreated" is older than 1.2/,
		$log_offset),
	'the flush drops what it can never write, and says so');
is($node->safe_psql('recreated', $PENDING), '0', 'nothing stays pending');
$log_offset = -s $node->logfile;

# --- checks on a 1.0 schema ---------------------------------------------------------------

$node->safe_psql('postgres', 'CREATE DATABASE old10');
$node->safe_psql('old10', "CREATE EXTENSION pg_pat VERSION '1.0'; $PROBE");
my $token = $node->safe_psql('old10',
	"SELECT token FROM pat_create('alice', 'laptop', '{}', '30 days')");
my $session = $node->background_psql('old10', on_error_stop => 0);
is( PatNode::session_query(
		$session,
		"SELECT string_agg(status, ',' ORDER BY n)
		   FROM (VALUES (1, '$token'), (2, 'garbage'), (3, '$token')) t(n, x), pat_validate(x)",
		'checks on 1.0'),
	'valid,malformed,valid',
	'tokens validate on a 1.0 schema');
is(PatNode::session_query($session, $PENDING, 'pending on 1.0'),
	'0', 'on 1.0 checks are not counted');

# Twenty intervals: no ERROR, and no LOG about usage (nothing was counted).
sleep 2;
is(PatNode::session_query($session, $PENDING, 'still nothing pending'), '0',
	'nothing pending after twenty intervals');
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/ERROR|pat_merge_usage/, 'no error in the server log');
unlike($log, qr/pg_pat dropped the usage/, 'and no LOG about usage: nothing was counted');

# --- updated: the same session counts again, and the worker writes it ------------------------

$node->safe_psql('old10', 'ALTER EXTENSION pg_pat UPDATE');
PatNode::session_query($session, "SELECT pat_validate('$token')", 'check after the update');
ok( $node->poll_query_until(
		'old10', "SELECT coalesce(sum(checks), 0) FROM pat.token_checks WHERE outcome = 'valid'",
		'1'),
	'after ALTER EXTENSION UPDATE the session counts its checks, and the worker writes them')
  or diag(
	'still pending: ',
	PatNode::session_query($session, $PENDING, 'pending after the update'),
	"\npg_pat's processes:\n",
	$node->safe_psql(
		'postgres', "SELECT backend_type, datname, state, wait_event_type, wait_event
		             FROM pg_stat_activity WHERE backend_type LIKE 'pg_pat%'"));
$session->quit;

$node->stop;
done_testing();
