# pg_pat behind pgbouncer in transaction pooling mode, as docs/application.md recommends it, with
# the drivers applications bring: psycopg 3 (test/pooler/client.py), node-pg
# (test/pooler/node_client.js) and pgjdbc (test/pooler/JdbcClient.java). Each client, configured
# as docs/application.md tells its users, shows that two clients sharing one server connection
# never see each other's token context; that pat_authenticate in autocommit warns and leaves no
# context; that a missing scope maps to 403 and a revoked or malformed token to one generic 401;
# and that the driver's named prepared statements clash behind pgbouncer before 1.21 (42P05), and
# not behind a later one with max_prepared_statements set, while the setting the docs give avoids
# them either way. One subtest per driver and check.
#
# pgbouncer and psycopg are required (scripts/install-deps). node-pg and JDBC are too when
# PAT_REQUIRE_DRIVERS=1 (scripts/test on the host); elsewhere (a server root without them) their
# subtests are skipped, saying what is missing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Temp qw(tempdir);
use FindBin;
use JSON::PP;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $pgbouncer = '/usr/sbin/pgbouncer';
die "$pgbouncer is missing: run scripts/install-deps" unless -x $pgbouncer;
my $pooler = "$FindBin::RealBin/../pooler";
# pgbouncer 1.21 and later keep the clients' protocol-level named statements apart when
# max_prepared_statements is set (docs/application.md's other way out), which this test then
# does; before 1.21 the driver's named statements of two clients clash on one server connection.
my ($bouncer_major, $bouncer_minor) = `$pgbouncer --version` =~ /^PgBouncer (\d+)\.(\d+)/m
  or die "cannot tell pgbouncer's version from $pgbouncer --version";
