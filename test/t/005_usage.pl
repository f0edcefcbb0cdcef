# pg_pat needs preloading, and keeps usage in shared memory:
#  * not preloaded, CREATE EXTENSION and LOAD fail with 55000 and a hint naming the setting;
#  * preloaded, a non-superuser can neither read pat.digest_key nor lift pat.max_lifetime with
#    PGOPTIONS (both worked while pg_pat was loaded lazily);
#  * the background worker writes usage within a few intervals;
#  * a clean restart loses no usage (saved at shutdown); an immediate shutdown loses at most
#    what was counted since the last flush.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

# --- not preloaded ---------------------------------------------------------------------------

my $plain = PostgreSQL::Test::Cluster->new('not_preloaded');
$plain->init;
$plain->start;
my ($rc, $out, $err) = $plain->psql('postgres', "\\set VERBOSITY verbose\nCREATE EXTENSION pg_pat");
isnt($rc, 0, 'not preloaded: CREATE EXTENSION fails');
like($err, qr/ERROR:\s+55000: pg_pat must be loaded via shared_preload_libraries/,
	'not preloaded: SQLSTATE 55000 and a clear message');
like($err, qr/HINT:\s+Add 'pg_pat' to shared_preload_libraries/, 'not preloaded: the hint names the setting');
($rc, $out, $err) = $plain->psql('postgres', "LOAD 'pg_pat'");
like($err, qr/pg_pat must be loaded via shared_preload_libraries/, 'not preloaded: LOAD fails too');
is($plain->safe_psql('postgres', "SELECT count(*) FROM pg_extension WHERE extname = 'pg_pat'"),
	'0', 'not preloaded: nothing was installed');
$plain->stop;

# --- preloaded: settings are real and privileged ------------------------------------------

my $node = PatNode::new_node('usage');
$node->append_conf('postgresql.conf',
	"pat.usage_flush_interval = '200ms'\npat.digest_key = 'tap-usage-digest-key-0123456789abcdef'\n"
	  . "pat.max_lifetime = '90 days'\n");
$node->start;

# The server names the library it loaded and its release, META.json's, where it lists loaded
# modules at all (pg_get_loaded_modules()); older servers have nothing to show.
SKIP:
{
	skip 'this server does not list loaded modules', 1
	  unless $node->safe_psql('postgres', "SELECT to_regproc('pg_get_loaded_modules') IS NOT NULL")
	  eq 't';
	my $meta = ($ENV{TESTDIR} // '.') . '/META.json';
	my ($release) = slurp_file($meta) =~ /"version":\s*"([^"]+)"/;
	is( $node->safe_psql(
			'postgres',
			"SELECT module_name || ' ' || version FROM pg_get_loaded_modules() "
			  . "WHERE file_name = 'pg_pat.so'"),
		"pg_pat $release",
		'pg_get_loaded_modules() shows pg_pat and its release');
}

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
CREATE ROLE regress_app LOGIN;
SELECT pat_grant_profile('regress_app', 'application');
SELECT pat_define_scope('notes:read');
SELECT pat_define_role('member', '{notes:read}');
SELECT pat_grant_role('ann', 'member');
});

($rc, $out, $err) = $node->psql('postgres', 'SHOW pat.digest_key', extra_params => [ '-U', 'regress_app' ]);
isnt($rc, 0, 'a non-superuser cannot SHOW pat.digest_key');
like($err, qr/must be superuser|permission denied/, '... refused as a privilege error');
{
	local $ENV{PGOPTIONS} = '-c pat.max_lifetime=';
	($rc, $out, $err) = $node->psql('postgres', "SELECT * FROM pat_create('ann', 'x', '{}', 'never')",
		extra_params => [ '-U', 'regress_app' ]);
}
isnt($rc, 0, 'PGOPTIONS cannot lift pat.max_lifetime for a non-superuser');
like($err, qr/permission denied to set parameter "pat.max_lifetime"/, '... the connection is refused');
($rc, $out, $err) = $node->psql('postgres', "SELECT * FROM pat_create('ann', 'x', '{}', 'never')",
	extra_params => [ '-U', 'regress_app' ]);
like($err, qr/pat.max_lifetime/, 'and the lifetime policy holds: never is refused');

# --- the worker writes usage -------------------------------------------------------------------

my ($token, $id) = split /\|/, $node->safe_psql('postgres',
	"SELECT token || '|' || token_id FROM pat_create('ann', 'usage', '{notes:read}', '30 days')");
