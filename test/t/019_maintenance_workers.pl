# pg_pat's maintenance runs as one launcher and at most pat.max_maintenance_workers workers, one
# per database at a time (src/pg/workers/launcher.hpp), which is what pg_stat_activity shows: on
# a primary, in every sample, exactly one launcher, and workers that come and go in many
# databases, never more than the limit at once (nor after a reload lowers it), never two in one
# database. On a hot standby exactly one launcher as well, the same process before and after a
# promotion, and it links the audit rows the old primary left pending without a restart.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('maintenance', allows_streaming => 1);
# Rounds every 100 ms in six databases keep the workers busy.
$node->append_conf(
	'postgresql.conf', "pat.lifecycle_interval = '100ms'\n"
	  . "pat.usage_flush_interval = '200ms'\n"
	  . "pat.audit_link_delay = '10ms'\n"
	  . "pat.max_maintenance_workers = 2\n");
$node->start;

my @databases = ('postgres', map { "maintenance$_" } 1 .. 5);
for my $db (@databases)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db") unless $db eq 'postgres';
	$node->safe_psql($db, 'CREATE EXTENSION pg_pat');
}
$node->safe_psql('postgres', 'CREATE TABLE samples (n int, backend_type text, datname text, pid int)');

# $count samples of pg_pat's processes, 10 ms apart, each read afresh (a transaction of its
# own: pg_stat_activity is read once per transaction), numbered from $first.
sub sample
{
	my ($first, $count) = @_;
	my $last = $first + $count - 1;
	$node->safe_psql(
		'postgres', qq{
DO \$\$
BEGIN
	FOR i IN $first..$last LOOP
		INSERT INTO samples
		SELECT i, backend_type, datname, pid FROM pg_stat_activity WHERE backend_type LIKE 'pg_pat%';
		COMMIT;
		PERFORM pg_sleep(0.01);
	END LOOP;
END
\$\$});
}

# What the samples numbered $first to $last show.
sub seen
{
	my ($first, $last, $what) = @_;
	my $in = "n BETWEEN $first AND $last";
	my %query = (
		not_one_launcher => "SELECT count(*) FROM generate_series($first, $last) AS g(n)
			WHERE (SELECT count(*) FROM samples s
			       WHERE s.n = g.n AND s.backend_type = 'pg_pat launcher') <> 1",
		most_workers => "SELECT coalesce(max(c), 0) FROM (SELECT count(*) AS c FROM samples
			WHERE $in AND backend_type = 'pg_pat worker' GROUP BY n) AS per_sample",
		two_in_one_database => "SELECT count(*) FROM (SELECT FROM samples
			WHERE $in AND backend_type = 'pg_pat worker' AND datname IS NOT NULL
			GROUP BY n, datname HAVING count(*) > 1) AS doubled",
		worker_databases => "SELECT count(DISTINCT datname) FROM samples
			WHERE $in AND backend_type = 'pg_pat worker'",
		worker_processes => "SELECT count(DISTINCT pid) FROM samples
			WHERE $in AND backend_type = 'pg_pat worker'",
		other_types => "SELECT count(*) FROM samples
			WHERE $in AND backend_type NOT IN ('pg_pat launcher', 'pg_pat worker')");
	return $node->safe_psql('postgres', $query{$what});
}

# --- a primary, at most two workers -----------------------------------------------------------

# Commits with audit rows in every database: link passes beside the lifecycle rounds.
for my $db (@databases)
{
	$node->safe_psql($db, "SELECT count(*) FROM pat_create('alice', 'in $db', '{}', '1 day')");
}
sample(1, 300);
note(sprintf('300 samples: at most %s workers at once, %s worker processes in %s databases',
		map { seen(1, 300, $_) } qw(most_workers worker_processes worker_databases)));
is(seen(1, 300, 'not_one_launcher'), '0', 'every sample shows exactly one launcher');
is(seen(1, 300, 'other_types'), '0', 'and no other kind of pg_pat process');
cmp_ok(seen(1, 300, 'most_workers'), '<=', 2, 'never more than pat.max_maintenance_workers workers');
is(seen(1, 300, 'two_in_one_database'), '0', 'never two workers in one database');
cmp_ok(seen(1, 300, 'worker_databases'), '>=', 4, 'workers visit the databases');
cmp_ok(seen(1, 300, 'worker_processes'), '>=', 10, 'workers come and go');

# --- a reload lowers the limit to one -------------------------------------------------------

$node->append_conf('postgresql.conf', "pat.max_maintenance_workers = 1\n");
$node->reload;
sleep 1;    # the workers started before the reload finish
sample(1001, 300);
is(seen(1001, 1300, 'not_one_launcher'), '0', 'after the reload, still exactly one launcher');
cmp_ok(seen(1001, 1300, 'most_workers'), '<=', 1, 'and at most one worker at a time');
cmp_ok(seen(1001, 1300, 'worker_databases'), '>=', 4, 'which still visits the databases');

# --- a standby, then promoted ----------------------------------------------------------------

$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('maintenance_standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
my $LAUNCHER = "SELECT string_agg(pid::text, ',') FROM pg_stat_activity
	WHERE backend_type = 'pg_pat launcher'";
ok($standby->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($LAUNCHER) AS l(pids)
	WHERE pids IS NOT NULL"), 'the standby runs a launcher');
my $standby_launcher = $standby->safe_psql('postgres', $LAUNCHER);
like($standby_launcher, qr/^\d+$/, 'exactly one');

# A row left pending on the primary (its worker held on the chain lock) reaches the standby.
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN');
$holder->query_safe('SELECT FROM pat.audit_chain_head FOR UPDATE');
$node->safe_psql('postgres', "SELECT count(*) FROM pat_create('bob', 'left pending', '{}', '1 day')");
$node->wait_for_catchup($standby);
isnt($standby->safe_psql('postgres', 'SELECT count(*) FROM pat.audit_pending'),
	'0', 'the standby has a pending audit row');
for (1 .. 20)
{
	is($standby->safe_psql('postgres', $LAUNCHER), $standby_launcher,
		'the same single launcher on the standby');
}
$holder->{run}->kill_kill;
$node->stop('immediate');

$standby->promote;
ok($standby->poll_query_until('postgres', 'SELECT count(*) = 0 FROM pat.audit_pending'),
	'after the promotion the launcher has the pending row linked');
is($standby->safe_psql('postgres', 'SELECT ok FROM pat_audit_verify()'), 't', 'the chain verifies');
is($standby->safe_psql('postgres', $LAUNCHER), $standby_launcher,
	'by the launcher that ran on the standby, still the only one');
$standby->safe_psql('postgres', "SELECT count(*) FROM pat_create('bob', 'promoted', '{}', '1 day')");
ok($standby->poll_query_until('postgres', 'SELECT count(*) = 0 FROM pat.audit_pending'),
	'a row committed after the promotion is linked too');

$standby->stop;
done_testing();
