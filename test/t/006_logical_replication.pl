# Logical replication of pg_pat's tables: the subscriber's apply worker writes with
# session_replication_role = replica, where ordinary triggers do not fire. pg_pat's cache
# triggers are ENABLE ALWAYS, so a revoke or a role change applied on the subscriber reaches its
# warm sessions' caches at the apply's commit, token by token and user by user. tokens_audit is
# ENABLE ALWAYS too: the subscriber records the changes its apply writes in its own audit log.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $publisher = PatNode::new_node('publisher', allows_streaming => 'logical');
$publisher->start;
my $subscriber = PatNode::new_node('subscriber');
$subscriber->start;

my $schema = q{
CREATE EXTENSION pg_pat;
};
$publisher->safe_psql('postgres', $schema);
$subscriber->safe_psql('postgres', $schema);
$publisher->safe_psql(
	'postgres', q{
SELECT pat_define_scope('catalog:read');
SELECT pat_define_scope('scorecards:write');
SELECT pat_define_role('member', '{catalog:read}');
SELECT pat_define_role('writer', '{scorecards:write}');
SELECT pat_grant_role('alice', 'member');
SELECT pat_grant_role('alice', 'writer');
SELECT pat_grant_role('bob', 'member');
CREATE PUBLICATION pat_pub FOR TABLE pat.scopes, pat.roles, pat.role_scopes, pat.user_roles,
    pat.tokens;
});

sub create_token { return PatNode::create_token($publisher, @_); }
my $a1 = create_token('alice', 'alice cli', '{catalog:read,scorecards:write}');
my $a2 = create_token('alice', 'alice ci', '{catalog:read,scorecards:write}');
my $b1 = create_token('bob', 'bob cli', '{catalog:read}');

my $connstr = $publisher->connstr . ' dbname=postgres';
$subscriber->safe_psql('postgres',
	"CREATE SUBSCRIPTION pat_sub CONNECTION '$connstr' PUBLICATION pat_pub");
$subscriber->wait_for_subscription_sync($publisher, 'pat_sub');
is($subscriber->safe_psql('postgres', 'SELECT count(*) FROM pat.tokens'),
	'3', 'the subscriber has the tokens');

sub session_query { return PatNode::session_query(@_); }
sub check
{
	my ($session, $t, $scopes) = @_;
	return session_query($session,
		"SELECT status FROM pat_validate('$t->{token}', '$scopes')", "check $t->{name}");
}

# A warm session on the subscriber, as a validating service would hold it.
my $session = $subscriber->background_psql('postgres', on_error_stop => 0);
for my $round (1, 2)
{
	is(check($session, $_, '{scorecards:write}'), 'valid', "$_->{name} valid (round $round)")
	  for ($a1, $a2);
	is(check($session, $b1, '{catalog:read}'), 'valid', "bob cli valid (round $round)");
}
is(session_query($session, 'SELECT backend_hits > 0 FROM pat_token_cache_stats()', 'hits'),
	't', 'the second round was answered from the cache');

sub counters
{
	my ($out) = session_query($session,
		'SELECT backend_hits, backend_misses, backend_resets FROM pat_token_cache_stats()', 'stats');
	my ($hits, $misses, $resets) = split /\|/, $out;
	return { hits => $hits, misses => $misses, resets => $resets };
}

# A revoke on the publisher, applied on the subscriber by the apply worker.
$publisher->safe_psql('postgres', "SELECT pat_revoke('$a1->{id}')");
$publisher->wait_for_catchup('pat_sub');
my $before = counters();
is(check($session, $a1, '{catalog:read}'), 'revoked',
	'the warm subscriber session refuses the token revoked by replication');
is(check($session, $a2, '{catalog:read}'), 'valid', "the user's other token stays valid");
is(check($session, $b1, '{catalog:read}'), 'valid', "another user's token stays valid");
my $after = counters();
is($after->{misses} - $before->{misses}, 1, 'only the revoked token was read again');
is($after->{hits} - $before->{hits}, 2, 'the other tokens were answered from the cache');

# A role revoked on the publisher: alice's tokens lose scorecards:write on the subscriber.
$publisher->safe_psql('postgres', "SELECT pat_revoke_role('alice', 'writer')");
$publisher->wait_for_catchup('pat_sub');
$before = counters();
is(check($session, $a2, '{scorecards:write}'), 'insufficient_scope',
	'a role revoked by replication removes its scope from the warm cache');
is(check($session, $a2, '{catalog:read}'), 'valid', 'the remaining role still counts');
is(check($session, $b1, '{catalog:read}'), 'valid', "bob's token is unaffected");
$after = counters();
is($after->{resets}, $before->{resets}, 'a role change resets no cache');

# The same with the change written by hand under session_replication_role = replica.
$subscriber->safe_psql('postgres',
	"SET session_replication_role = replica; DELETE FROM pat.tokens WHERE token_id = '$b1->{id}'");
is(check($session, $b1, '{catalog:read}'), 'not_found',
	'a delete under session_replication_role = replica reaches the warm cache');

# tokens_audit fires ALWAYS: the subscriber's own log records the changes its apply worker wrote
# (the replicated revoke) and the delete written in replica mode. The initial copy is not
# recorded as created: like a restore, it loads rows created earlier (their creation is in the
# publisher's log). pat.audit_log itself is not published: each database keeps its own chain.
$subscriber->safe_psql('postgres', 'SELECT pat_audit_link()');
is( $subscriber->safe_psql(
		'postgres', qq{SELECT string_agg(action, ',' ORDER BY seq) FROM pat.audit_log
		 WHERE token_id IN ('$a1->{id}', '$b1->{id}')}),
	'revoked,deleted',
	'the subscriber records replicated and replica-mode token changes');
is($subscriber->safe_psql('postgres', 'SELECT ok FROM pat_audit_verify()'),
	't', "the subscriber's chain verifies");

# A redefinition of a role reaches every cache too (everything is dropped).
$publisher->safe_psql('postgres', "SELECT pat_define_role('member', '{}')");
$publisher->wait_for_catchup('pat_sub');
is(check($session, $a2, '{catalog:read}'), 'insufficient_scope',
	'a replicated role redefinition reaches the warm cache');

$session->quit;
my $log = slurp_file($subscriber->logfile);
my @bad = grep { /\b(ERROR|FATAL|PANIC):/ } split /\n/, $log;
is(scalar(@bad), 0, 'no ERROR in the subscriber log') or diag(join("\n", @bad));

done_testing();
