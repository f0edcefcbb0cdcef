# The lifecycle schedule (src/pg/lifecycle/lifecycle_schedule.hpp), read from the DEBUG1 line
# each visit logs.
# Which databases: one without pg_pat 1.8 is visited once, not every round, until a change
# commits there: a committed CREATE EXTENSION pg_pat (not a rolled-back one, not before its
# commit, not one in another database) and an ALTER EXTENSION pg_pat UPDATE to 1.8 bring the
# worker back. After DROP EXTENSION the next visit finds none.
# How much a round reads: in full on the first visit, then only the tokens one of whose notices
# fell due since the last round; a notice that falls due with nothing changed is queued by such
# a round. What a round since the last could miss makes the next one full: a token committed
# after its notice fell due, a row inserted already due (back-dated), an expiry shortened.
# pat.max_inactivity, which reads the whole tokens table, is applied once per hundredth of the
# limit, not every round.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('lifecycle_schedule');
$node->append_conf('postgresql.conf',
	"pat.lifecycle_interval = '100ms'\nlog_min_messages = debug1\n");
$node->start;

# How many log lines match $pattern.
sub lines
{
	my ($pattern) = @_;
	my @found = slurp_file($node->logfile) =~ /$pattern/g;
	return scalar @found;
}

# Visits that found no pg_pat 1.8 in the database.
sub skips { lines(qr/skipping database "\Q$_[0]\E" until an extension is created/) }

# Rounds in the database: 'full' or 'incremental'.
sub rounds { lines(qr/$_[1] round in database "\Q$_[0]\E"/) }

# Waits until $count->() is $expected; true if it got there within the timeout.
sub wait_for
{
	my ($count, $expected) = @_;
	for (1 .. $PostgreSQL::Test::Utils::timeout_default * 10)
	{
		return 1 if $count->() == $expected;
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

# Whether the token named $name has its $kind notice.
sub notice_queued
{
	my ($name, $kind) = @_;
	return "SELECT count(*) = 1 FROM pat.notices WHERE token_name = '$name' AND kind = '$kind'";
}

# --- which databases ------------------------------------------------------------------------

$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->safe_psql('postgres', 'CREATE DATABASE rolled');
ok(wait_for(sub { skips('plain') }, 1), 'a database without pg_pat is visited');
some_rounds();
is(skips('plain'), 1, 'and then skipped, round after round');
is(skips('rolled'), 1, 'so is a second one');

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
ok($node->poll_query_until('plain', notice_queued('expiring', 'expires_in_7_days'), 't'),
	'once CREATE EXTENSION commits, the worker visits again and queues the notice due, unasked');
some_rounds();
is(skips('rolled'), 1, 'a change in one database does not bring the worker back to another');

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
ok($node->poll_query_until('old', notice_queued('expiring', 'expires_in_7_days'), 't'),
	'after ALTER EXTENSION pg_pat UPDATE the worker queues the notice due there');

# --- how much a round reads -------------------------------------------------------------------

# plain has pg_pat since its CREATE EXTENSION committed: one full round, then incremental ones.
is(rounds('plain', 'full'), 1, 'the first round in a database reads in full');
ok(rounds('plain', 'incremental') >= 10, 'the rounds after it read only what fell due since');
is(lines(qr/incremental round in database "plain": [1-9]\d* tokens read/), 0,
	'with nothing falling due they read no token at all');

# Falls due 3 s after it is made, with nothing changed in between.
$node->safe_psql('plain',
	"SELECT count(*) FROM pat_create('alice', 'soon', '{repo:read}', now() + interval '7 days 3 seconds')");
ok($node->poll_query_until('plain', notice_queued('soon', 'expires_in_7_days'), 't'),
	'a notice that falls due later is queued');
is(lines(qr/incremental round in database "plain": 1 tokens read, 1 notices queued/), 1,
	'by an incremental round, which read that one token');
is(rounds('plain', 'full'), 1, 'no full round was needed for it');

# Due before the commit: a round during the transaction could not see it.
$session = $node->background_psql('plain');
$session->query_safe('BEGIN');
$session->query_safe(
	"SELECT count(*) FROM pat_create('alice', 'slow commit', '{repo:read}', now() + interval '7 days 1 second')");
usleep(2_000_000);
$session->query_safe('COMMIT');
$session->quit;
ok($node->poll_query_until('plain', notice_queued('slow commit', 'expires_in_7_days'), 't'),
	'a token committed after its notice fell due gets it');
is(rounds('plain', 'full'), 2, 'from a full round, which its commit asked for');

# A back-dated row (as a superuser restores one), due at once: 30 days left of 100.
$node->safe_psql('plain',
	"INSERT INTO pat.tokens (user_id, name, scopes, digest, created_at, expires_at)
	 VALUES ('alice', 'restored', '{repo:read}', sha256('restored'), now() - interval '70 days',
	         now() + interval '20 days')");
ok($node->poll_query_until('plain', notice_queued('restored', 'expires_in_30_days'), 't'),
	'a row inserted with a notice already due gets it');
is(rounds('plain', 'full'), 3, 'from a full round');

# Shortened to 3 days left: "7 days" is due at once, its instant long past.
$node->safe_psql('plain',
	"UPDATE pat.tokens SET expires_at = now() + interval '3 days' WHERE name = 'restored'");
ok($node->poll_query_until('plain', notice_queued('restored', 'expires_in_7_days'), 't'),
	'a shortened expiry gets the notice it makes due');
is(rounds('plain', 'full'), 4, 'from a full round');

# A renamed or revoked token changes no notice that is due: no full round.
$node->safe_psql('plain', "SELECT pat_revoke(token_id) FROM pat.tokens WHERE name = 'soon'");
some_rounds();
is(rounds('plain', 'full'), 4, 'a revocation needs no full round');

# --- pat.max_inactivity: applied once per hundredth of the limit ------------------------------

# 100 s: at most once a second, against ten rounds a second.
my $rounds_before = rounds('old', 'full') + rounds('old', 'incremental');
$node->safe_psql('postgres', "ALTER DATABASE old SET pat.max_inactivity = '100s'");
ok(wait_for(sub { lines(qr/round in database "old": .*; pat.max_inactivity applied/) }, 1),
	'pat.max_inactivity is applied on the first round after it is set');
some_rounds();
my $applied = lines(qr/round in database "old": .*; pat.max_inactivity applied/);
my $old_rounds = rounds('old', 'full') + rounds('old', 'incremental') - $rounds_before;
ok($applied >= 2 && $applied <= 4 && $old_rounds >= 2 * $applied,
	"then about once a second: $applied times in $old_rounds rounds");
$node->safe_psql('postgres', 'ALTER DATABASE old RESET pat.max_inactivity');

# --- DROP EXTENSION: the next visit finds none -----------------------------------------------

$node->safe_psql('plain', 'DROP EXTENSION pg_pat');
ok(wait_for(sub { skips('plain') }, 2), 'after DROP EXTENSION the next visit finds no pg_pat');
some_rounds();
is(skips('plain'), 2, 'and the database is skipped from then on');

$node->stop;
done_testing();
