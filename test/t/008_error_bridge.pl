# The C++/PostgreSQL error bridge (src/pg/bridge/guard.hpp):
#  * an error the C++ core throws reaches the client with its SQLSTATE and the C++ file and line
#    it was thrown at (LOCATION, in verbose mode and in the server log);
#  * a PostgreSQL error raised inside a C++ frame keeps PostgreSQL's own location;
#  * errors caught and rolled back thousands of times in one session (savepoints) leave the
#    session working and its error handling intact.
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
unlike(slurp_file($node->logfile), qr/TRAP|server process .* was terminated|left PostgreSQL's error handler/,
	'no assertion, crash or handler left changed in the server log');

$node->stop;
done_testing();
