# pg_dump -Fc / pg_restore keeps every token valid, every revocation revoked, the usage
# records and (when the audit log exists) the audit log whole, with a server HMAC key set.
#
# Restores into a new database on the same node and into a fresh node with the same key (its
# roles first, from pg_dumpall -g); then shows on that node that the key is what binds the
# keyed tokens (without it they are unknown, and pat_key_status says which key is missing).
# Also the backup recipes of docs/application.md: a dump of the application's schema alone
# (pg_dump -n) holds neither the extension nor its tables, a database dump holds grants but not
# the roles, and DROP EXTENSION ... CASCADE takes the tokens and the audit log with it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;
use IPC::Run;

my $KEY = 'tap-dump-restore-digest-key-0123456789abcdef';
my $SRC = 'src';

# Runs SQL; fails the test unless psql exits 0 with nothing on stderr (no error, no warning).
sub psql_clean
{
	my ($node, $db, $sql, $what) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql($db, $sql, stdout => \$out, stderr => \$err);
	is($rc, 0, "$what: psql exit code 0");
	is($err, '', "$what: nothing on stderr");
	return $out;
}

# Runs a client program against $node; returns (exit code, stdout, stderr).
sub run_client
{
	my ($node, @cmd) = @_;
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	my ($out, $err) = ('', '');
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

sub set_key
{
	my ($node, $key, $previous) = @_;
	$node->append_conf('postgresql.conf',
		"pat.digest_key = '$key'\npat.digest_previous_keys = '$previous'\n");
	$node->reload;
	# reload only signals the postmaster: wait until new sessions see the key.
	ok( $node->poll_query_until(
			'postgres', "SELECT current_setting('pat.digest_key', true) = '$key'"),
		"pat.digest_key is '" . ($key eq '' ? '' : 'set') . "' after reload");
}

sub create_token
{
	my ($node, $db, $user, $name, $scopes, $expires) = @_;
	my $row = $node->safe_psql($db,
		"SELECT token_id || ' ' || token FROM pat_create('$user', '$name', '$scopes', '$expires')");
	my ($id, $token) = split / /, $row;
	like($token, qr/^pat_[0-9A-Za-z]{36}$/, "token '$name' created");
	return { id => $id, token => $token, name => $name, user => $user };
}

# status of every token, as "name=status" joined by commas, in one session.
sub statuses
{
	my ($node, $db, $tokens, $scopes) = @_;
	$scopes //= '{}';
	my $values = join(', ', map { "($_, '$tokens->[$_]{token}')" } 0 .. $#$tokens);
	return psql_clean($node, $db,
		"SELECT string_agg(v.status, ',' ORDER BY t.ord)
		   FROM (VALUES $values) AS t(ord, token), LATERAL pat_validate(t.token, '$scopes') v",
		"validate on $db");
}

# count and md5 of a table's rows (as text, in UTC).
sub fingerprint
{
	my ($node, $db, $table) = @_;
	return $node->safe_psql($db,
		"SET TimeZone = 'UTC';
		 SELECT count(*) || ' rows, md5 ' || md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), ''))
		   FROM $table x");
}

