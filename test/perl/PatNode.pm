# The one way TAP tests make a pg_pat node: PostgreSQL::Test::Cluster with pg_pat preloaded.
#   use FindBin; use lib "$FindBin::RealBin/../perl"; use PatNode;
#   my $node = PatNode::new_node('name', allows_streaming => 1);   # initialised, not started
# A standby made with init_from_backup inherits the setting from its primary's backup.
package PatNode;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use Test::More;

sub new_node
{
	my ($name, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_pat'\n");
	return $node;
}

# A token made through pat_create on $node: { id, token, name }.
sub create_token
{
	my ($node, $user, $name, $scopes) = @_;
	my ($id, $token) = split / /,
	  $node->safe_psql('postgres',
		"SELECT token_id || ' ' || token FROM pat_create('$user', '$name', '$scopes', '30 days')");
	return { id => $id, token => $token, name => $name };
}

# Runs a query in a background session (background_psql); fails the test unless it printed
# nothing on stderr. Returns its output.
sub session_query
{
	my ($session, $sql, $what) = @_;
	my ($out, $stderr_flag) = $session->query($sql);
	is($stderr_flag, 0, "$what: no error or warning");
	return $out;
}

1;
