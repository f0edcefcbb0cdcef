# The one way TAP tests make a pg_pat node: PostgreSQL::Test::Cluster with pg_pat preloaded.
#   use FindBin; use lib "$FindBin::RealBin/../perl"; use PatNode;
#   my $node = PatNode::new_node('name', allows_streaming => 1);   # initialised, not started
# A standby made with init_from_backup inherits the setting from its primary's backup.
package PatNode;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;

sub new_node
{
	my ($name, %init) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%init);
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_pat'\n");
	return $node;
}

1;
