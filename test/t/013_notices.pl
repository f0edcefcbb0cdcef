# Notices across a crash and from pg_pat's worker. A mailer takes notices in a
# transaction and commits after sending: notices taken and committed before a crash are never
# handed out again, notices taken by a transaction the crash cut off are handed out after it,
# and every notice is delivered exactly once over all takers. Each queued notice sends NOTIFY
# pat_notices at commit. The worker queues a due expiry notice on its own, and with
# pat.max_inactivity revokes tokens unused for longer (never a token in use), with audit
# action revoked_inactive and a notice.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('notices');
$node->append_conf('postgresql.conf',
	"pat.lifecycle_interval = '200ms'\npat.usage_flush_interval = '1h'\n");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('repo:read');
SELECT pat_define_role('reader', '{repo:read}');
SELECT pat_grant_role('alice', 'reader');
});

# --- the worker queues a due expiry notice; NOTIFY announces it -------------------------------

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN pat_notices');
$node->safe_psql('postgres',
	"SELECT pat_create('alice', 'expiring', '{repo:read}', now() + interval '7 days 1 second')");
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) = 1 FROM pat.notices WHERE kind = 'expires_in_7_days'", 't'),
	'the worker queues the 7-day notice once it is due, unasked');
# psql prints notifications it received before the next query's result.
my ($out) = $listener->query('SELECT 1');
my $notified = $listener->{stdout} . $out;
like($notified . $listener->{stderr}, qr/notification "pat_notices"/,
	'a listener is told with NOTIFY pat_notices');
$listener->quit;

# --- notices across a crash -------------------------------------------------------------------

my @tokens = map { PatNode::create_token($node, 'alice', "leak $_", '{repo:read}')->{token} }
  1 .. 10;
my $array = join(',', map { "'$_'" } @tokens);
is($node->safe_psql('postgres', "SELECT pat_report_leaked(ARRAY[$array], 'crash test')"),
	'10', 'ten leaked tokens revoked, ten notices queued');
my $total = $node->safe_psql('postgres', 'SELECT count(*) FROM pat.notices');
is($total, '11', 'eleven notices in all');

# Mailer one took three and committed; mailer two has four taken when the server dies.
my @delivered = split /\n/,
  $node->safe_psql('postgres', 'SELECT notice_id FROM pat_take_notices(3)');
is(scalar @delivered, 3, 'a mailer takes three and commits');
my $cut_off = $node->background_psql('postgres');
$cut_off->query_safe('BEGIN');
my $in_flight = $cut_off->query_safe('SELECT count(*) FROM pat_take_notices(4)');
is($in_flight, '4', 'another has four taken, not committed, at the crash');

$node->stop('immediate');
$cut_off->{run}->kill_kill;
$node->start;

is($node->safe_psql('postgres', 'SELECT count(*) FROM pat.notices'),
	$total, 'no notice lost in the crash');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pat.notices WHERE taken_at IS NULL'),
	$total - 3, 'the ones the cut-off mailer held are untaken again');
# Two mailers drain what is left, in small batches, concurrently.
my @mailers = map { $node->background_psql('postgres') } 1 .. 2;
my $round = 0;
while (1)
{
	my $took = 0;
	for my $mailer (@mailers)
	{
		$mailer->query_safe('BEGIN');
		my $ids = $mailer->query_safe('SELECT notice_id FROM pat_take_notices(2)');
		my @ids = grep { /\d/ } split /\n/, $ids;
		push @delivered, @ids;
		$took += @ids;
	}
	$_->query_safe('COMMIT') for @mailers;
	last if $took == 0 || ++$round > 20;
}
$_->quit for @mailers;
my %seen;
my @twice = grep { $seen{$_}++ } @delivered;
is(scalar @delivered, $total, 'every notice delivered');
is(scalar @twice, 0, 'none delivered twice');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pat_take_notices(100)'),
	'0', 'nothing left for a third taker');

# --- pat.max_inactivity -----------------------------------------------------------------------

my $used = PatNode::create_token($node, 'alice', 'in use', '{repo:read}');
my $idle = PatNode::create_token($node, 'alice', 'idle', '{repo:read}');
$node->safe_psql('postgres', "ALTER SYSTEM SET pat.max_inactivity = '3s'");
$node->reload;
# The used token is checked every half second: its usage is only in shared memory (the usage
# worker writes it once an hour here), which the lifecycle worker writes out before judging.
for (1 .. 10)
{
	$node->safe_psql('postgres', "SELECT pat_validate('$used->{token}', '{}')");
	usleep(500_000);
}
is( $node->safe_psql('postgres',
		"SELECT string_agg(name || '=' || (revoked_at IS NOT NULL), ',' ORDER BY name)
		   FROM pat.tokens WHERE name IN ('in use', 'idle')"),
	'idle=true,in use=false',
	'the idle token is revoked, the one in use is not');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM (SELECT token_id, action FROM pat.audit_pending
		   UNION ALL SELECT token_id, action FROM pat.audit_log) a
		  WHERE token_id = '$idle->{id}' AND action = 'revoked_inactive'"),
	'1', 'audit action revoked_inactive, once');
is( $node->safe_psql('postgres',
		"SELECT details->>'max_inactivity' FROM pat.notices
		  WHERE token_id = '$idle->{id}' AND kind = 'revoked_inactive'"),
	'00:00:03', 'a revoked_inactive notice naming the limit');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pat.max_inactivity');
$node->reload;

$node->stop;
done_testing();
