# A database whose link passes keep failing does not make the linker flood the log or keep
# visiting it (issue 22 item 5): the failure is logged once, as a WARNING; commits there do not
# bring the next try forward; tries come 10 s, then 20 s, ... apart (at most 5 minutes); other
# databases link as usual meanwhile; and once the cause is gone, pat_audit_link() links
# everything and ends the back-off, so the worker links new commits within the link delay again.
# The failure here: the chain lock's row deleted, which every pass needs. And a worker in the
# middle of a long pass leaves when DROP DATABASE waits for it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('audit_backoff');
$node->append_conf('postgresql.conf', "pat.audit_link_delay = '100ms'\n");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE other');
for my $db ('postgres', 'other')
{
	$node->safe_psql($db, 'CREATE EXTENSION pg_pat');
}
my $failure = 'pat.audit_chain_head must hold exactly one row';
my $log_start = -s $node->logfile;
sub failures_logged
{
	my $log = slurp_file($node->logfile, $log_start);
	my @lines = ($log =~ /\Q$failure\E/g);
	return scalar @lines;
}

$node->safe_psql('postgres', 'DELETE FROM pat.audit_chain_head');
# A commit every half second for 25 s: each would wake the linker, were it not backing off.
my $start = time;
my $n = 0;
while (time - $start < 25)
{
	$n++;
	$node->safe_psql('postgres',
		"SELECT count(*) FROM pat_create('alice', 'backoff $n', '{}', '1 day')");
	usleep(500_000);
}
ok($node->poll_query_until('postgres', "SELECT true"), 'the server is up');
is(failures_logged(), 1, "a failing database's failure is logged once");
like(
	slurp_file($node->logfile, $log_start),
	qr/WARNING:  pg_pat could not link the audit rows of database "postgres": \Q$failure\E/,
	'as a WARNING naming the database');
isnt($node->safe_psql('postgres', 'SELECT count(*) FROM pat.audit_pending'),
	'0', 'its rows stay pending');

# Another database links as usual meanwhile.
$node->safe_psql('other', "SELECT count(*) FROM pat_create('bob', 'elsewhere', '{}', '1 day')");
ok( $node->poll_query_until('other', 'SELECT count(*) = 0 FROM pat.audit_pending', 't'),
	'another database links within the delay meanwhile');

# The cause removed: pat_audit_link() links everything and ends the back-off.
$node->safe_psql('postgres', 'INSERT INTO pat.audit_chain_head DEFAULT VALUES');
is($node->safe_psql('postgres', 'SELECT pat_audit_link() > 0'), 't', 'pat_audit_link() links');
like(
	slurp_file($node->logfile, $log_start),
	qr/LOG:  pg_pat links the audit rows of database "postgres" again/,
	'the recovery is logged');
$node->safe_psql('postgres', "SELECT count(*) FROM pat_create('alice', 'after', '{}', '1 day')");
my $linked_at = time;
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM pat.audit_pending', 't'),
	'the worker links new commits again');
cmp_ok(time - $linked_at, '<', 8, 'within the link delay, not after a back-off');
is( $node->safe_psql('postgres', 'SELECT ok FROM pat_audit_verify()'),
	't', 'the chain verifies');
is(failures_logged(), 1, 'the failure was never logged again');

# DROP DATABASE waits 5 s for the sessions in the database to leave and asks no background
# worker to: a link worker in the middle of a long pass leaves for it.
$node->safe_psql('postgres', 'CREATE DATABASE dropme');
$node->safe_psql('dropme', 'CREATE EXTENSION pg_pat');
# 100 pending rows that take a while to hash: 1,000 numbers of 131,072 digits each, 131 MB of
# JSON text a row (stored in 12 kB), loaded with a superuser's COPY as pg_restore loads rows.
$node->safe_psql(
	'dropme', q{
COPY pat.audit_pending (batch, ordinal, occurred_at, action, new_data, db_role, session_role, txid)
FROM PROGRAM $$awk 'BEGIN { for (r = 1; r <= 100; r++) {
    printf "%d\t1\t2026-12-01 00:00:00+00\tinsert\t[", -r;
    for (i = 1; i <= 1000; i++) printf "%s1e131071", (i > 1 ? ", " : "");
    print "]\tpostgres\tpostgres\t1" } }'$$
});
$node->safe_psql('dropme', "SELECT count(*) FROM pat_create('carol', 'wake', '{}', '1 day')");
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) > 0 FROM pg_stat_activity
		  WHERE datname = 'dropme' AND backend_type = 'pg_pat worker'
		    AND query = 'pg_pat: linking audit rows'", 't'),
	'a link worker is linking in the database');
my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE dropme');
is($rc, 0, 'DROP DATABASE succeeds while the worker was linking') or diag($err);
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'dropme'"),
	'0', 'the database is gone');

$node->stop;
done_testing();
