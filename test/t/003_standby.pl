# A streaming-replication hot standby validates tokens read-only: no write attempted, no error
# or warning, pat_authenticate works. A revoke (or a role change) on the primary reaches the
# standby's per-backend token caches once replayed, and the time from the revoke's commit until
# the standby refuses the token is measured and printed ("standby revocation lag: X ms").
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;
use Time::HiRes qw(time usleep);

my $primary = PatNode::new_node('primary', allows_streaming => 1);
# Short, so that the test sees forwarded usage soon; the standby inherits it with the backup.
$primary->append_conf('postgresql.conf', "pat.usage_flush_interval = '300ms'\n");
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('catalog:read');
SELECT pat_define_scope('scorecards:write');
SELECT pat_define_role('member', '{catalog:read}');
SELECT pat_define_role('writer', '{scorecards:write}');
SELECT pat_grant_role('alice', 'member');
SELECT pat_grant_role('alice', 'writer');
SELECT pat_grant_role('bob', 'member');
SELECT pat_grant_role('bob', 'writer');
});

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

my $has_audit =
  $primary->safe_psql('postgres', "SELECT to_regclass('pat.audit_log') IS NOT NULL") eq 't';
note('pat.audit_log ' . ($has_audit ? 'exists' : 'does not exist'));

sub create_token { return PatNode::create_token($primary, @_); }

sub session_query { return PatNode::session_query(@_); }

my $a1 = create_token('alice', 'alice cli', '{catalog:read,scorecards:write}');
my $a2 = create_token('alice', 'alice ci', '{catalog:read}');
my $b1 = create_token('bob', 'bob cli', '{catalog:read,scorecards:write}');
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

my $log_offset = -s $standby->logfile;

# --- validation on the standby -------------------------------------------------------------

# Long-lived standby sessions, as a validating service would hold them: both warm their
# per-backend token caches before anything changes on the primary.
my $poller = $standby->background_psql('postgres', on_error_stop => 0);
my $cached = $standby->background_psql('postgres', on_error_stop => 0);
for my $session ($poller, $cached)
{
	for my $round (1, 2)    # the second round is answered from the cache
	{
		is( session_query($session,
				"SELECT status || ' ' || user_id || ' ' || token_name FROM pat_validate('$_->{token}', '{catalog:read}')",
				"standby validate $_->{name} (round $round)"),
			"valid alice $_->{name}",
			"standby: $_->{name} is valid (round $round)")
		  for ($a1, $a2);
		is( session_query($session,
				"SELECT status FROM pat_validate('$b1->{token}', '{scorecards:write}')",
				"standby validate bob (round $round)"),
			'valid', "standby: bob's token is valid (round $round)");
	}
}
is(session_query($cached, "SELECT status FROM pat_validate('pat_garbage', '{}')", 'malformed'),
	'malformed', 'standby: malformed input');

# pat_authenticate works read-only on the standby and sets the transaction's token context.
is( session_query($cached,
		"BEGIN;
		 SELECT pat_authenticate('$a1->{token}', '{scorecards:write}');
		 SELECT pat_current_user() || ' ' || pat_current_token_name() || ' ' || pat_has_scope('catalog:read');
		 COMMIT;",
		'standby pat_authenticate'),
	"alice\nalice alice cli true",
	'standby: pat_authenticate returns the user and sets the context');
is(session_query($cached, 'SELECT pat_current_user() IS NULL', 'context after commit'),
	't', 'standby: the context ends with the transaction');

# A check on the standby given the client's address: forwarded with the usage.
is( session_query($cached,
		"SELECT status FROM pat_validate('$a1->{token}', '{catalog:read}', '198.51.100.77')",
		'standby validate from an address'),
	'valid', 'standby: a check from a client address');

# Tokens only validated on the standby: the standby wrote nothing, its worker forwarded the
# uses and counts to the primary (over primary_conninfo), within a few intervals.
my $forwarded_at = time();
ok( $primary->poll_query_until(
		'postgres', qq{SELECT count(*) = 2 FROM pat.token_usage
		               WHERE token_id IN ('$a1->{id}', '$a2->{id}') AND last_used_at IS NOT NULL}),
	'standby checks appear as last use on the primary');
