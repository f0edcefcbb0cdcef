# Audit rows committed but not yet linked when the server is killed are linked after the
# restart: none is lost, none stays in pat.audit_pending, each transaction's rows stay together
# and in order, and pat_audit_verify() is ok. Rows of a transaction in flight at the crash
# never appear. pat.audit_link_delay is set to a minute so that every row is still pending at
# the crash; the linker's pass at startup does not wait for it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('audit_crash');
$node->append_conf('postgresql.conf',
	"pat.audit_link_delay = '60s'\ncheckpoint_timeout = '1h'\nmax_wal_size = '1GB'\n");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('orders:write');
SELECT pat_define_role('writer', '{orders:write}');
SELECT pat_grant_role('alice', 'writer');
CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO orders SELECT g, 0 FROM generate_series(1, 100) AS g;
SELECT pat_audit_table('orders');
});
my $token = PatNode::create_token($node, 'alice', 'crash test', '{orders:write}');
$node->safe_psql('postgres', 'SELECT pat_audit_link()');
my $start = $node->safe_psql('postgres', 'SELECT coalesce(max(seq), 0) FROM pat.audit_log');

# 200 committed transactions of 1 to 3 audited rows each, in the order written.
my $sql = '';
my $expected_rows = 0;
for my $i (1 .. 200)
{
	my $rows = 1 + $i % 3;
	my $first = 1 + ($i % 97);
	$sql .= "BEGIN; SELECT pat_authenticate('$token->{token}');\n"
	  . "UPDATE orders SET n = n + 1 WHERE id BETWEEN $first AND $first + $rows - 1;\nCOMMIT;\n";
	$expected_rows += $rows;
}
$node->safe_psql('postgres', $sql);

# A transaction in flight at the crash: its rows are pending but never committed.
my $inflight = $node->background_psql('postgres');
$inflight->query_safe('BEGIN');
$inflight->query_safe("SELECT pat_authenticate('$token->{token}')");
$inflight->query_safe('UPDATE orders SET n = -1 WHERE id <= 10');

my $pending = $node->safe_psql('postgres', 'SELECT count(*) FROM pat.audit_pending');
is($pending, $expected_rows, 'every committed row is still pending before the crash');
is($node->safe_psql('postgres', "SELECT count(*) FROM pat.audit_log WHERE seq > $start"),
	'0', 'none is linked yet');

$node->stop('immediate');
$inflight->{run}->kill_kill;
$node->start;

ok( $node->poll_query_until(
		'postgres', 'SELECT count(*) = 0 FROM pat.audit_pending', 't'),
	'the linker links every pending row after the restart');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pat.audit_log WHERE seq > $start AND table_name = 'public.orders'"),
	$expected_rows,
	'every committed row is in the chain');
is($node->safe_psql('postgres', "SELECT count(*) FROM pat.audit_log WHERE new_data ->> 'n' = '-1'"),
	'0', 'no row of the transaction in flight');
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM (SELECT txid FROM pat.audit_log WHERE seq > $start
		   GROUP BY txid HAVING max(seq) - min(seq) + 1 <> count(*)) AS split"),
	'0',
	"each transaction's rows are contiguous");
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM pat.audit_log a JOIN pat.audit_log b ON b.seq = a.seq + 1
		  WHERE a.seq > $start AND a.txid = b.txid
		    AND (b.old_data ->> 'id')::int < (a.old_data ->> 'id')::int"),
	'0',
	"within a transaction, rows keep the order they were written in");
is($node->safe_psql('postgres', 'SELECT ok::text || unlinked FROM pat_audit_verify()'),
	'true0', 'pat_audit_verify() ok, nothing unlinked');

# The chain goes on after the restart, linked by the worker again.
$node->safe_psql('postgres', "BEGIN; SELECT pat_authenticate('$token->{token}');
	UPDATE orders SET n = n + 1 WHERE id = 1; COMMIT;");
is($node->safe_psql('postgres', 'SELECT pat_audit_link()'), '1', 'new rows link');
is($node->safe_psql('postgres', 'SELECT ok FROM pat_audit_verify()'), 't', 'still verifies');

$node->stop;
done_testing();
