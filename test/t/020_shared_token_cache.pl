# The server's one token cache: a new connection starts warm (the first check of a token another
# connection checked is a hit), and a prepared revoke that outlives a crash of the server is
# still seen by the first check after COMMIT PREPARED, though the cache was filled again after
# the crash while the revoke was prepared (the cache lists the prepared transactions an earlier
# run left before it answers anything).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('shared_cache');
$node->append_conf('postgresql.conf', "max_prepared_transactions = 5\n");
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('catalog:read');
SELECT pat_define_role('member', '{catalog:read}');
SELECT pat_grant_role('alice', 'member');
});
my $t1 = PatNode::create_token($node, 'alice', 'one', '{catalog:read}');
my $t2 = PatNode::create_token($node, 'alice', 'two', '{catalog:read}');

# The status, and whether the check read the tables ("miss") or the cache ("hit").
sub check_in_new_connection
{
	my ($token) = @_;
	return $node->safe_psql('postgres',
		"SELECT v.status || CASE WHEN s.last_check_missed THEN ' miss' ELSE ' hit' END"
		  . " FROM pat_validate('$token->{token}') v, LATERAL pat_token_cache_stats() s");
}

is(check_in_new_connection($t1), 'valid miss', 'the first check of a token reads the tables');
is(check_in_new_connection($t1), 'valid hit',
	'a new connection finds the token in the shared cache');

# A revoke prepared, then the server crashes: the prepared transaction survives it.
$node->safe_psql('postgres',
	"BEGIN; SELECT pat_revoke('$t1->{id}'); PREPARE TRANSACTION 'revoke_one';");
$node->stop('immediate');
$node->start;

my $session = $node->background_psql('postgres', on_error_stop => 0);
is( PatNode::session_query(
		$session, "SELECT status FROM pat_validate('$t1->{token}')", 'before commit'),
	'valid', 'while prepared, the revoke is invisible');
is(PatNode::session_query($session, 'SELECT tokens > 0 FROM pat_token_cache_stats()', 'stats'),
	't', 'the token is cached again after the crash');
is( PatNode::session_query(
		$session, "SELECT status FROM pat_validate('$t1->{token}')", 'warm check'),
	'valid', 'a warm check still answers valid');

$node->safe_psql('postgres', "COMMIT PREPARED 'revoke_one'");
is( PatNode::session_query(
		$session, "SELECT status FROM pat_validate('$t1->{token}')", 'after commit'),
	'revoked', 'the warm session sees the revoke committed after the crash');
like(check_in_new_connection($t1), qr/^revoked /, 'so does a new connection');
like(check_in_new_connection($t2), qr/^valid /, "the user's other token is valid");
$session->quit;

my @bad = grep { /\b(ERROR|FATAL|PANIC):/ } split /\n/, slurp_file($node->logfile);
is(scalar(@bad), 0, 'no ERROR in the log') or diag(join("\n", @bad));

done_testing();