note(sprintf('standby usage reached the primary %.1f s after polling began', time() - $forwarded_at));
is( $primary->safe_psql(
		'postgres', qq{SELECT string_agg(outcome || '=' || (checks > 0), ',' ORDER BY outcome)
		               FROM pat.token_checks WHERE token_id = '$a1->{id}'}),
	'valid=true', 'standby checks are counted on the primary');
ok( $primary->poll_query_until(
		'postgres', qq{SELECT last_addresses = '{198.51.100.77}' FROM pat_list('alice')
		               WHERE token_id = '$a1->{id}'}),
	'the client address of a standby check reaches the primary');
is( $primary->safe_psql(
		'postgres', qq{SELECT kind || ' ' || (details->>'addresses') FROM pat.notices
		               WHERE token_id = '$a1->{id}' AND kind = 'new_address'}),
	'new_address ["198.51.100.77"]',
	'and queues the owner\'s new_address notice there');
is($primary->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pat launcher'"),
	'1', "the primary runs pg_pat's launcher");
is($standby->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_pat launcher'"),
	'1', "the standby runs pg_pat's launcher");
# A check on the standby that is refused is counted too.
is(session_query($cached, "SELECT status FROM pat_validate('$a1->{token}', '{nope:nope}')", 'refused'),
	'insufficient_scope', 'standby: a refused check');
ok( $primary->poll_query_until(
		'postgres', qq{SELECT EXISTS (SELECT FROM pat.token_checks
		               WHERE token_id = '$a1->{id}' AND outcome = 'insufficient_scope')}),
	'a refused standby check is counted on the primary');
like($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), qr/^t$/, 'still a standby');

# --- revocation lag ----------------------------------------------------------------------

# Revoke tokens one at a time on the primary; after each commit, poll the warm standby session
# every ~10 ms until it answers 'revoked'. The last one revoked is $a1, which $cached also holds.
my @lag_tokens = map { create_token('bob', "lag $_", '{catalog:read}') } 1 .. 10;
$primary->wait_for_catchup($standby);
for my $t (@lag_tokens)
{
	is(session_query($poller, "SELECT status FROM pat_validate('$t->{token}')", "warm $t->{name}"),
		'valid', "standby: $t->{name} is valid before the revoke");
}
push @lag_tokens, $a1;

my $revoker = $primary->background_psql('postgres');
$revoker->query_safe('SELECT 1');    # connected and warm
my @lags;
for my $t (@lag_tokens)
{
	# autocommit: returns once the revoke has committed on the primary
	is($revoker->query_safe("SELECT pat_revoke('$t->{id}')"), 't', "primary: revoke $t->{name}");
	my $committed = time();
	my ($status, $polls) = ('', 0);
	while (time() < $committed + 10)
	{
		($status) = $poller->query("SELECT status FROM pat_validate('$t->{token}', '{catalog:read}')");
		$polls++;
		if ($status eq 'revoked')
		{
			push @lags, (time() - $committed) * 1000;
			last;
		}
		last if $status ne 'valid';    # anything else is wrong: stop and report it below
		usleep(10_000);
	}
	is($status, 'revoked',
		"the warm standby session sees the revocation of $t->{name} ($polls polls)")
	  or last;
}
if (@lags == @lag_tokens)
{
	my @sorted = sort { $a <=> $b } @lags;
	my $line = sprintf(
		'standby revocation lag: %.1f ms median, %.1f ms max over %d revocations'
		  . ' (from the commit on the primary until a warm standby session answers revoked,'
		  . ' one query round trip included)',
		$sorted[ int(@sorted / 2) ], $sorted[-1], scalar(@sorted));
	diag($line);    # shown by prove with and without -v
}

