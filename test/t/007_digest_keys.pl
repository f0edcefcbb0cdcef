# Digest key rotation through pat.digest_previous_keys, a list PostgreSQL's list parser reads:
#  * items are trimmed, so '<key1>, <key2>' keeps tokens made under either key valid (1.3 built
#    a digester for " <key2>", and tokens made under key2 stopped validating);
#  * a double-quoted item keeps its spaces and commas;
#  * "sha256" stands for tokens made before any key;
#  * a list with a short key is refused at reload, and the keys in force stay.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('digest_keys');
$node->start;
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_pat;
SELECT pat_define_scope('catalog:read');
SELECT pat_define_role('reader', '{catalog:read}');
SELECT pat_grant_role('alice', 'reader');
});

my $key1 = 'key-one-of-thirty-two-characters-or-more';
my $key2 = 'key-two-of-thirty-two-characters-or-more';
my $key3 = '  key three, with a comma and spaces inside  ';

# Sets the keys in postgresql.conf, reloads, and waits until new sessions use the current key.
sub set_keys
{
	my ($current, $previous) = @_;
	$node->append_conf('postgresql.conf',
		"pat.digest_key = '$current'\npat.digest_previous_keys = '$previous'\n");
	$node->reload;
	ok( $node->poll_query_until(
			'postgres', "SELECT current_setting('pat.digest_key') = '$current'"),
		"digest key in force after reload ($previous)");
}

sub statuses
{
	my @tokens = @_;
	return join(',',
		map { $node->safe_psql('postgres', "SELECT status FROM pat_validate('$_->{token}')") }
		  @tokens);
}

my $plain = PatNode::create_token($node, 'alice', 'before any key', '{catalog:read}', '30 days');
set_keys($key1, '');
my $under1 = PatNode::create_token($node, 'alice', 'under key 1', '{catalog:read}', '30 days');
is(statuses($plain, $under1), 'not_found,valid', 'key 1 alone: the plain token is not found');

set_keys($key2, "$key1");
my $under2 = PatNode::create_token($node, 'alice', 'under key 2', '{catalog:read}', '30 days');
is(statuses($under1, $under2), 'valid,valid', 'key 2 with key 1 as former key');

# Two former keys with spaces around them, and sha256 for the plain token.
set_keys($key3, "  $key1 ,   $key2  , sha256 ");
my $under3 = PatNode::create_token($node, 'alice', 'under key 3', '{catalog:read}', '30 days');
is(statuses($plain, $under1, $under2, $under3), 'valid,valid,valid,valid',
	'former keys listed with spaces around them: every token valid');

# A key with a comma and spaces at its ends is a former key when double-quoted.
set_keys($key1, "\"$key3\", $key2");
is(statuses($under1, $under2, $under3, $plain), 'valid,valid,valid,not_found',
	'a double-quoted former key keeps its comma and spaces');

# A short former key is refused at reload: the keys in force stay.
my $log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "pat.digest_previous_keys = '$key2, too-short'\n");
$node->reload;
ok($node->wait_for_log(qr/Each former key must be at least 32 characters/, $log_offset),
	'a list with a short key is refused at reload, and the server log says why');
is(statuses($under1, $under2, $under3), 'valid,valid,valid',
	'the former keys in force stay');

$node->stop;
done_testing();
