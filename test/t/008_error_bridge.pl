# The C++/PostgreSQL error bridge (src/pg/bridge/guard.hpp):
#  * an error the C++ core throws reaches the client with its SQLSTATE and the C++ file and line
#    it was thrown at (LOCATION, in verbose mode and in the server log);
#  * a PostgreSQL error raised inside a C++ frame keeps PostgreSQL's own location;
#  * errors caught and rolled back thousands of times in one session (savepoints) leave the
#    session working and its error handling intact;
#  * on an assert build, the longjmp rule is checked: an error that longjmps past a C++ frame
#    owning heap memory, or a may-raise helper called from such a frame, ends the backend with
#    FATAL, and the legitimate paths pass (pat_test_longjmp_rule, compiled into assert builds
#    only and created here).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('error_bridge');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pg_pat');

my ($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT * FROM pat_create('', 'name', '{}', '1 day')");
like($err, qr/ERROR:\s+22023: user_id must be 1 to 255 characters and not blank/,
	'a core error keeps its SQLSTATE and message');
like($err, qr/LOCATION:\s+pg_pat, policy\.cpp:\d+/,
	'and names the C++ file and line it was thrown at');

($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT * FROM pat_create('u', 'name', '{}', '1000000 years')");
like($err, qr/ERROR:\s+22008: timestamp out of range/,
	'a PostgreSQL error inside a C++ frame keeps its SQLSTATE');
like($err, qr/LOCATION:\s+\w+, timestamp\.c:\d+/, 'and PostgreSQL\'s own location');

# Thousands of errors, each caught by a PL/pgSQL handler (a subtransaction rolled back).
is( $node->safe_psql(
		'postgres', q{
DO $$
DECLARE
    caught integer := 0;
BEGIN
    FOR i IN 1 .. 5000 LOOP
        BEGIN
            PERFORM pat_create(CASE WHEN i % 2 = 0 THEN '' ELSE 'u' END, 'n', '{nope:scope}',
                               CASE WHEN i % 3 = 0 THEN 'garbage' ELSE '1 day' END);
        EXCEPTION WHEN OTHERS THEN
            caught := caught + 1;
        END;
    END LOOP;
    RAISE NOTICE 'caught %', caught;
END
$$;
SELECT 'still working';
}), 'still working', 'after 5,000 caught errors the session still works');
my ($rc2, $out2, $err2) = $node->psql('postgres',
	q{DO $$ BEGIN FOR i IN 1 .. 5000 LOOP BEGIN PERFORM pat_create('', 'n', '{}', '1 day'); EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END $$; SELECT (pat_validate('x')).status});
is($out2, 'malformed', 'and validates');
unlike(slurp_file($node->logfile),
	qr/TRAP|server process .* was terminated|left PostgreSQL's error handler|longjmp|C\+\+ heap block/,
	'no assertion, crash, handler left changed or longjmp rule broken in the server log');

SKIP:
{
	skip 'the longjmp rule is checked in assert builds only', 13
	  unless $node->safe_psql('postgres', 'SHOW debug_assertions') eq 'on';
	$node->safe_psql('postgres',
		"CREATE FUNCTION pat_test_longjmp_rule(text) RETURNS integer LANGUAGE C STRICT "
		  . "AS '\$libdir/pg_pat', 'pat_test_longjmp_rule'");
	my %kept = (
		'nothing owned' => 'plain PostgreSQL code in a PAT_FUNCTION body',
		'owned outside call_pg' => 'an owning frame that calls PostgreSQL through call_pg',
		'kept for backend' => 'memory made for backend state (BackendAllocations)');
	for my $how (sort keys %kept)
	{
		my ($rc, $out, $err) =
		  $node->psql('postgres', "SELECT pat_test_longjmp_rule('$how'); SELECT 'alive'",
			on_error_stop => 0);
		like($err, qr/ERROR:\s+invalid input syntax for type integer/,
			"$kept{$how}: the error reaches the client");
		is($out, 'alive', "$kept{$how}: and the session goes on");
	}
	my %broken = (
		'owned in body' =>
		  qr/FATAL:\s+pg_pat: a PostgreSQL error longjmped past 1 C\+\+ heap block\(s\) still owned, to a PAT_FUNCTION body/,
		'owned in call_pg' =>
		  qr/FATAL:\s+pg_pat: a PostgreSQL error longjmped past 1 C\+\+ heap block\(s\) still owned, to call_pg\(\)/,
		'owned at helper' =>
		  qr/FATAL:\s+pg_pat: pat_relation\(\), which may raise a PostgreSQL error, was called while its caller owns 1 C\+\+ heap block\(s\)/);
	for my $how (sort keys %broken)
	{
		my ($rc, $out, $err) =
		  $node->psql('postgres', "SELECT pat_test_longjmp_rule('$how'); SELECT 'alive'",
			on_error_stop => 0);
		like($err, $broken{$how}, "the rule broken ($how): the backend ends with FATAL");
		isnt($out, 'alive', "the rule broken ($how): the session does not go on");
	}
	is($node->safe_psql('postgres', "SELECT 'the server still answers'"),
		'the server still answers', 'and the server still answers');
}

$node->stop;
done_testing();