$primary->wait_for_catchup($standby);
is( session_query($cached, "SELECT status FROM pat_validate('$a1->{token}', '{catalog:read}')",
		'cached revoked'),
	'revoked', 'the other cached standby session sees the revocation once replayed');
# Replayed signals are per token: the user's other token is still answered from the cache.
my $hits_before = session_query($cached, 'SELECT backend_hits FROM pat_token_cache_stats()', 'hits');
is( session_query($cached, "SELECT status FROM pat_validate('$a2->{token}', '{catalog:read}')",
		'cached other token'),
	'valid', 'the user\'s other token is still valid on the standby');
is(session_query($cached, 'SELECT backend_hits FROM pat_token_cache_stats()', 'hits') - $hits_before,
	1, 'the user\'s other token is answered from the standby cache, not read again');
is(session_query($cached, 'SELECT backend_resets FROM pat_token_cache_stats()', 'resets'),
	'0', 'eleven replayed revokes reset no standby cache');
is($standby->safe_psql('postgres', "SELECT status FROM pat_validate('$a1->{token}')"),
	'revoked', 'a new standby session sees the revocation');

# A role change on the primary also reaches the cached standby sessions.
$revoker->query_safe("SELECT pat_revoke_role('bob', 'writer')");
$primary->wait_for_catchup($standby);
for my $session ($poller, $cached)
{
	is( session_query($session,
			"SELECT status FROM pat_validate('$b1->{token}', '{scorecards:write}')",
			'cached role change'),
		'insufficient_scope', 'a cached standby session sees the role revocation');
}
is(session_query($cached, "SELECT status FROM pat_validate('$b1->{token}', '{catalog:read}')",
		'cached remaining scope'),
	'valid', 'bob keeps the scope of his remaining role');
$hits_before = session_query($cached, 'SELECT backend_hits FROM pat_token_cache_stats()', 'hits');
is( session_query($cached, "SELECT status FROM pat_validate('$a2->{token}', '{catalog:read}')",
		'other user after role change'),
	'valid', 'alice is unaffected by bob\'s role change');
is(session_query($cached, 'SELECT backend_hits FROM pat_token_cache_stats()', 'hits') - $hits_before,
	1, 'bob\'s role change left alice\'s token in the standby cache');

# A token created after the sessions warmed up is found by them.
my $a3 = create_token('alice', 'alice new', '{catalog:read}');
$primary->wait_for_catchup($standby);
is(session_query($cached, "SELECT status FROM pat_validate('$a3->{token}')", 'new token'),
	'valid', 'a cached standby session finds a token created afterwards');

# --- suspension: a warm standby session answers suspended once replayed, valid once resumed ------
is(session_query($cached, "SELECT status FROM pat_validate('$a3->{token}')", 'warm a3'),
	'valid', 'standby: the new token is held warm');
is($revoker->query_safe("SELECT pat_suspend('$a3->{id}')"), 't', 'primary: suspend the new token');
$primary->wait_for_catchup($standby);
is(session_query($cached, "SELECT status FROM pat_validate('$a3->{token}')", 'suspended a3'),
	'suspended', 'a warm standby session answers suspended once the suspension is replayed');
is($standby->safe_psql('postgres', "SELECT status FROM pat_validate('$a3->{token}')"),
	'suspended', 'a new standby session answers suspended');
is($revoker->query_safe("SELECT pat_resume('$a3->{id}')"), 't', 'primary: resume it');
$primary->wait_for_catchup($standby);
is(session_query($cached, "SELECT status FROM pat_validate('$a3->{token}')", 'resumed a3'),
	'valid', 'a warm standby session answers valid once the resumption is replayed');

