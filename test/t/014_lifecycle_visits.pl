# The lifecycle launcher visits a database without pg_pat 1.8 once, not every round, until an
# extension is created or updated: a committed CREATE EXTENSION pg_pat (not a rolled-back one,
# and not before its commit) and an ALTER EXTENSION pg_pat UPDATE to 1.8 each bring the worker
# back, and it queues the notices due there unasked. After DROP EXTENSION the next visit finds
# none and the database is skipped again. Each visit that finds no pg_pat logs one DEBUG1 line.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('lifecycle_visits');
$node->append_conf('postgresql.conf',
	"pat.lifecycle_interval = '100ms'\nlog_min_messages = debug1\n");
$node->start;

# How often a lifecycle worker found no pg_pat 1.8 in the database.
sub skips
{
	my ($db) = @_;
	my $log = slurp_file($node->logfile);
	my @lines = $log =~ /skipping database "\Q$db\E" until an extension is created/g;
	return scalar @lines;
}

# Waits until skips($db) is $count; true if it got there within the timeout.
sub wait_for_skips
{
	my ($db, $count) = @_;
	for (1 .. $PostgreSQL::Test::Utils::timeout_default * 10)
	{
		return 1 if skips($db) == $count;
		usleep(100_000);
	}
	return 0;
}

# Twenty rounds at 100 ms.
sub some_rounds { usleep(2_000_000) }

my $SETUP = q{
SELECT pat_define_scope('repo:read');
SELECT pat_define_role('reader', '{repo:read}');
SELECT pat_grant_role('alice', 'reader');
SELECT count(*) FROM pat_create('alice', 'expiring', '{repo:read}', now() + interval '7 days 1 second');
};

my $NOTICE_QUEUED = "SELECT count(*) = 1 FROM pat.notices WHERE kind = 'expires_in_7_days'";

$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql('postgres', 'CREATE DATABASE rolled');
ok(wait_for_skips('plain', 1), 'a database without pg_pat is visited');
some_rounds();
is(skips('plain'), 1, 'and then skipped, round after round');
is(skips('rolled'), 1, 'so is a second one');

# --- a rolled-back CREATE EXTENSION changes nothing; a committed one brings the worker back ---

$node->safe_psql('rolled', 'BEGIN; CREATE EXTENSION pg_pat; ROLLBACK;');
some_rounds();
is(skips('rolled'), 1, 'a rolled-back CREATE EXTENSION does not bring the worker back');

my $session = $node->background_psql('plain');
$session->query_safe('BEGIN');
$session->query_safe('CREATE EXTENSION pg_pat');
$session->query_safe($SETUP);
some_rounds();
is(skips('plain'), 1, 'nor does one still in progress');
$session->query_safe('COMMIT');
$session->quit;
ok($node->poll_query_until('plain', $NOTICE_QUEUED, 't'),
	'once CREATE EXTENSION commits, the worker visits again and queues the notice due, unasked');
ok(wait_for_skips('rolled', 2), 'every skipped database is visited again after it');
some_rounds();
is(skips('rolled'), 2, 'and then skipped again');
is(skips('plain'), 1, 'the database with pg_pat is never skipped');

# --- an update to 1.8 brings the worker back --------------------------------------------------

$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', "CREATE EXTENSION pg_pat VERSION '1.7'");
$node->safe_psql('old', $SETUP);
# Visited once before CREATE EXTENSION, maybe, and once after it.
some_rounds();
my $old_skips = skips('old');
ok($old_skips >= 1, 'a database with pg_pat 1.7 has no lifecycle tables: skipped');
some_rounds();
is(skips('old'), $old_skips, 'round after round');
$node->safe_psql('old', 'ALTER EXTENSION pg_pat UPDATE');
ok($node->poll_query_until('old', $NOTICE_QUEUED, 't'),
	'after ALTER EXTENSION pg_pat UPDATE the worker queues the notice due there');

# --- DROP EXTENSION: the next visit finds none -----------------------------------------------

$node->safe_psql('plain', 'DROP EXTENSION pg_pat');
ok(wait_for_skips('plain', 2), 'after DROP EXTENSION the next visit finds no pg_pat');
some_rounds();
is(skips('plain'), 2, 'and the database is skipped from then on');

$node->stop;
done_testing();
