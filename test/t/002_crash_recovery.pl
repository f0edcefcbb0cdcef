# An immediate shutdown (no checkpoint, as after a power cut) right after commits loses nothing
# committed: every issued token, revocation, edit, role change and recorded use is there after
# crash recovery, and nothing that was not committed is.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('crash');
# No checkpoint between the work and the crash: everything below is recovered from WAL.
$node->append_conf('postgresql.conf', "checkpoint_timeout = '1h'\nmax_wal_size = '1GB'\n");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('catalog:read');
SELECT pat_define_scope('scorecards:write');
SELECT pat_define_role('member', '{catalog:read}');
SELECT pat_define_role('writer', '{scorecards:write}');
SELECT pat_define_role('scorecard_admin', '{catalog:read,scorecards:write}');
SELECT pat_grant_role('alice', 'scorecard_admin');
SELECT pat_grant_role('bob', 'member');
SELECT pat_grant_role('bob', 'writer');
SELECT pat_grant_role('carol', 'member');
SELECT pat_grant_role('dave', 'member');
SELECT pat_grant_role('erin', 'member');
CHECKPOINT;
});

my $has_audit =
  $node->safe_psql('postgres', "SELECT to_regclass('pat.audit_log') IS NOT NULL") eq 't';
# The audit log exists from 1.1 on: its absence fails here rather than skipping the checks.
ok($has_audit, 'pat.audit_log exists, so the audit checks run');

# Each statement is its own committed transaction.
my @spec = (
	[ 'a0', 'alice', '{catalog:read}' ],
	[ 'a1', 'alice', '{catalog:read,scorecards:write}' ],
	[ 'a2', 'alice', '{catalog:read,scorecards:write}' ],
	[ 'a3', 'alice', '{catalog:read}' ],
	[ 'b0', 'bob',   '{catalog:read,scorecards:write}' ],
	[ 'b1', 'bob',   '{scorecards:write}' ],
	[ 'c0', 'carol', '{catalog:read}' ],
	[ 'c1', 'carol', '{catalog:read}' ],
	[ 'c2', 'carol', '{}' ],);
my $out = $node->safe_psql('postgres',
	join("\n",
		map { "SELECT token_id || ' ' || token FROM pat_create('$_->[1]', '$_->[0]', '$_->[2]', '30 days');" }
		  @spec));