# --- delegation: a child falls with its parent, on the standby too -----------------------------
# A warm standby session holds a delegated child (and grandchild); the parent is revoked on the
# primary, no descendant row is written, and once replayed the warm session refuses both.
$primary->safe_psql('postgres',
	"SELECT pat_define_scope('tokens:delegate');
	 SELECT pat_define_role('delegator', '{catalog:read,tokens:delegate}');
	 SELECT pat_grant_role('carol', 'delegator');");
my $parent = create_token('carol', 'carol agent', '{catalog:read,tokens:delegate}');

# Mints a child of $minter's token on the primary (the last line of the output: id and token).
sub delegate
{
	my ($minter, $name, $scopes) = @_;
	my @lines = split /\n/,
	  $primary->safe_psql('postgres',
		"BEGIN; SELECT pat_authenticate('$minter->{token}');
		 SELECT token_id || ' ' || token FROM pat_delegate('$name', '$scopes'); COMMIT;");
	my ($id, $token) = split / /, $lines[-1];
	return { id => $id, token => $token, name => $name };
}
my $child = delegate($parent, 'carol sub-agent', '{catalog:read,tokens:delegate}');
my $grandchild = delegate($child, 'carol sub-sub-agent', '{catalog:read}');
$primary->wait_for_catchup($standby);
for my $round (1, 2)    # the second round is answered from the cache
{
	is( session_query($cached,
			"SELECT status FROM pat_validate('$_->{token}', '{catalog:read}')",
			"standby validate $_->{name} (round $round)"),
		'valid',
		"standby: $_->{name} is valid (round $round)")
	  for ($child, $grandchild);
}
is(session_query($cached, 'SELECT last_check_missed FROM pat_token_cache_stats()', 'warm'),
	'f', 'standby: the grandchild is held warm');
# (pat_revoke's NOTICE of the fallen descendants is kept off stderr.)
$revoker->query_safe('SET client_min_messages = warning');
is($revoker->query_safe("SELECT pat_revoke('$parent->{id}')"), 't', 'primary: revoke the parent');
$primary->wait_for_catchup($standby);
is( session_query($cached,
		"SELECT status FROM pat_validate('$_->{token}', '{catalog:read}')",
		"standby validate $_->{name} after the parent's revoke"),
	'revoked',
	"a warm standby session refuses $_->{name} once the parent's revoke is replayed")
  for ($child, $grandchild);
is($standby->safe_psql('postgres', "SELECT status FROM pat_validate('$child->{token}')"),
	'revoked', 'a new standby session refuses the child');
is( $primary->safe_psql('postgres',
		"SELECT count(*) FROM pat.tokens WHERE parent_id IS NOT NULL AND revoked_at IS NOT NULL"),
	'0', 'primary: no descendant row was written');

# The standby logged no error or warning for any of the above.
my $log = slurp_file($standby->logfile, $log_offset);
my @bad = grep { /\b(ERROR|WARNING|FATAL|PANIC):/ } split /\n/, $log;
is(scalar(@bad), 0, 'no ERROR/WARNING in the standby log') or diag(join("\n", @bad));

# pat_authenticate on the standby refuses the revoked token with 28000.
my ($out, $err) = ('', '');
my $rc = $standby->psql(
	'postgres', "\\set VERBOSITY sqlstate\nSELECT pat_authenticate('$a1->{token}')",
	stdout => \$out,
	stderr => \$err);
isnt($rc, 0, 'standby: pat_authenticate of the revoked token fails');
like($err, qr/ERROR:\s+28000/, 'standby: with SQLSTATE 28000');
unlike($err, qr/\Q$a1->{token}\E/, 'standby: the error does not echo the token');

# The primary stays authoritative and the standby stays read-only.
is($primary->safe_psql('postgres', "SELECT status FROM pat_validate('$a1->{token}')"),
	'revoked', 'primary: revoked');
($rc, $out, $err) = $standby->psql('postgres', "SELECT pat_revoke('$a2->{id}')");
isnt($rc, 0, 'standby: pat_revoke is refused (read-only)');
like($err, qr/read-only transaction/, 'standby: read-only error for a write');

if ($has_audit)
{
	is($standby->safe_psql('postgres', 'SELECT ok FROM pat_audit_verify()'),
		't', 'standby: pat_audit_verify() ok on the replica');
}

$poller->quit;
$cached->quit;
$revoker->quit;
$standby->stop;
$primary->stop;
done_testing();
