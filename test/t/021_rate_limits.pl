# Rate limits and credits across restarts, crashes, a full limiter and a standby:
#  * credits: a clean restart loses no spending (the limiter state is saved at shutdown); an
#    immediate shutdown allows again at most what was spent since the usage worker last wrote the
#    balance out, never more, and a balance written out survives it exactly;
#  * a rate window survives a clean restart;
#  * pat.rate_limit_max_entries full of live windows: a check of yet another limited token is
#    refused as rate_limited (fail closed), never let through unlimited; once windows go idle
#    they are forgotten and the token passes;
#  * a standby enforces its own window (and its own copy of the replicated balance).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('limits', allows_streaming => 1);
# A short flush interval, so that balances are written out while the test waits; the smallest
# limiter, so that it fills.
$node->append_conf('postgresql.conf',
	"pat.usage_flush_interval = '200ms'\npat.rate_limit_max_entries = 100\n");
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('rl:read');
SELECT pat_define_role('member', '{rl:read}');
SELECT pat_grant_role('ann', 'member');
});

sub check
{
	my ($n, $token) = @_;
	return $n->safe_psql('postgres',
		"SELECT status || ' ' || coalesce(remaining::text, '-') FROM pat_validate('$token')");
}

sub stored_remaining
{
	my ($n, $id) = @_;
	return $n->safe_psql('postgres',
		"SELECT credits_remaining FROM pat.token_limits WHERE token_id = '$id'");
}

# --- credits across a clean restart --------------------------------------------------------

my $paid = PatNode::create_token($node, 'ann', 'paid', '{rl:read}');
$node->safe_psql('postgres', "SELECT pat_set_credits('$paid->{id}', 10)");
is(check($node, $paid->{token}), 'valid 9', 'credits: the first check spends one');
is(check($node, $paid->{token}), 'valid 8', 'credits: the second another');
$node->restart;
is(check($node, $paid->{token}), 'valid 7', 'clean restart: no spending is lost');

# --- credits across an immediate shutdown ---------------------------------------------------

# Written out (pat_flush_usage() writes balances as the worker does), then crash.
$node->safe_psql('postgres', 'SELECT pat_flush_usage()');
is(stored_remaining($node, $paid->{id}), '7', 'the flush wrote the balance out');
$node->stop('immediate');
$node->start;
is(check($node, $paid->{token}), 'valid 6',
	'immediate shutdown after the balance was written out: nothing allowed again');

# Not written out: spend several with the worker unable to write in between (the balance is
# read under a lock the test holds), then crash: at most what was spent since the last write
# comes back.
my $before = stored_remaining($node, $paid->{id});
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('BEGIN');
$blocker->query_safe("SELECT 1 FROM pat.token_limits WHERE token_id = '$paid->{id}' FOR UPDATE");
is(check($node, $paid->{token}), 'valid 5', 'spent while the write is held back');
is(check($node, $paid->{token}), 'valid 4', 'spent again');
$node->stop('immediate');
$blocker->quit;
$node->start;
my $after = check($node, $paid->{token});
my ($left) = $after =~ /^valid (\d+)$/;
ok(defined $left, "after the crash the token is still usable ($after)");
cmp_ok($left, '<=', $before - 1,
	"immediate shutdown: no more comes back than was spent since the last write ($before written)");
cmp_ok($left, '>=', 4 - 1, '... and nothing is lost that had been written');

# --- a rate window across a clean restart ---------------------------------------------------

my $limited = PatNode::create_token($node, 'ann', 'limited', '{rl:read}');
$node->safe_psql('postgres', "SELECT pat_set_rate_limit('$limited->{id}', 2, '1 hour')");
is(check($node, $limited->{token}), 'valid -', 'rate limit: first');
is(check($node, $limited->{token}), 'valid -', 'rate limit: second');
is(check($node, $limited->{token}), 'rate_limited -', 'rate limit: third refused');
$node->restart;
is(check($node, $limited->{token}), 'rate_limited -', 'clean restart: the window is kept');

# --- a full limiter fails closed ------------------------------------------------------------

# 100 entries at most. The two above hold one each, but the paid token's says nothing its
# absence would not (its balance is written out): it is forgotten when room is needed. So 99
# more tokens with live windows fill the limiter.
$node->safe_psql(
	'postgres', q{
CREATE TABLE filler AS
  SELECT c.token, c.token_id FROM generate_series(1, 99) g,
       LATERAL pat_create('ann', 'filler ' || g, '{rl:read}', '30 days') c;
SELECT pat_set_rate_limit(token_id, 1, '10 seconds') FROM filler;
});
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FILTER (WHERE v.status = 'valid') FROM filler f, LATERAL pat_validate(f.token) v"),
	'99',
	'99 more limited tokens fill the limiter');
# With the store this full, keys often contend for the same positions of the limiter's index:
# each entry is still found (its window of one is spent), through the index or the dynahash.
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FILTER (WHERE v.status = 'rate_limited') FROM filler f, LATERAL pat_validate(f.token) v"),
	'99',
	'a full limiter finds every entry: each filler is refused its second check');
my $late = PatNode::create_token($node, 'ann', 'late', '{rl:read}');
$node->safe_psql('postgres', "SELECT pat_set_rate_limit('$late->{id}', 100, '1 hour')");
my $refused = $node->safe_psql('postgres',
	"SELECT status || ' ' || (retry_after > '0') FROM pat_validate('$late->{token}')");
is($refused, 'rate_limited true', 'full: a limited token with no room is refused, with a retry_after');
# An unlimited token needs no entry and is never refused for want of one.
my $free = PatNode::create_token($node, 'ann', 'free', '{rl:read}');
is(check($node, $free->{token}), 'valid -', 'full: an unlimited token passes');
# The fillers' windows go idle after 10 seconds: they are forgotten and the late token passes.
$node->poll_query_until('postgres', "SELECT status = 'valid' FROM pat_validate('$late->{token}')")
  or die 'the full limiter never made room';
pass('full: idle windows are forgotten and the token passes');
# Each filler's cache entry still guesses the slot its forgotten state had, and the late token's
# state is in one of those slots now. A guess is used only for its own token's state: the fillers
# (all but two, so that they fit beside the late and the limited token) start fresh windows and
# are refused their second check, and the late token's window is its own.
my $fillers = "(SELECT token FROM filler OFFSET 2) f, LATERAL pat_validate(f.token) v";
is($node->safe_psql('postgres', "SELECT count(*) FILTER (WHERE v.status = 'valid') FROM $fillers"),
	'97', 'forgotten fillers start afresh, whatever their entries guess');
is( $node->safe_psql(
		'postgres', "SELECT count(*) FILTER (WHERE v.status = 'rate_limited') FROM $fillers"),
	'97',
	'... and are refused their second check');
is(check($node, $late->{token}), 'valid -', 'the late token keeps its own window');

# --- a standby's own window -----------------------------------------------------------------

my $shared = PatNode::create_token($node, 'ann', 'shared', '{rl:read}');
$node->safe_psql('postgres', "SELECT pat_set_rate_limit('$shared->{id}', 2, '1 hour')");
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('limits_standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
is(check($node, $shared->{token}), 'valid -', 'primary: first');
is(check($node, $shared->{token}), 'valid -', 'primary: second');
is(check($node, $shared->{token}), 'rate_limited -', 'primary: over');
is(check($standby, $shared->{token}), 'valid -', 'standby: its own window, first');
is(check($standby, $shared->{token}), 'valid -', 'standby: second');
is(check($standby, $shared->{token}), 'rate_limited -', 'standby: over its own window');

$standby->stop;
$node->stop;
done_testing();
