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

# DROP EXTENSION and CREATE EXTENSION from a connection that never checked a token (so it
# remembers no table of pg_pat): the old pat.tokens is gone, and a token cached from it must not
# answer for the new one.
is(check_in_new_connection($t2), 'valid hit', 'the token is in the shared cache');
$node->safe_psql('postgres', 'DROP EXTENSION pg_pat CASCADE; CREATE EXTENSION pg_pat;');
like(check_in_new_connection($t2), qr/^not_found /,
	'after DROP and CREATE EXTENSION the cached token is not found');

my @bad = grep { /\b(ERROR|FATAL|PANIC):/ } split /\n/, slurp_file($node->logfile);
is(scalar(@bad), 0, 'no ERROR in the log') or diag(join("\n", @bad));

# A small cache whose interned scope sets fill up again and again: 300 tokens, each with its own
# set of the 12 scopes, against room for 64 sets. Each time the sets are full the cache empties
# (no entry may name a set that is gone), and every check still answers the token's own scopes.
my $small = PatNode::new_node('small_cache');
$small->append_conf('postgresql.conf', "pat.token_cache_memory = '256kB'\n");
$small->start;
$small->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT count(pat_define_scope(format('s%s:read', lpad(i::text, 2, '0'))))
FROM generate_series(1, 12) AS i;
SELECT pat_define_role('all', array_agg(scope ORDER BY scope)) FROM pat.scopes;
SELECT count(pat_grant_role('user-' || u, 'all')) FROM generate_series(1, 30) AS u;
CREATE TABLE set_tokens AS
SELECT i, c.token, e.expected
FROM generate_series(1, 300) AS i,
     LATERAL (SELECT array_agg(format('s%s:read', lpad(b::text, 2, '0')) ORDER BY b) AS expected
              FROM generate_series(1, 12) AS b WHERE (i >> (b - 1)) & 1 = 1) AS e,
     LATERAL pat_create('user-' || (i % 30 + 1), 'set ' || i, e.expected, '30 days') AS c;
});
my $passes = $small->safe_psql(
	'postgres', q{
CREATE FUNCTION right_answers() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FILTER (WHERE v.valid AND v.scopes = t.expected)
    FROM set_tokens t, LATERAL pat_validate(t.token) v
$$;
SELECT right_answers();
SELECT right_answers();
SELECT right_answers();
SELECT evictions > 0, backend_tokens = 0 FROM pat_token_cache_stats();
SELECT v.scopes = t.expected FROM set_tokens t, pat_validate(t.token) v WHERE t.i = 5;
SELECT v.scopes = t.expected FROM set_tokens t, pat_validate(t.token) v WHERE t.i = 5;
SELECT last_check_missed FROM pat_token_cache_stats();
});
is( $passes, "300\n300\n300\nt|t\nt\nt\nf",
	'three passes over 300 tokens with 300 scope sets answer every token\'s own scopes, the cache emptied whenever its sets fill up, and a token checked again is a hit'
);

# Tokens with metadata each name an interned block of their own, so they are what fills the
# sets. 40 plain tokens (one shared set) are cached first; then 300 tokens with metadata of
# their own come through, filling the sets again and again. Room is made by dropping sets no
# entry names and evicting tokens with limits of their own, so the plain tokens stay cached: a
# new connection's checks of them all hit. Each metadata token still answers its own metadata.
$small->safe_psql(
	'postgres', q{
CREATE TABLE plain_tokens AS
SELECT i, c.token FROM generate_series(1, 40) AS i,
     LATERAL pat_create('user-' || (i % 30 + 1), 'plain ' || i, '{s01:read}', '30 days') AS c;
CREATE TABLE metadata_tokens AS
SELECT i, c.token FROM generate_series(1, 300) AS i,
     LATERAL pat_create('user-' || (i % 30 + 1), 'meta ' || i, '{s01:read}', '30 days',
                        metadata => jsonb_build_object('customer', repeat('c', 60) || i)) AS c;
SELECT count(*) FROM plain_tokens t, pat_validate(t.token) v WHERE v.valid;
});
my $storm = $small->safe_psql(
	'postgres', q{
SELECT count(*) FILTER (WHERE v.metadata->>'customer' = repeat('c', 60) || t.i)
FROM metadata_tokens t, LATERAL pat_validate(t.token) v;
SELECT count(*) FILTER (WHERE v.metadata->>'customer' = repeat('c', 60) || t.i)
FROM metadata_tokens t, LATERAL pat_validate(t.token) v;
});
is($storm, "300\n300", 'two passes over 300 tokens with metadata of their own answer their own');
my $plain_hits = $small->safe_psql(
	'postgres', q{
CREATE FUNCTION plain_hits() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    t record;
    hits integer := 0;
BEGIN
    FOR t IN SELECT token FROM plain_tokens LOOP
        IF (SELECT valid FROM pat_validate(t.token))
           AND NOT (SELECT last_check_missed FROM pat_token_cache_stats()) THEN
            hits := hits + 1;
        END IF;
    END LOOP;
    RETURN hits;
END
$$;
SELECT plain_hits();
});
is($plain_hits, '40', 'tokens without limits of their own stay cached while tokens with metadata fill the sets');
$small->stop;

done_testing();
