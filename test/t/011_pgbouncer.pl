# pg_pat behind pgbouncer in transaction pooling mode, as docs/application.md recommends it:
# two clients share one server connection and a token context never reaches the other client;
# pat_authenticate in autocommit warns and leaves no context; a missing scope maps to 403 and a
# revoked or malformed token to one generic 401 (test/pooler/client.py, psycopg 3); driver-side
# named prepared statements clash behind pgbouncer 1.18 (42P05) and unnamed ones do not.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Temp qw(tempdir);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $pgbouncer = '/usr/sbin/pgbouncer';
# scripts/install-deps installs pgbouncer and python3-psycopg; without them this test fails.
die "$pgbouncer is missing: run scripts/install-deps" unless -x $pgbouncer;

my $node = PatNode::new_node('pooled');
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('notes:read');
SELECT pat_define_scope('notes:write');
SELECT pat_define_role('reader', '{notes:read}');
SELECT pat_grant_role('alice', 'reader');
});
my $token = PatNode::create_token($node, 'alice', 'cli', '{notes:read}');
my $other = PatNode::create_token($node, 'alice', 'old laptop', '{notes:read}');

# pgbouncer on its own socket directory and port, one server connection per pool.
my $dir = tempdir(CLEANUP => 1, DIR => $PostgreSQL::Test::Utils::tmp_check);
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $host = $node->host;
my $node_port = $node->port;
my $user = getpwuid($<);
open(my $users, '>', "$dir/userlist.txt") or die;
print $users qq{"$user" ""\n};
close($users);
open(my $conf, '>', "$dir/pgbouncer.ini") or die;
print $conf <<CONF;
[databases]
postgres = host=$host port=$node_port dbname=postgres
[pgbouncer]
listen_addr =
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
CONF
close($conf);
system($pgbouncer, '-d', '-q', "$dir/pgbouncer.ini") == 0 or die "pgbouncer did not start";
END
{
	if (defined $dir && -f "$dir/pgbouncer.pid")
	{
		chomp(my $pid = slurp_file("$dir/pgbouncer.pid"));
		kill 'TERM', $pid;
	}
}
# Wait for the socket.
for (1 .. 100)
{
	last if -S "$dir/.s.PGSQL.$port";
	select(undef, undef, undef, 0.1);
}
ok(-S "$dir/.s.PGSQL.$port", 'pgbouncer listens');

my $conninfo = "host=$dir port=$port dbname=postgres user=$user";
my ($stdout, $stderr);
my $ran = IPC::Run::run(
	[ '/usr/bin/python3', "$FindBin::RealBin/../pooler/client.py", $conninfo, $token->{token}, $other->{token} ],
	'>', \$stdout, '2>', \$stderr);
ok($ran, 'the psycopg client ran') or diag($stderr);
my %seen = map { split /=/, $_, 2 } grep { /=/ } split /\n/, $stdout;

is($seen{a_user}, 'alice', 'client a authenticates through pgbouncer');
is($seen{a_scopes}, "['notes:read']", 'and reads its scopes in the same transaction');
is($seen{same_server_connection}, 'True', 'client b is served by the same server connection');
is($seen{b_user}, 'None', 'and sees no token context: the context is transaction-local');
is($seen{autocommit_warning}, "[('WARNING', '25P01')]",
	'pat_authenticate in autocommit warns (25P01)');
is($seen{autocommit_next_user}, 'None', 'and the next statement has no context');
is($seen{missing_scope}, q{(403, 'Bearer error="insufficient_scope", scope="notes:write"')},
	'a missing scope: 403, naming the scopes the route needs');
is($seen{revoked}, q{(401, 'Bearer error="invalid_token"')},
	'a token revoked by another client: 401 on the very next request');
is($seen{revoked_detail}, 'The token is revoked.', 'the reason is in the detail, for logs');
is($seen{malformed}, q{(401, 'Bearer error="invalid_token"')}, 'a malformed token: the same 401');
is($seen{prepared_clash}, '42P05',
	'named prepared statements of two clients clash on one server connection (pgbouncer 1.18)');
is($seen{unprepared_clash}, 'none', 'unnamed statements (prepare_threshold=None) do not');

$node->stop;
done_testing();