my $bouncer_tracks_prepared = $bouncer_major > 1 || $bouncer_minor >= 21;
my $prepared_setting = $bouncer_tracks_prepared ? 'max_prepared_statements = 100' : '';
my $require_drivers = ($ENV{PAT_REQUIRE_DRIVERS} // '') eq '1';

# node-pg: the version test/pooler/package.json pins, from the cache scripts/install-deps fills
# (PAT_NODE_MODULES names another node_modules directory).
my $node_pg_version = decode_json(slurp_file("$pooler/package.json"))->{dependencies}{pg};
my $node_modules = $ENV{PAT_NODE_MODULES}
  // "/var/cache/pg_pat/npm/pg-$node_pg_version/node_modules";
my $jdbc_jar = '/usr/share/java/postgresql.jar';

# Each driver: what is missing to run it (undef: nothing), and its command line for a pgbouncer
# on ($dir, $port) and two tokens.
my @drivers = (
	{
		name => 'psycopg',
		required => 1,
		missing => sub {
			return system('/usr/bin/python3', '-c', 'import psycopg') == 0
			  ? undef
			  : 'python3 with psycopg (python3-psycopg)';
		},
		command => sub {
			my ($dir, $port, @tokens) = @_;
			return [ '/usr/bin/python3', "$pooler/client.py",
				"host=$dir port=$port dbname=postgres user=" . getpwuid($<), @tokens ];
		},
	},
	{
		name => 'node-pg',
		missing => sub {
			return '/usr/bin/node (nodejs)' unless -x '/usr/bin/node';
			return "node-pg $node_pg_version in $node_modules (scripts/install-deps)"
			  unless -r "$node_modules/pg/package.json";
			return undef;
		},
		command => sub {
			my ($dir, $port, @tokens) = @_;
			return [ 'env', "NODE_PATH=$node_modules", '/usr/bin/node', "$pooler/node_client.js",
				$dir, $port, scalar getpwuid($<), @tokens ];
		},
	},
	{
		name => 'JDBC',
		missing => sub {
			# Running a source file needs the JDK's compiler, not only a JRE.
			return 'a JDK (default-jdk-headless)' unless -x '/usr/bin/java' && -x '/usr/bin/javac';
			return "$jdbc_jar (libpostgresql-jdbc-java)" unless -r $jdbc_jar;
			return undef;
		},
		# pgjdbc has no Unix-domain sockets of its own: it goes through pgbouncer's TCP port.
		command => sub {
			my ($dir, $port, @tokens) = @_;
			return [ '/usr/bin/java', '-cp', $jdbc_jar, "$pooler/JdbcClient.java",
				'127.0.0.1', $port, scalar getpwuid($<), @tokens ];
		},
	},
);

# What every client must print, per check.
my @checks = (
	[
		'context isolation',
		[ a_user => 'alice', 'client a authenticates through pgbouncer' ],
		[ a_scopes => 'notes:read', 'and reads its scopes in the same transaction' ],
		[ same_server_connection => 'yes', 'client b is served by the same server connection' ],
		[ b_user => 'NULL', 'and sees no token context: the context is transaction-local' ],
	],
	[
		'autocommit warning',
		[ autocommit_warning => 'WARNING 25P01', 'pat_authenticate in autocommit warns (25P01)' ],
		[ autocommit_next_user => 'NULL', 'and the next statement has no context' ],
	],
	[
		'SQLSTATE-to-HTTP mapping',
		[
			missing_scope => '403 Bearer error="insufficient_scope", scope="notes:write"',
			'a missing scope: 403, naming the scopes the route needs'
		],
		[
			revoked => '401 Bearer error="invalid_token"',
			'a token revoked by another client: 401 on the very next request'
		],
		[ revoked_detail => 'The token is revoked.', 'the reason is in the detail, for logs' ],
		[ malformed => '401 Bearer error="invalid_token"', 'a malformed token: the same 401' ],
	],
	[
		'prepared statements',
		$bouncer_tracks_prepared
		? [
			prepared_clash => 'none',
			"the driver's named statements of two clients do not clash with max_prepared_statements set (pgbouncer $bouncer_major.$bouncer_minor)"
		  ]
		: [
			prepared_clash => '42P05',
			"the driver's named statements of two clients clash on one server connection (pgbouncer $bouncer_major.$bouncer_minor)"
		],
		[ unprepared_clash => 'none', 'with the setting docs/application.md gives, nothing clashes' ],
	],
);

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

# A pgbouncer of its own for each driver, with one server connection for every client: a new
# server session, so the once-per-session autocommit warning comes again and no named statement
# of the previous driver is left on it.
my @pidfiles;
END
{
	for my $pidfile (@pidfiles)
	{
		next unless -f $pidfile;
		chomp(my $pid = slurp_file($pidfile));
		kill 'TERM', $pid;
	}
}

sub start_pgbouncer
{
	my ($name) = @_;
	my $dir = tempdir("pgbouncer-$name-XXXX",
		CLEANUP => 1,
		DIR => $PostgreSQL::Test::Utils::tmp_check);
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $host = $node->host;
	my $node_port = $node->port;
	my $user = getpwuid($<);
	open(my $users, '>', "$dir/userlist.txt") or die;
	print $users qq{"$user" ""\n};
	close($users);
	# pgjdbc puts extra_float_digits in its startup packet, which pgbouncer refuses ("unsupported
	# startup parameter") unless told to ignore it: docs/application.md gives this setting.
	open(my $conf, '>', "$dir/pgbouncer.ini") or die;
	print $conf <<CONF;
[databases]
postgres = host=$host port=$node_port dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
ignore_startup_parameters = extra_float_digits
default_pool_size = 1
max_client_conn = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
$prepared_setting
CONF
	close($conf);
	push @pidfiles, "$dir/pgbouncer.pid";
	system($pgbouncer, '-d', '-q', "$dir/pgbouncer.ini") == 0 or die "pgbouncer did not start";
	for (1 .. 100)
	{
		last if -S "$dir/.s.PGSQL.$port";
		select(undef, undef, undef, 0.1);
	}
	ok(-S "$dir/.s.PGSQL.$port", "$name: pgbouncer listens");
	return ($dir, $port);
}

for my $driver (@drivers)
{
	my $name = $driver->{name};
	my $missing = $driver->{missing}->();
	if ($missing && !$driver->{required} && !$require_drivers)
	{
		# One skip per check, each naming the driver, the check and what is missing.
		Test::More->builder->skip(
			"$name: $_->[0]: $missing is not installed (PAT_REQUIRE_DRIVERS=1 makes this a failure)")
		  for @checks;
		next;
	}
	ok(!$missing, "$name is installed") or diag("missing: $missing");
	next if $missing;

	my ($dir, $port) = start_pgbouncer($name);
	my $token = PatNode::create_token($node, 'alice', "$name cli", '{notes:read}');
	my $other = PatNode::create_token($node, 'alice', "$name old laptop", '{notes:read}');
	my ($stdout, $stderr) = ('', '');
	# A client that hangs is killed at the timeout and fails its checks; the next driver runs.
	my $ran = eval {
		IPC::Run::run($driver->{command}->($dir, $port, $token->{token}, $other->{token}),
			'>', \$stdout, '2>', \$stderr,
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	};
	ok($ran, "$name: the client ran") or diag("$@stdout:\n$stdout\nstderr:\n$stderr");
	note("$name client printed:\n$stdout");
	my %seen = map { split /=/, $_, 2 } grep { /=/ } split /\n/, $stdout;
	for my $check (@checks)
	{
		my ($what, @expected) = @$check;
		subtest "$name: $what" => sub {
			is($seen{ $_->[0] }, $_->[1], "$name: $_->[2]") for @expected;
		};
	}
}

$node->stop;
done_testing();