sub list_counts
{
	my ($node, $db) = @_;
	return $node->safe_psql($db,
		"SELECT string_agg(u || ':' || l.status || '=' || n, ',' ORDER BY u, l.status)
		   FROM (SELECT u, status, count(*) AS n
		           FROM unnest('{alice,bob,carol}'::text[]) AS u, LATERAL pat_list(u)
		          GROUP BY u, status) AS l");
}

sub audit_rows
{
	my ($node, $db) = @_;
	# Rows still pending are linked first (the worker would within pat.audit_link_delay).
	$node->safe_psql($db, 'SELECT pat_audit_link()');
	return $node->safe_psql($db,
		"SELECT count(*) || ' | ' || coalesce(string_agg(seq || ':' || action || ':' || coalesce(token_name, '-'), ',' ORDER BY seq), '')
		   FROM pat.audit_log");
}

# --- source: data under no key, then under a key -----------------------------------------

my $node = PatNode::new_node('dump_source');
$node->start;
$node->safe_psql('postgres', "CREATE DATABASE $SRC");
$node->safe_psql($SRC, 'CREATE EXTENSION pg_pat');

my $has_audit =
  $node->safe_psql($SRC, "SELECT to_regclass('pat.audit_log') IS NOT NULL") eq 't';
# The audit log exists from 1.1 on: its absence fails here rather than skipping the checks.
ok($has_audit, 'pat.audit_log exists, so the audit checks run');

$node->safe_psql(
	$SRC, q{
SELECT pat_define_scope('catalog:read', 'read the catalog');
SELECT pat_define_scope('scorecards:write');
SELECT pat_define_scope('workflowRuns:writeEvents', 'it''s "quoted"; with a semicolon');
SELECT pat_define_role('member', '{catalog:read}');
SELECT pat_define_role('scorecard_admin', '{catalog:read,scorecards:write}');
SELECT pat_define_role('workspace_admin', '{}', all_scopes => true);
SELECT pat_grant_role('alice', 'scorecard_admin');
SELECT pat_grant_role('bob', 'member');
SELECT pat_grant_role('carol', 'workspace_admin');
});

my @tokens;
# Made before any key: a plain SHA-256 digest, kept valid by digest_previous_keys = 'sha256'.
push @tokens, create_token($node, $SRC, 'alice', 'before the key', '{catalog:read}', '30 days');

set_key($node, $KEY, 'sha256');

push @tokens, create_token($node, $SRC, 'alice', 'ci deploy', '{catalog:read,scorecards:write}', '30 days');
push @tokens, create_token($node, $SRC, 'alice', 'laptop', '{catalog:read}', 'never');
push @tokens, create_token($node, $SRC, 'bob', 'bob cli', '{catalog:read}', '90 days');
push @tokens, create_token($node, $SRC, 'carol', 'admin', '{scorecards:write,workflowRuns:writeEvents}', '2099-01-01');
push @tokens, create_token($node, $SRC, 'bob', 'to be revoked', '{catalog:read}', '7 days');
push @tokens, create_token($node, $SRC, 'carol', 'short lived', '{catalog:read}', '1 second');
my ($plain, $ci, $laptop, $bobcli, $carol, $revoked, $short) = @tokens;

is( $node->safe_psql($SRC, "SELECT pat_revoke('$revoked->{id}')"), 't', 'revoke one token');
$node->safe_psql($SRC,
	"SELECT pat_update('$carol->{id}', name => 'admin (renamed)', scopes => '{scorecards:write}')");
$carol->{name} = 'admin (renamed)';

# The key is really in use: keyed digests are not SHA-256 of the token, the early one is.
is( $node->safe_psql($SRC,
		"SELECT string_agg((digest = sha256(convert_to('$_->{token}', 'UTF8')))::text, ',')
		   FROM pat.tokens WHERE token_id = '$_->{id}'"),
	$_ == $plain ? 'true' : 'false',
	"digest of '$_->{name}' is " . ($_ == $plain ? 'plain SHA-256' : 'keyed'))
  for ($plain, $ci, $bobcli);

# Record uses (last_used_at) for two tokens before the dump: counted, then written out.
statuses($node, $SRC, [ $ci, $bobcli ]);
# And a client address, where the schema keeps them.
my $has_addresses =
  $node->safe_psql($SRC, "SELECT to_regclass('pat.token_addresses') IS NOT NULL") eq 't';
$node->safe_psql($SRC, "SELECT pat_validate('$ci->{token}', '{}', '192.0.2.50')") if $has_addresses;
is($node->safe_psql($SRC, 'SELECT pat_flush_usage()'), '2', 'the two uses are written out');
is( $node->safe_psql($SRC, 'SELECT count(*) FROM pat.token_usage WHERE last_used_at IS NOT NULL'),
	'2', 'two tokens have a recorded use before the dump');

sleep(2);    # 'short lived' is now expired
my $expected = 'valid,valid,valid,valid,valid,revoked,expired';
is(statuses($node, $SRC, \@tokens), $expected, 'statuses on the source database');
my $expected_scoped = 'insufficient_scope,valid,insufficient_scope,insufficient_scope,valid,revoked,expired';
is(statuses($node, $SRC, \@tokens, '{scorecards:write}'),
	$expected_scoped, 'statuses for {scorecards:write} on the source database');

my @tables = qw(pat.scopes pat.roles pat.role_scopes pat.user_roles pat.tokens pat.token_usage);
push @tables, 'pat.audit_log' if $has_audit;
push @tables, 'pat.token_addresses' if $has_addresses;
# The checks above were counted in shared memory and the workers write counts and audit rows on
# their own schedule: written out now, nothing changes between the fingerprints and the dump.
$node->safe_psql($SRC, 'SELECT pat_flush_usage(); SELECT pat_audit_link()');
my %before = map { $_ => fingerprint($node, $SRC, $_) } @tables;
my $list_before = list_counts($node, $SRC);
is($list_before, 'alice:active=3,bob:active=1,bob:revoked=1,carol:active=1,carol:expired=1',
	'pat_list counts on the source database');
my ($audit_before, $verify_before);
if ($has_audit)
{
	$audit_before = audit_rows($node, $SRC);
	note("audit rows before the dump: $audit_before");
	like($audit_before, qr/:revoked:to be revoked/, 'the source audit log has the revocation');
	$verify_before = $node->safe_psql($SRC, 'SELECT ok FROM pat_audit_verify()');
	is($verify_before, 't', 'pat_audit_verify() ok on the source database');
}

# --- dump ----------------------------------------------------------------------------------

# The application's role, holding a profile: the database dump grants to it, pg_dumpall -g
# creates it.
$node->safe_psql($SRC,
	"CREATE ROLE dump_app_backend; SELECT pat_grant_profile('dump_app_backend', 'application')");

my $dump = PostgreSQL::Test::Utils::tempdir() . '/src.dump';
my ($rc, $out, $err) = run_client($node, 'pg_dump', '-Fc', '-f', $dump, '-d', $SRC);
is($rc, 0, 'pg_dump exit code 0');
is($err, '', 'pg_dump: nothing on stderr');

# The dump holds digests only, never a plaintext token.
($rc, my $script, $err) = run_client($node, 'pg_restore', '-f', '-', $dump);
is($rc, 0, 'pg_restore to a script exit code 0');
like($script, qr/COPY pat\.tokens /, 'the dump contains the rows of pat.tokens');
is(scalar(grep { index($script, $_->{token}) >= 0 } @tokens), 0, 'no plaintext token in the dump');
like($script, qr/GRANT \w+ ON FUNCTION [^\n]* TO dump_app_backend;/,
	'the dump grants to the application role');
unlike($script, qr/CREATE ROLE/, 'but does not create it');
($rc, my $globals, $err) = run_client($node, 'pg_dumpall', '-g');
like($globals, qr/CREATE ROLE dump_app_backend;/, 'pg_dumpall -g creates the roles');

# Only the application's schema: no extension, no tokens, no audit log.
($rc, my $app_only, $err) = run_client($node, 'pg_dump', '-n', 'public', '-d', $SRC);
is($rc, 0, 'pg_dump -n public exit code 0');
unlike($app_only, qr/CREATE EXTENSION|COPY pat\./,
	'pg_dump -n public holds neither the extension nor its tables');

# --- restore and check ---------------------------------------------------------------------

sub check_restored
{
	my ($target, $db, $label) = @_;

	$target->safe_psql('postgres', "CREATE DATABASE $db");
	my ($rc, $out, $err) = run_client($target, 'pg_restore', '-d', $db, $dump);
	is($rc, 0, "$label: pg_restore exit code 0");
	is($err, '', "$label: pg_restore printed nothing on stderr");

	is($target->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'pg_pat'"),
		$node->safe_psql($SRC, "SELECT extversion FROM pg_extension WHERE extname = 'pg_pat'"),
		"$label: same extension version");

	# Before any validation (which may record a use): every table as it was.
	is(fingerprint($target, $db, $_), $before{$_}, "$label: $_ identical") for @tables;

	if ($has_audit)
	{
		is(audit_rows($target, $db), $audit_before,
			"$label: audit rows identical (no lifecycle rows fired, no renumbering)");
		is($target->safe_psql($db, 'SELECT ok::text || coalesce(detail, \'\') FROM pat_audit_verify()'),
			'true', "$label: pat_audit_verify() ok after restore");
	}

	is(statuses($target, $db, \@tokens), $expected, "$label: every token keeps its status");
	is(statuses($target, $db, \@tokens, '{scorecards:write}'),
		$expected_scoped, "$label: scope checks unchanged");
	is(list_counts($target, $db), $list_before, "$label: pat_list counts unchanged");
	is($target->safe_psql($db,
			"SELECT u.last_used_at IS NOT NULL FROM pat.token_usage u WHERE u.token_id = '$ci->{id}'"),
		't', "$label: recorded use kept");
	is( $target->safe_psql($db,
			"SELECT string_agg(host(address), ',') FROM pat.token_addresses WHERE token_id = '$ci->{id}'"),
		'192.0.2.50', "$label: recorded client address kept")
	  if $has_addresses;
	is($target->safe_psql($db, "SELECT pat_revoke('$revoked->{id}')"),
		'f', "$label: the revoked token is still revoked for pat_revoke");

	# The restored database keeps working: issue and revoke a token.
	my $new = create_token($target, $db, 'bob', "new after restore", '{catalog:read}', '7 days');
	is(statuses($target, $db, [$new]), 'valid', "$label: a new token validates");
	is($target->safe_psql($db, "SELECT pat_revoke('$new->{id}')"), 't', "$label: revoke it");
	is(statuses($target, $db, [$new]), 'revoked', "$label: the new token is revoked");
	if ($has_audit)
	{
		my ($count) = split / /, $audit_before;
		$target->safe_psql($db, 'SELECT pat_audit_link()');
		is( $target->safe_psql($db,
				"SELECT string_agg(seq || ':' || action, ',' ORDER BY seq) FROM pat.audit_log WHERE seq > $count"),
			($count + 1) . ':created,' . ($count + 2) . ':revoked',
			"$label: new audit rows continue the sequence");
		is($target->safe_psql($db, 'SELECT ok FROM pat_audit_verify()'),
			't', "$label: the chain still verifies");
	}
}

check_restored($node, 'restored', 'same node, new database');

my $fresh = PatNode::new_node('restore_target');
$fresh->append_conf('postgresql.conf',
	"pat.digest_key = '$KEY'\npat.digest_previous_keys = 'sha256'\n");
$fresh->start;
# The roles first, as a DBA restores a server (the bootstrap superuser's CREATE ROLE fails,
# harmlessly); then the database.
$fresh->psql('postgres', $globals);
is($fresh->safe_psql('postgres', "SELECT count(*) FROM pg_roles WHERE rolname = 'dump_app_backend'"),
	'1', 'fresh node: the roles restored from pg_dumpall -g');
check_restored($fresh, 'restored', 'fresh node, same key');

# Negative control: without the key, only the token made before any key is found.
$fresh->safe_psql('postgres', 'CREATE DATABASE keyless');
($rc, $out, $err) = run_client($fresh, 'pg_restore', '-d', 'keyless', $dump);
is($rc, 0, 'restore for the keyless check');
set_key($fresh, '', '');
my $values = join(', ', map { "($_, '$tokens[$_]{token}')" } 0 .. $#tokens);
my ($keyless_out, $keyless_err) = ('', '');
$fresh->psql('keyless',
	"SELECT string_agg(v.status, ',' ORDER BY t.ord)
	   FROM (VALUES $values) AS t(ord, token), LATERAL pat_validate(t.token) v",
	stdout => \$keyless_out, stderr => \$keyless_err);
is($keyless_out, 'valid,not_found,not_found,not_found,not_found,not_found,not_found',
	'without the key, keyed tokens are not found (the key, not the dump, confirms them)');
like($keyless_err, qr/WARNING:  active personal access tokens were made under digest key \w+, which is not configured/,
	'and the check warns that the key is missing (1.6)');
my $fingerprint = $node->safe_psql($SRC,
	"SELECT key_id FROM pat_key_status() WHERE current");
is( $fresh->safe_psql('keyless',
		"SELECT configured::text || ' ' || (active_tokens > 0)::text FROM pat_key_status()
		  WHERE key_id = '$fingerprint'"),
	'false true',
	'pat_key_status names the key the active tokens were made under, not configured here');

# DROP EXTENSION ... CASCADE drops the tokens and the audit log with it.
$fresh->safe_psql('keyless', 'DROP EXTENSION pg_pat CASCADE');
is($fresh->safe_psql('keyless', "SELECT to_regclass('pat.tokens') IS NULL AND to_regclass('pat.audit_log') IS NULL"),
	't', 'DROP EXTENSION pg_pat CASCADE drops pat.tokens and pat.audit_log');

$fresh->stop;
$node->stop;
done_testing();
