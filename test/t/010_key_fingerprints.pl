# Digest keys that cannot silently go missing. Each token records the fingerprint of the
# key it was made under (pat.tokens.key_id: HMAC-SHA-256(key, 'pg_pat key id'), first 8 bytes
# in hex; "sha256" without a key). A standby made from the primary's backup but without the
# pat.digest_key line still answers not_found for those tokens, and says why: the server
# log gets a WARNING naming the missing key's fingerprint, once per backend and key, and
# pat_key_status() shows the key as not configured. Neither the key nor a token is ever logged.
use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_hex);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $key = 'the-primary-digest-key-of-32-chars-or-more';
my $fingerprint = substr(hmac_sha256_hex('pg_pat key id', $key), 0, 16);

my $primary = PatNode::new_node('key_primary', allows_streaming => 1);
$primary->start;
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('catalog:read');
SELECT pat_define_role('reader', '{catalog:read}');
SELECT pat_grant_role('alice', 'reader');
});

# One token before any key, two under the key (one of them revoked).
my $plain = PatNode::create_token($primary, 'alice', 'before the key', '{catalog:read}');
$primary->append_conf('postgresql.conf',
	"pat.digest_key = '$key'\npat.digest_previous_keys = 'sha256'\n");
$primary->reload;
ok($primary->poll_query_until('postgres', "SELECT current_setting('pat.digest_key') = '$key'"),
	'the key is in force');
my $keyed = PatNode::create_token($primary, 'alice', 'under the key', '{catalog:read}');
my $revoked = PatNode::create_token($primary, 'alice', 'revoked', '{catalog:read}');
$primary->safe_psql('postgres', "SELECT pat_revoke('$revoked->{id}')");

is( $primary->safe_psql(
		'postgres',
		"SELECT string_agg(key_id, ',' ORDER BY name) FROM pat.tokens"),
	"sha256,$fingerprint,$fingerprint",
	'each token records the fingerprint of its key: HMAC-SHA-256(key, "pg_pat key id"), 8 bytes');
is( $primary->safe_psql(
		'postgres',
		"SELECT string_agg(concat_ws(' ', key_id, tokens, active_tokens, configured::text, current::text), '; ')
		   FROM pat_key_status()"),
	"$fingerprint 2 1 true true; sha256 1 1 true false",
	'pat_key_status on the primary: both keys configured, the current first');

# A standby from the primary's backup, without the key line (a fresh machine's config).
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('key_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "pat.digest_key = ''\npat.digest_previous_keys = ''\n");
$standby->start;
$primary->wait_for_catchup($standby);

my $log_offset = -s $standby->logfile;
# Two checks in one session: one WARNING, to the client and to the log.
my ($rc, $out, $err) = $standby->psql('postgres',
	"SELECT status FROM pat_validate('$keyed->{token}');
	 SELECT status FROM pat_validate('$keyed->{token}');");
is($out, "not_found\nnot_found",
	'without the key the standby answers not_found for a token made under it');
my @told = $err =~ /(WARNING:  active personal access tokens were made under digest key $fingerprint, which is not configured)/g;
is(scalar(@told), 1, 'the client of the check is told once');
# Another session finding every token it checks: no warning.
($rc, $out, $err) = $standby->psql('postgres',
	"SELECT status FROM pat_validate('$plain->{token}'); SELECT status FROM pat_validate('pat_x')");
is($out, "valid\nmalformed", 'the token made before any key is still valid there');
is($err, '', 'a session whose checks find their tokens (or reject malformed ones) is not warned');
my $log = slurp_file($standby->logfile, $log_offset);
my @warnings = $log =~ /(WARNING:  active personal access tokens were made under digest key $fingerprint)/g;
is(scalar(@warnings), 1, 'the log warns once per backend and key (one session checked twice)');
like($log, qr/HINT:  Set pat.digest_key/, 'the warning says what to set');
my @message_lines = grep { /WARNING|DETAIL|HINT/ } split /\n/, $log;
unlike(join("\n", @message_lines), qr/\Q$key\E|\Q$keyed->{token}\E/,
	'the warning names neither the key nor the token');

# A second backend warns again (once); a malformed token triggers no survey.
$log_offset = -s $standby->logfile;
$standby->psql('postgres', "SELECT status FROM pat_validate('$keyed->{token}')");
$log = slurp_file($standby->logfile, $log_offset);
@warnings = $log =~ /(WARNING:  active personal access tokens were made under digest key)/g;
is(scalar(@warnings), 1, 'a new backend warns once more');

is( $standby->safe_psql(
		'postgres',
		"SELECT string_agg(concat_ws(' ', key_id, tokens, active_tokens, coalesce(configured::text, 'unknown'), current::text), '; ')
		   FROM pat_key_status()"),
	"sha256 1 1 true true; $fingerprint 2 1 false false",
	'pat_key_status on the standby: the key tokens were made under is not configured');

# Once the key is set the tokens validate, and a check finding nothing warns of nothing.
$standby->append_conf('postgresql.conf', "pat.digest_key = '$key'\npat.digest_previous_keys = 'sha256'\n");
$standby->reload;
ok($standby->poll_query_until('postgres', "SELECT current_setting('pat.digest_key') = '$key'"),
	'the standby has the key after a reload');
$log_offset = -s $standby->logfile;
($rc, $out, $err) = $standby->psql('postgres',
	"SELECT status FROM pat_validate('$keyed->{token}');
	 SELECT status FROM pat_validate('$revoked->{token}');
	 SELECT status FROM pat_validate(overlay('$keyed->{token}' PLACING 'AAAA' FROM 10 FOR 4))");
like($out, qr/^valid\nrevoked\n(not_found|malformed)$/, 'with the key: valid and revoked again');
is($err, '', 'and no warning');

my ($urc, $uout, $uerr) = $primary->psql('postgres',
	"UPDATE pat.tokens SET key_id = 'other' WHERE token_id = '$keyed->{id}'");
like($uerr, qr/the key_id of a token cannot change once recorded/, 'a recorded key_id never changes');

$standby->stop;
$primary->stop;
done_testing();
