# A fast shutdown while pg_pat's worker is linking audit rows: a launcher that waited for its
# worker, and lost the SIGTERM that came meanwhile, would never let the server shut down
# ("pg_ctl: server does not shut down"). Here the worker is held on the chain lock by an open
# transaction, deterministically, when the shutdown comes; the shutdown must complete, and after
# a restart the row is linked.
# Likewise a reload while a worker writing usage is held: a launcher that looked at it only when
# the old pat.usage_flush_interval had passed would do nothing for that long after the interval
# was shortened. Here the worker is held on pat.token_checks' lock when the reload comes; the
# checks counted after it must be written at the new interval.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('worker_shutdown');
$node->append_conf('postgresql.conf', "pat.audit_link_delay = '10ms'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_pat');

for my $round (1 .. 3)
{
	# Hold the chain lock, as a linker in progress would.
	my $holder = $node->background_psql('postgres');
	$holder->query_safe('BEGIN');
	$holder->query_safe('SELECT FROM pat.audit_chain_head FOR UPDATE');

	# A lifecycle row: the launcher starts a worker, which waits for the lock to link it.
	$node->safe_psql('postgres',
		"SELECT count(*) FROM pat_create('u', 'round $round', '{}', '1 day')");
	ok( $node->poll_query_until(
			'postgres',
			"SELECT count(*) > 0 FROM pg_stat_activity
			  WHERE backend_type = 'pg_pat worker' AND query = 'pg_pat: linking audit rows'
			    AND wait_event_type = 'Lock'"),
		"round $round: the worker waits for the chain lock");

	# The shutdown, bounded: before the fix it never completed.
	my $stopped = PostgreSQL::Test::Utils::system_log('pg_ctl', '-D', $node->data_dir,
		'-m', 'fast', '-t', '60', 'stop') == 0;
	ok($stopped, "round $round: a fast shutdown completes while the worker is held");
	$node->stop('immediate') unless $stopped;
	$holder->{run}->kill_kill;
	$node->_update_pid(0);

	$node->start;
	ok( $node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM pat.audit_pending'),
		"round $round: after the restart the row is linked");
}
is($node->safe_psql('postgres', 'SELECT ok::text || unlinked FROM pat_audit_verify()'),
	'true0', 'the chain verifies, nothing unlinked');

# --- a reload while a worker writing usage is held -------------------------------------------

$node->append_conf('postgresql.conf', "pat.usage_flush_interval = '1h'\n");
$node->reload;
my $token = PatNode::create_token($node, 'u', 'usage', '{}');
my $valid = "SELECT valid FROM pat_validate('$token->{token}')";
is($node->safe_psql('postgres', $valid), 't', 'a check is counted');

# Hold pat.token_checks, then wake the launcher (a reload changing nothing): the worker it starts
# to write usage waits for the lock.
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('LOCK TABLE pat.token_checks IN ACCESS EXCLUSIVE MODE');
$node->reload;
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity
		  WHERE backend_type = 'pg_pat worker' AND query = 'pg_pat: writing usage'
		    AND wait_event_type = 'Lock'"),
	'the worker writing usage waits for the lock');

# The reload that shortens the interval reaches the launcher while that worker is held.
my $log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "pat.usage_flush_interval = '100ms'\n");
$node->reload;
ok( $node->wait_for_log(qr/parameter "pat.usage_flush_interval" changed to "100ms"/, $log_offset),
	'the postmaster took the shorter interval');
sleep 1;    # the postmaster signals its children right after; let the launcher take it
$holder->query_safe('COMMIT');
$holder->quit;

# A check after the held flush is written at the new interval, not an hour later.
is($node->safe_psql('postgres', $valid), 't', 'another check is counted');
ok( $node->poll_query_until(
		'postgres',
		"SELECT coalesce(sum(checks), 0) FROM pat.token_checks WHERE outcome = 'valid'", '2'),
	'both checks are written: the launcher runs at the interval the reload set');

$node->stop;
done_testing();
