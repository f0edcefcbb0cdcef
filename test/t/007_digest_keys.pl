# Digest key rotation through pat.digest_previous_keys, a list PostgreSQL's list parser reads:
#  * items are trimmed, so '<key1>, <key2>' keeps tokens made under either key valid (a digester
#    built for " <key2>" would leave the tokens made under key2 not validating);
#  * a double-quoted item keeps its spaces and commas;
#  * "sha256" stands for tokens made before any key;
#  * a list with a short key is refused at reload, and the keys in force stay;
#  * the keys are hidden from every role but superusers, pg_monitor (pg_read_all_settings)
#    included, and never written to the server log, not even when a reload changes or refuses
#    them.
use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_hex);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('digest_keys');
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('catalog:read');
SELECT pat_define_role('reader', '{catalog:read}');
SELECT pat_grant_role('alice', 'reader');
});

my $key1 = 'key-one-of-thirty-two-characters-or-more';
my $key2 = 'key-two-of-thirty-two-characters-or-more';
my $key3 = '  key three, with a comma and spaces inside  ';

# A key's fingerprint, as pat_key_status() shows it.
sub fingerprint
{
	my ($key) = @_;
	return $key eq '' ? 'sha256' : substr(hmac_sha256_hex('pg_pat key id', $key), 0, 16);
}

# Sets the keys in postgresql.conf, reloads, and waits until new sessions use the current key.
# The wait compares fingerprints: the test's own statements are logged (log_statement = all),
# and the log must hold no key.
sub set_keys
{
	my ($current, $previous) = @_;
	$node->append_conf('postgresql.conf',
		"pat.digest_key = '$current'\npat.digest_previous_keys = '$previous'\n");
	$node->reload;
	my $expected = fingerprint($current);
	ok( $node->poll_query_until(
			'postgres', "SELECT (pat.configured_key_ids())[1] = '$expected'"),
		"digest key in force after reload");
}

sub statuses
{
	my @tokens = @_;
	return join(',',
		map { $node->safe_psql('postgres', "SELECT status FROM pat_validate('$_->{token}')") }
		  @tokens);
}

my $plain = PatNode::create_token($node, 'alice', 'before any key', '{catalog:read}', '30 days');
set_keys($key1, '');
my $under1 = PatNode::create_token($node, 'alice', 'under key 1', '{catalog:read}', '30 days');
is(statuses($plain, $under1), 'not_found,valid', 'key 1 alone: the plain token is not found');

set_keys($key2, "$key1");
my $under2 = PatNode::create_token($node, 'alice', 'under key 2', '{catalog:read}', '30 days');
is(statuses($under1, $under2), 'valid,valid', 'key 2 with key 1 as former key');

# Two former keys with spaces around them, and sha256 for the plain token.
set_keys($key3, "  $key1 ,   $key2  , sha256 ");
my $under3 = PatNode::create_token($node, 'alice', 'under key 3', '{catalog:read}', '30 days');
is(statuses($plain, $under1, $under2, $under3), 'valid,valid,valid,valid',
	'former keys listed with spaces around them: every token valid');

# A key with a comma and spaces at its ends is a former key when double-quoted.
set_keys($key1, "\"$key3\", $key2");
is(statuses($under1, $under2, $under3, $plain), 'valid,valid,valid,not_found',
	'a double-quoted former key keeps its comma and spaces');

# A short former key is refused at reload: the keys in force stay.
my $log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "pat.digest_previous_keys = '$key2, too-short'\n");
$node->reload;
ok($node->wait_for_log(qr/Each former key must be at least 32 characters/, $log_offset),
	'a list with a short key is refused at reload, and the server log says why');
is(statuses($under1, $under2, $under3), 'valid,valid,valid',
	'the former keys in force stay');

# Keys in force: $key1, then former keys $key3 and $key2. pg_monitor holds pg_read_all_settings,
# to which PostgreSQL opens GUC_SUPERUSER_ONLY settings: SHOW and current_setting() give it a
# mask with each key's fingerprint (what pat_key_status() shows), never the key; pg_settings
# lists neither setting (GUC_NO_SHOW_ALL), and pg_file_settings stays the superuser's.
$node->safe_psql('postgres',
	'CREATE ROLE regress_monitor LOGIN; GRANT pg_monitor TO regress_monitor;');
my ($fp1, $fp2, $fp3) = map { fingerprint($_) } $key1, $key2, $key3;
my $monitor_query = q{
SHOW pat.digest_key;
SHOW pat.digest_previous_keys;
SELECT current_setting('pat.digest_key');
SELECT current_setting('pat.digest_previous_keys');
SELECT count(*) FROM pg_settings WHERE name LIKE 'pat.digest%';
SELECT count(*) FROM pg_show_all_settings() WHERE name LIKE 'pat.digest%';
SELECT has_table_privilege('pg_file_settings', 'SELECT'),
       has_function_privilege('pg_show_all_file_settings()', 'EXECUTE');
};
my $masked_current = "******** (key id $fp1)";
my $masked_previous = "******** (key id $fp3), ******** (key id $fp2)";
is( $node->safe_psql('postgres', $monitor_query, extra_params => [ '-U', 'regress_monitor' ]),
	join("\n",
		$masked_current, $masked_previous, $masked_current, $masked_previous, 0, 0, 'f|f'),
	'pg_monitor sees masks with key fingerprints, never a key');
is( $node->safe_psql(
		'postgres',
		"SELECT current_setting('pat.digest_key'), current_setting('pat.digest_previous_keys')"),
	qq{$key1|"$key3", $key2},
	'a superuser still reads the keys');

# Nor can a key land in pg_db_role_setting, which every role reads: a reload-only setting
# cannot be set per database or role.
foreach my $target ('DATABASE postgres', 'ROLE regress_monitor')
{
	my ($rc, $out, $err) = $node->psql('postgres',
		"ALTER $target SET pat.digest_key = 'thirty-two characters, but no key'");
	like($err, qr/parameter "pat.digest_key" cannot be changed now/,
		"ALTER $target SET pat.digest_key is refused");
}
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_db_role_setting, unnest(setconfig) c WHERE c LIKE 'pat.digest%'"),
	'0', 'pg_db_role_setting holds no key');

# "sha256" (no key) is no secret, and an unset key shows as empty.
set_keys('', 'sha256');
is( $node->safe_psql(
		'postgres', $monitor_query, extra_params => [ '-U', 'regress_monitor' ]),
	join("\n", '', 'sha256', '', 'sha256', 0, 0, 'f|f'),
	'without a key pg_monitor sees an empty key and "sha256"');

# A reload that changes a key is logged by name, without the value; a refused value neither.
my $log = slurp_file($node->logfile);
like($log, qr/parameter "pat.digest_key" changed \(the value is not logged\)/,
	'a key change is logged, without the key');
like($log, qr/invalid value for parameter "pat.digest_previous_keys" \(the value is not shown\)/,
	'a refused list of keys is logged, without the keys');
unlike($log, qr/\Q$key1\E|\Q$key2\E|key three/, 'no key is in the server log');

$node->stop;
done_testing();