sub check_times
{
	my ($n) = @_;
	$node->safe_psql('postgres',
		"DO \$\$ BEGIN FOR i IN 1..$n LOOP PERFORM pat_validate('$token', '{notes:read}'); END LOOP; END \$\$");
}
sub written
{
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(checks), 0) FROM pat.token_checks WHERE token_id = '$id' AND outcome = 'valid'");
}
check_times(5);
ok($node->poll_query_until('postgres', "SELECT coalesce(sum(checks), 0) = 5 FROM pat.token_checks WHERE token_id = '$id'"),
	'the worker writes 5 checks within a few intervals');
is($node->safe_psql('postgres', "SELECT last_used_at IS NOT NULL FROM pat.token_usage WHERE token_id = '$id'"),
	't', 'and the last use');

# --- restarts ------------------------------------------------------------------------------

# From here only explicit flushes write, so what each restart keeps is exact.
$node->append_conf('postgresql.conf', "pat.usage_flush_interval = '1h'\n");
$node->reload;
ok($node->poll_query_until('postgres', "SELECT current_setting('pat.usage_flush_interval') = '1h'"),
	'flush interval now an hour');
sleep(1);    # the launcher's current wait was for the old interval

check_times(1);
# Two more, from client addresses, IPv4 and IPv6, pending at the shutdown.
$node->safe_psql('postgres',
	"SELECT pat_validate('$token', '{notes:read}', '192.0.2.10'); SELECT pg_sleep(0.01);
	 SELECT pat_validate('$token', '{notes:read}', '2001:db8::10')");
is($node->safe_psql('postgres', "SELECT count(*) FROM pat.token_addresses WHERE token_id = '$id'"),
	'0', 'client addresses pending, not written');
$node->stop('fast');
$node->start;
# Saved at shutdown, loaded at start, and written by the worker's first round right away.
ok($node->poll_query_until('postgres',
		"SELECT coalesce(sum(checks), 0) = 8 FROM pat.token_checks WHERE token_id = '$id' AND outcome = 'valid'"),
	'a clean restart loses no check (5 + 3)');
is($node->safe_psql('postgres', "SELECT last_addresses FROM pat_list('ann') WHERE token_id = '$id'"),
	'{2001:db8::10,192.0.2.10}', 'nor the client addresses pending at the shutdown, newest first');

check_times(4);
is($node->safe_psql('postgres', 'SELECT pat_flush_usage()'), '1', 'flushed before the crash');
check_times(2);    # counted after the last flush: what a crash may lose
$node->stop('immediate');
$node->start;
$node->safe_psql('postgres', 'SELECT pat_flush_usage()');
my $after_crash = written();
ok($after_crash >= 12 && $after_crash <= 14,
	"an immediate shutdown loses at most the checks since the last flush ($after_crash of 14 kept)");
is($node->safe_psql('postgres', "SELECT status FROM pat_validate('$token', '{notes:read}')"),
	'valid', 'checks work after the crash');

# --- memory bound: usage that does not fit is counted for the database ----------------------

$node->append_conf('postgresql.conf', "pat.usage_max_entries = 100\n");
$node->restart;
$node->safe_psql('postgres', 'SELECT pat_flush_usage()');
my $wide_before = $node->safe_psql('postgres',
	"SELECT coalesce(sum(checks), 0) FROM pat.token_checks WHERE token_id IS NULL AND outcome = 'valid'");
$node->safe_psql('postgres',
	"CREATE TABLE many AS SELECT * FROM generate_series(1, 150) g, LATERAL pat_create('ann', 'many ' || g, '{notes:read}', '1 day')");
$node->safe_psql('postgres',
	"DO \$\$ DECLARE t text; BEGIN FOR t IN SELECT token FROM many LOOP PERFORM pat_validate(t, '{notes:read}'); END LOOP; END \$\$");
# At three quarters full the worker is woken to flush early, so how many fall back to the
# database-wide count depends on timing; none is lost or counted twice.
$node->safe_psql('postgres', 'SELECT pat_flush_usage()');
my $per_token = $node->safe_psql('postgres',
	"SELECT coalesce(sum(checks), 0) FROM pat.token_checks c JOIN many m USING (token_id)");
my $database_wide = $node->safe_psql('postgres',
	"SELECT coalesce(sum(checks), 0) - $wide_before FROM pat.token_checks WHERE token_id IS NULL AND outcome = 'valid'");
note("150 checks of 150 tokens with room for 100: $per_token per token, $database_wide database-wide");
is($per_token + $database_wide, 150, 'every check is counted once, per token or for the database');
ok($per_token <= 150 && $per_token >= 100, 'at least the 100 that fit are counted per token');

$node->stop;
done_testing();