my @rows = split /\n/, $out;
is(scalar(@rows), scalar(@spec), 'tokens created');
my %tok;
for my $i (0 .. $#spec)
{
	my ($id, $token) = split / /, $rows[$i];
	$tok{ $spec[$i][0] } = { id => $id, token => $token };
}

# Statuses of the given tokens in one session, "name=status,...".
sub statuses
{
	my ($names, $scopes) = @_;
	my $values = join(', ', map { "($_, '$_[2]{$names->[$_]}{token}')" } 0 .. $#$names);
	my $result = $node->safe_psql('postgres',
		"SELECT string_agg(v.status, ',' ORDER BY t.ord)
		   FROM (VALUES $values) AS t(ord, token), LATERAL pat_validate(t.token, '$scopes') v");
	my @s = split /,/, $result;
	return join(',', map { "$names->[$_]=" . ($s[$_] // '?') } 0 .. $#$names);
}

# A recorded use (committed by the validating transaction itself).
is(statuses(['a3'], '{}', \%tok), 'a3=valid', 'a3 validates (counts a use)');
is($node->safe_psql('postgres', 'SELECT pat_flush_usage() > 0'), 't', 'the use is written out');

# Lifecycle changes, each committed, the last ones right before the crash.
$node->safe_psql(
	'postgres', qq{
SELECT pat_revoke('$tok{a0}{id}');
SELECT pat_revoke('$tok{a1}{id}');
SELECT pat_update('$tok{a2}{id}', name => 'a2 renamed', scopes => '{catalog:read}');
SELECT pat_revoke_role('bob', 'member');
SELECT pat_revoke_all('carol');
});
my $last = $node->safe_psql('postgres',
	"SELECT token_id || ' ' || token FROM pat_create('dave', 'd0', '{catalog:read}', '30 days')");
my ($last_id, $last_token) = split / /, $last;
$tok{d0} = { id => $last_id, token => $last_token };

# Work in flight, never committed: a new token and a revocation.
my $inflight = $node->background_psql('postgres');
$inflight->query_safe('BEGIN');
my $uncommitted = $inflight->query_safe(
	"SELECT token_id || ' ' || token FROM pat_create('erin', 'e0', '{catalog:read}', '30 days')");
my ($e_id, $e_token) = split / /, $uncommitted;
$tok{e0} = { id => $e_id, token => $e_token };
is($inflight->query_safe("SELECT pat_revoke('$tok{a3}{id}')"), 't', 'uncommitted revoke of a3');

my @names = qw(a0 a1 a2 a3 b0 b1 c0 c1 c2 d0);
my $expected = 'a0=revoked,a1=revoked,a2=valid,a3=valid,b0=valid,b1=valid,c0=revoked,c1=revoked,c2=revoked,d0=valid';
is(statuses(\@names, '{}', \%tok), $expected, 'statuses before the crash');
my $audit_before;
if ($has_audit)
{
	$node->safe_psql('postgres', 'SELECT pat_audit_link()');
	$audit_before = $node->safe_psql('postgres',
		"SELECT count(*) || ' | ' || string_agg(seq || ':' || action || ':' || coalesce(token_name, '-'), ',' ORDER BY seq) FROM pat.audit_log");
	note("audit rows before the crash: $audit_before");
}

# --- crash ---------------------------------------------------------------------------------

my $log_offset = -s $node->logfile;
$node->stop('immediate');
eval { $inflight->quit };
$node->start;

my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/database system was not properly shut down; automatic recovery in progress/,
	'the restart ran crash recovery');
like($log, qr/redo starts at/, 'WAL was replayed');

is(statuses(\@names, '{}', \%tok), $expected, 'every committed token and revocation survived');
is(statuses([ 'e0' ], '{}', \%tok), 'e0=not_found', 'the uncommitted token does not exist');
is(statuses([qw(a2 b0 b1)], '{catalog:read}', \%tok),
	'a2=valid,b0=insufficient_scope,b1=insufficient_scope',
	'the committed role revocation holds (bob lost catalog:read)');
is(statuses([qw(a2 b0 b1)], '{scorecards:write}', \%tok),
	'a2=insufficient_scope,b0=valid,b1=valid',
	'the committed scope edit holds (a2 lost scorecards:write)');
is($node->safe_psql('postgres', "SELECT name FROM pat.tokens WHERE token_id = '$tok{a2}{id}'"),
	'a2 renamed', 'the committed rename holds');
is($node->safe_psql('postgres',
		"SELECT last_used_at IS NOT NULL FROM pat.token_usage WHERE token_id = '$tok{a3}{id}'"),
	't', 'the written use survived');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(u || ':' || l.status || '=' || n, ',' ORDER BY u, l.status)
		    FROM (SELECT u, status, count(*) AS n
		            FROM unnest('{alice,bob,carol,dave,erin}'::text[]) AS u, LATERAL pat_list(u)
		           GROUP BY u, status) AS l}),
	'alice:active=2,alice:revoked=2,bob:active=2,carol:revoked=3,dave:active=1',
	'pat_list counts after recovery');
is($node->safe_psql('postgres', "SELECT pat_revoke('$tok{a3}{id}')"),
	't', 'a3 can still be revoked (the in-flight revoke was rolled back)');

if ($has_audit)
{
	$node->safe_psql('postgres', 'SELECT pat_audit_link()');
	is( $node->safe_psql('postgres',
			"SELECT count(*) || ' | ' || string_agg(seq || ':' || action || ':' || coalesce(token_name, '-'), ',' ORDER BY seq) FROM pat.audit_log WHERE action <> 'revoked' OR token_id <> '$tok{a3}{id}'"),
		$audit_before, 'the audit log survived as committed (the in-flight rows are gone)');
	is($node->safe_psql('postgres', 'SELECT ok FROM pat_audit_verify()'),
		't', 'pat_audit_verify() ok after recovery');
}

$node->stop;
done_testing();
