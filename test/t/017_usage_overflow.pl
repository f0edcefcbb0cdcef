# A full usage table never makes a used token look unused. Shared memory has room for 100
# tokens, and the writing of usage is held up while 200 other tokens fill it: a token checked
# every half second then finds it full, so its checks are counted for the database without it.
# pat.max_inactivity must not revoke it, nor any other token of the database (which one was
# used is unknown), until the limit has passed since; the usage worker warns, and the lifecycle
# worker logs why it revoked nothing. Once no such check falls within the limit (here: their
# record removed), revocation for inactivity resumes: the idle token goes, the used one stays.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('usage_overflow');
$node->append_conf('postgresql.conf',
	"pat.usage_max_entries = 100\npat.lifecycle_interval = '200ms'\npat.usage_flush_interval = '1s'\n");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('repo:read');
SELECT pat_define_role('reader', '{repo:read}');
SELECT pat_grant_role('alice', 'reader');
SELECT pat_grant_role('filler', 'reader');
CREATE TABLE fillers AS
    SELECT g, token FROM generate_series(1, 200) g,
           LATERAL pat_create('filler', 'filler ' || g, '{repo:read}', '1 day');
});
my $used = PatNode::create_token($node, 'alice', 'in use', '{repo:read}');
my $idle = PatNode::create_token($node, 'alice', 'idle', '{repo:read}');

sub validate_used
{
	is($node->safe_psql('postgres', "SELECT status FROM pat_validate('$used->{token}', '{}')"),
		'valid', 'the token in use is valid');
}

sub revoked
{
	return $node->safe_psql('postgres',
		"SELECT string_agg(name || '=' || (revoked_at IS NOT NULL), ',' ORDER BY name)
		   FROM pat.tokens WHERE name IN ('in use', 'idle')");
}

# Usage is written by pat_merge_usage(), which waits for this lock. The usage worker, woken
# at three quarters full by the first hundred fillers, takes what the table holds then and
# waits; the second hundred fill the table again, and it stays full.
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('BEGIN');
$blocker->query_safe('LOCK TABLE pat.token_checks IN EXCLUSIVE MODE');
sub validate_fillers
{
	my ($condition) = @_;
	$node->safe_psql('postgres',
		"DO \$\$ DECLARE t text; BEGIN FOR t IN SELECT token FROM fillers WHERE $condition LOOP PERFORM pat_validate(t, '{repo:read}'); END LOOP; END \$\$"
	);
}
validate_fillers('g <= 100');
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) > 0 FROM pg_locks WHERE relation = 'pat.token_checks'::regclass AND NOT granted"),
	'the usage worker waits to write what it took');
validate_fillers('g > 100');

# The token in use, every half second for longer than the limit, while the table is full.
for (1 .. 8)
{
	validate_used();
	usleep(500_000);
}
$node->safe_psql('postgres', "ALTER SYSTEM SET pat.max_inactivity = '3s'");
$node->reload;
validate_used();
$blocker->query_safe('COMMIT');
$blocker->quit;
for (1 .. 6)
{
	validate_used();
	usleep(500_000);
}
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) > 0 FROM pat.token_checks WHERE token_id IS NULL AND outcome = 'valid'"),
	'checks that found the table full are counted for the database');
is(revoked(), 'idle=false,in use=false',
	'no token is revoked for inactivity while a use may be unrecorded');
ok($node->wait_for_log(qr/pg_pat counted \d+ checks without their tokens: shared memory's usage table was full/),
	'the usage worker warns that checks were counted without their tokens');
ok($node->wait_for_log(qr/pg_pat revoked no token for inactivity in database "postgres": uses until .* may be unrecorded/),
	'the lifecycle worker says why it revoked nothing');

# The overflow behind the limit (its record gone): the idle token is revoked, the one in use,
# whose checks now fit, is not.
$node->safe_psql('postgres',
	"DELETE FROM pat.token_checks WHERE token_id IS NULL AND outcome = 'valid'");
for (1 .. 10)
{
	validate_used();
	usleep(500_000);
}
is(revoked(), 'idle=true,in use=false',
	'then the idle token is revoked, the one in use is not');

$node->safe_psql('postgres', 'ALTER SYSTEM RESET pat.max_inactivity');
$node->reload;
$node->stop;
done_testing();
