# ALTER EXTENSION pg_pat UPDATE from 1.0 to the default version keeps all data: every token
# still validates, revocations hold, grants made under 1.0 still work, nothing becomes
# executable or readable by PUBLIC, the new features (the audit log, when the default version
# has it) work, and an updated installation is identical to a fresh one. With default_version
# '1.0' the update is a no-op and the test checks exactly that.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use PatNode;

my $node = PatNode::new_node('upgrade');
$node->start;

# Runs SQL; fails the test unless psql exits 0 with nothing on stderr (no error, no warning)
# but lines matching $allowed (a regex), if given.
sub psql_clean
{
	my ($db, $sql, $what, $allowed) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql($db, $sql, stdout => \$out, stderr => \$err);
	is($rc, 0, "$what: psql exit code 0");
	$err = join("\n", grep { !/$allowed/ } split /\n/, $err) if defined $allowed;
	is($err, '', "$what: nothing on stderr");
	return $out;
}
my $ALREADY = qr/NOTICE:\s+version "[^"]+" of extension "pg_pat" is already installed/;

# A table's rows; NULL columns are left out, so a column a later version adds (NULL in every
# row it did not write, as pat.tokens.key_id in 1.6) leaves the fingerprint unchanged, while any
# value changed, lost or gained changes it.
# Columns a later version adds NOT NULL with a constant default (pat.tokens.token_type and
# has_children in 1.11) are left out too; that the update gave every row the default is checked
# on its own.
my $ADDED_WITH_DEFAULTS = "- 'token_type' - 'has_children'";
sub fingerprint_sql
{
	my ($table) = @_;
	my $row = "jsonb_strip_nulls(to_jsonb(x)) $ADDED_WITH_DEFAULTS";
	return "SET TimeZone = 'UTC';
		 SELECT count(*) || ' rows, md5 '
		        || md5(coalesce(string_agg(($row)::text, E'\\n' ORDER BY ($row)::text), ''))
		   FROM $table x;";
}

# Whether version $a comes before version $b, compared number by number ('1.9' before '1.10').
sub version_before
{
	my ($a, $b) = @_;
	my @a = split /\./, $a;
	my @b = split /\./, $b;
	return ($a[0] <=> $b[0] || $a[1] <=> $b[1]) < 0;
}

sub fingerprint
{
	my ($db, $table) = @_;
	return $node->safe_psql($db, fingerprint_sql($table));
}

sub extversion
{
	my ($db) = @_;
	return $node->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'pg_pat'");
}

# Everything an installation consists of, one line per fact, sorted.
my $INSTALL_SIGNATURE = q{
WITH ext AS (SELECT oid, extconfig FROM pg_extension WHERE extname = 'pg_pat'),
members AS (SELECT d.classid, d.objid, d.objsubid FROM pg_depend d, ext
            WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
rels AS (SELECT objid AS oid FROM members WHERE classid = 'pg_class'::regclass)
SELECT string_agg(line, E'\n' ORDER BY line COLLATE "C") FROM (
  SELECT 'member ' || pg_describe_object(classid, objid, objsubid) AS line FROM members
  UNION ALL
  SELECT 'function ' || p.oid::regprocedure::text || ' returns ' || pg_get_function_result(p.oid)
         || ' secdef=' || p.prosecdef || ' volatile=' || p.provolatile::text || ' strict=' || p.proisstrict
         || ' parallel=' || p.proparallel::text || ' config=' || coalesce(p.proconfig::text, '')
         || ' acl=' || coalesce(p.proacl::text, '') || ' src=' || md5(p.prosrc)
    FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
  UNION ALL
  SELECT 'relation ' || c.oid::regclass::text || ' kind=' || c.relkind::text || ' rls=' || c.relrowsecurity
         || ' acl=' || coalesce(c.relacl::text, '')
    FROM pg_class c JOIN rels USING (oid)
  UNION ALL
  SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' '
         || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
         || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN rels ON rels.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'constraint ' || co.conrelid::regclass::text || ' ' || co.conname || ' '
         || pg_get_constraintdef(co.oid)
    FROM pg_constraint co JOIN rels ON rels.oid = co.conrelid
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN rels ON rels.oid = i.indrelid
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM pg_trigger t JOIN rels ON rels.oid = t.tgrelid WHERE NOT t.tgisinternal
  UNION ALL
  SELECT 'policy ' || pol.polname || ' on ' || pol.polrelid::regclass::text || ' cmd=' || pol.polcmd::text
         || ' using ' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '')
         || ' check ' || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '')
    FROM pg_policy pol JOIN rels ON rels.oid = pol.polrelid
  UNION ALL
  SELECT 'config_dump ' || c::regclass::text FROM ext, unnest(ext.extconfig) AS c
  UNION ALL
  SELECT 'schema pat acl=' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = 'pat'
  UNION ALL
  SELECT 'comment ' || pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' ' || md5(d.description)
    FROM pg_description d
   WHERE (d.classoid, d.objoid) IN (SELECT classid, objid FROM members)
      OR (d.classoid = 'pg_class'::regclass AND d.objoid IN (SELECT oid FROM rels))
  UNION ALL
  SELECT 'profile ' || p.function_signature || ' ' || p.least_profile FROM pat.profile_functions p
) AS facts
};

# --- versions ------------------------------------------------------------------------------

my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'pg_pat'");
like($default, qr/^\d+\.\d+$/, "installed default_version is '$default'");
my $control = ($ENV{TESTDIR} // '.') . '/pg_pat.control';
SKIP:
{
	skip "no $control", 1 unless -f $control;
	my ($repo_default) = slurp_file($control) =~ /^\s*default_version\s*=\s*'([^']*)'/m;
	is($default, $repo_default,
		'the installed control file is the one in the tree (run make install first)');
}
ok( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_available_extension_versions WHERE name = 'pg_pat' AND version = '1.0'")
	  eq '1',
	'version 1.0 is installable');

# --- a 1.0 installation with data ------------------------------------------------------------

my $DB = 'app';
$node->safe_psql('postgres', "CREATE DATABASE $DB");
psql_clean($DB, "CREATE EXTENSION pg_pat VERSION '1.0'", 'CREATE EXTENSION pg_pat VERSION 1.0');
is(extversion($DB), '1.0', 'installed at 1.0');
is($node->safe_psql($DB, "SELECT to_regclass('pat.audit_log') IS NULL"), 't', '1.0 has no audit log');

$node->safe_psql(
	$DB, q{
SELECT pat_define_scope('catalog:read', 'read the catalog');
SELECT pat_define_scope('scorecards:write');
SELECT pat_define_role('member', '{catalog:read}');
SELECT pat_define_role('scorecard_admin', '{catalog:read,scorecards:write}');
SELECT pat_define_role('workspace_admin', '{}', all_scopes => true);
SELECT pat_grant_role('alice', 'scorecard_admin');
SELECT pat_grant_role('bob', 'member');
SELECT pat_grant_role('carol', 'workspace_admin');
CREATE ROLE api_validator LOGIN;
SELECT pat_grant_profile('api_validator', 'validator');
CREATE ROLE app_backend LOGIN;
SELECT pat_grant_profile('app_backend', 'application');
CREATE ROLE nobody LOGIN;
});

sub create_token
{
	my ($db, $user, $name, $scopes, $expires, %params) = @_;
	my ($id, $token) = split / /,
	  $node->safe_psql($db,
		"SELECT token_id || ' ' || token FROM pat_create('$user', '$name', '$scopes', '$expires')",
		%params);
	like($token, qr/^pat_[0-9A-Za-z]{36}$/, "token '$name' created");
	return { id => $id, token => $token, name => $name };
}

my @tokens = (
	create_token($DB, 'alice', 'alice ci', '{catalog:read,scorecards:write}', '30 days'),
	create_token($DB, 'alice', 'alice revoked', '{catalog:read}', '30 days'),
	create_token($DB, 'bob', 'bob cli', '{catalog:read}', 'never'),
	create_token($DB, 'carol', 'carol admin', '{scorecards:write}', '90 days'),
	create_token($DB, 'carol', 'carol gone', '{catalog:read}', '7 days'));
my ($alice_ci, $alice_revoked, $bob_cli, $carol_admin, $carol_gone) = @tokens;
$node->safe_psql(
	$DB, qq{
SELECT pat_revoke('$alice_revoked->{id}');
SELECT pat_revoke('$carol_gone->{id}');
SELECT pat_update('$carol_admin->{id}', name => 'carol admin (renamed)');
});

sub statuses
{
	my ($db, $scopes, %params) = @_;
	my $values = join(', ', map { "($_, '$tokens[$_]{token}')" } 0 .. $#tokens);
	return $node->safe_psql($db,
		"SELECT string_agg(v.status, ',' ORDER BY t.ord)
		   FROM (VALUES $values) AS t(ord, token), LATERAL pat_validate(t.token, '$scopes') v",
		%params);
}

my $expected = 'valid,revoked,valid,valid,revoked';
my $expected_scoped = 'valid,revoked,insufficient_scope,valid,revoked';
is(statuses($DB, '{}'), $expected, 'statuses at 1.0');
is(statuses($DB, '{scorecards:write}'), $expected_scoped, 'scoped statuses at 1.0');

my @tables_10 = qw(pat.scopes pat.roles pat.role_scopes pat.user_roles pat.tokens pat.token_usage);
my %before = map { $_ => fingerprint($DB, $_) } @tables_10;
my $members_before = $node->safe_psql($DB,
	"SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\\n' ORDER BY 1)
	   FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_pat')");
my $signature_before = $node->safe_psql($DB, $INSTALL_SIGNATURE);

# --- update --------------------------------------------------------------------------------

# With default_version '1.0' this is a no-op that only says so (NOTICE ... already installed).
# The tables are read in the update's own transaction: the checks above were counted in shared
# memory, and once the update commits the usage worker may write them to pat.token_usage at any
# moment. That write is the worker's, not the update's.
my @after = split /\n/,
  psql_clean($DB,
	'BEGIN; ALTER EXTENSION pg_pat UPDATE; ' . join(' ', map { fingerprint_sql($_) } @tables_10) . ' COMMIT;',
	'ALTER EXTENSION pg_pat UPDATE', $default eq '1.0' ? $ALREADY : undef);
is(extversion($DB), $default, "updated to the default version $default");

is($after[$_], $before{ $tables_10[$_] }, "$tables_10[$_] unchanged by the update") for 0 .. $#tables_10;
if (!version_before($default, '1.11'))
{
	is( $node->safe_psql($DB,
			"SELECT count(*) FROM pat.tokens
			  WHERE token_type <> 'personal' OR has_children OR parent_id IS NOT NULL
			     OR ancestors IS NOT NULL OR created_by IS NOT NULL"),
		'0', 'tokens made before 1.11 are personal roots with no recorded creator');
}

my $members_after = $node->safe_psql($DB,
	"SELECT string_agg(pg_describe_object(classid, objid, objsubid), E'\\n' ORDER BY 1)
	   FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_pat')");
my %after_set = map { $_ => 1 } split /\n/, $members_after;
# 1.4 moved the rules of these PL/pgSQL helpers into the C++ core and dropped them.
my %dropped_on_purpose = map { $_ => 1 } (
	'function pat.check_token_name(text)',
	'function pat.check_user_id(text)',
	'function pat.checked_scopes(text,text[])',
	'function pat.create_token(text,text,text[],timestamp with time zone)',
	'function pat.grantable_scopes(text)',
	'function pat.lock_token(uuid)',
	'function pat.require_role(text)');
# 1.12 gave these functions arguments with defaults (so a call that passed the old ones is
# answered as before): dropped and made again with the longer signature.
my %reshaped = (
	'function pat_create(text,text,text[],text)' =>
	  'function pat_create(text,text,text[],text,cidr[],jsonb,jsonb)',
	'function pat_create(text,text,text[],interval)' =>
	  'function pat_create(text,text,text[],interval,cidr[],jsonb,jsonb)',
	'function pat_create(text,text,text[],timestamp with time zone)' =>
	  'function pat_create(text,text,text[],timestamp with time zone,cidr[],jsonb,jsonb)',
	'function pat_update(uuid,text,text[])' => 'function pat_update(uuid,text,text[],cidr[],jsonb,jsonb)',
	'function pat_validate(text,text[])' => 'function pat_validate(text,text[],inet,text)',
	'function pat_validate(character varying,text[])' =>
	  'function pat_validate(character varying,text[],inet,text)',
	'function pat_authenticate(text,text[])' => 'function pat_authenticate(text,text[],inet)',
	'function pat_authenticate(character varying,text[])' =>
	  'function pat_authenticate(character varying,text[],inet)');
my @lost = grep {
	!$after_set{$_}
	  && !$dropped_on_purpose{$_}
	  && !($reshaped{$_} && $after_set{ $reshaped{$_} })
} split /\n/, $members_before;
is_deeply(\@lost, [], 'every 1.0 object is still part of the extension, but those dropped on purpose');
if ($default eq '1.0')
{
	is($node->safe_psql($DB, $INSTALL_SIGNATURE), $signature_before,
		'default_version is 1.0: the update is a no-op');
}
# Updating again, at the default version, changes nothing.
my $signature_updated = $node->safe_psql($DB, $INSTALL_SIGNATURE);
my ($rc, $out, $err) = $node->psql($DB, 'ALTER EXTENSION pg_pat UPDATE');
is($rc, 0, 'a second ALTER EXTENSION pg_pat UPDATE succeeds');
like($err, $ALREADY, 'and only says the version is already installed');
is($node->safe_psql($DB, $INSTALL_SIGNATURE), $signature_updated, 'and changes nothing');

is(statuses($DB, '{}'), $expected, 'every token keeps its status after the update');
is(statuses($DB, '{scorecards:write}'), $expected_scoped, 'scope checks unchanged after the update');
is( $node->safe_psql($DB,
		q{SELECT string_agg(u || ':' || l.status || '=' || n, ',' ORDER BY u, l.status)
		    FROM (SELECT u, status, count(*) AS n
		            FROM unnest('{alice,bob,carol}'::text[]) AS u, LATERAL pat_list(u)
		           GROUP BY u, status) AS l}),
	'alice:active=1,alice:revoked=1,bob:active=1,carol:active=1,carol:revoked=1',
	'pat_list counts after the update');
is($node->safe_psql($DB, "SELECT pat_revoke('$alice_revoked->{id}')"),
	'f', 'a revocation made under 1.0 still holds');

# Grants made under 1.0 still work, and still no more than they did.
is(statuses($DB, '{}', extra_params => [ '-U', 'api_validator' ]),
	$expected, 'the 1.0 validator role validates after the update');
($rc, $out, $err) = $node->psql($DB, 'SELECT count(*) FROM pat.tokens',
	extra_params => [ '-U', 'api_validator' ]);
like($err, qr/permission denied/, 'the validator role still cannot read pat.tokens');
my $app_token = create_token($DB, 'bob', 'made by the application', '{catalog:read}', '7 days',
	extra_params => [ '-U', 'app_backend' ]);
is($node->safe_psql($DB, "SELECT pat_revoke('$app_token->{id}')", extra_params => [ '-U', 'app_backend' ]),
	't', 'the 1.0 application role issues and revokes after the update');

# Nothing of the extension is executable or readable by PUBLIC (a role granted nothing).
is( $node->safe_psql($DB,
		q{SELECT coalesce(string_agg(p.oid::regprocedure::text, ', ' ORDER BY 1), '')
		    FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
		   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		     AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_pat')
		     AND has_function_privilege('nobody', p.oid, 'EXECUTE')}),
	'', 'no extension function is executable by PUBLIC after the update');
is( $node->safe_psql($DB,
		q{SELECT coalesce(string_agg(c.oid::regclass::text, ', ' ORDER BY 1), '')
		    FROM pg_class c
		   WHERE c.relnamespace = 'pat'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
		     AND has_table_privilege('nobody', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')}),
	'', 'no pat table is accessible to PUBLIC after the update');

# --- new features after the update ----------------------------------------------------------

# The audit log exists from 1.1 on: at any later default version its absence is a failure,
# not a reason to skip the checks.
my $has_audit = $node->safe_psql($DB, "SELECT to_regclass('pat.audit_log') IS NOT NULL") eq 't';
is($has_audit ? 'yes' : 'no', $default eq '1.0' ? 'no' : 'yes',
	"pat.audit_log exists at the default version $default (from 1.1 on)");
SKIP:
{
	skip 'the default version is 1.0, which has no audit log', 6 if $default eq '1.0';

	$node->safe_psql($DB, 'SELECT pat_audit_link()');
	my $start = $node->safe_psql($DB, 'SELECT count(*) FROM pat.audit_log');
	note("audit rows right after the update: $start");
	my $new = create_token($DB, 'alice', 'after the update', '{catalog:read}', '30 days');
	$node->safe_psql(
		$DB, qq{
SELECT pat_update('$new->{id}', name => 'after the update (renamed)');
SELECT pat_revoke('$new->{id}');
SELECT pat_revoke('$bob_cli->{id}');
SELECT pat_audit_link();
});
	is( $node->safe_psql($DB,
			"SELECT string_agg(action || ':' || token_name, ',' ORDER BY seq) FROM pat.audit_log WHERE seq > (SELECT max(seq) FROM pat.audit_log) - 4"),
		'created:after the update,renamed:after the update (renamed),'
		  . 'revoked:after the update (renamed),revoked:bob cli',
		'lifecycle audit rows after the update, also for a token made under 1.0');
	is($node->safe_psql($DB, 'SELECT ok FROM pat_audit_verify()'), 't', 'pat_audit_verify() ok');
	is( $node->safe_psql($DB, "SELECT status FROM pat_validate('$bob_cli->{token}')"),
		'revoked', 'the 1.0 token revoked after the update is revoked');
	my $app_audit = $node->safe_psql($DB,
		"SELECT count(*) FROM pat.audit_log WHERE token_id = '$app_token->{id}'");
	is($app_audit, '2', 'the application role\'s create and revoke were audited');
	($rc, $out, $err) = $node->psql($DB, 'DELETE FROM pat.audit_log');
	isnt($rc, 0, 'the audit log refuses deletes');
	is($node->safe_psql($DB, 'SELECT ok FROM pat_audit_verify()'), 't', 'still verifies');
}

# --- an updated installation is the same as a fresh one ------------------------------------

# A fresh install of the default version runs its own full script (pg_pat--<default>.sql), not
# 1.0 and the updates: the comparison below checks the two agree.
ok(-f ($ENV{TESTDIR} // '.') . "/extension/pg_pat--$default.sql",
	"the default version $default has a full install script");
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE updated');
psql_clean('fresh', 'CREATE EXTENSION pg_pat', 'fresh install');
psql_clean('updated', "CREATE EXTENSION pg_pat VERSION '1.0'; ALTER EXTENSION pg_pat UPDATE",
	'install 1.0 and update');
my $fresh_signature = $node->safe_psql('fresh', $INSTALL_SIGNATURE);
my $updated_signature = $node->safe_psql('updated', $INSTALL_SIGNATURE);
like($fresh_signature, qr/^function .*pat_validate\(text,text\[\],inet,text\)/m,
	'the signature lists functions');
note('install signature: ' . scalar(split /\n/, $fresh_signature) . ' facts');
is($updated_signature, $fresh_signature,
	'1.0 + ALTER EXTENSION UPDATE gives the same objects, definitions and privileges as a fresh install');
is(extversion('updated'), extversion('fresh'), 'same version');

# Every other older version too: installed, given a token, updated to the default version; the
# result is a fresh install's, and the token keeps working.
my @older = split /\n/,
  $node->safe_psql('postgres',
	"SELECT version FROM pg_available_extension_versions
	  WHERE name = 'pg_pat' AND version NOT IN ('1.0', '$default')
	  ORDER BY string_to_array(version, '.')::int[]");
for my $version (@older)
{
	my $db = 'from_' . ($version =~ s/\./_/gr);
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	psql_clean($db, "CREATE EXTENSION pg_pat VERSION '$version'", "install $version");
	$node->safe_psql(
		$db, q{
SELECT pat_define_scope('catalog:read');
SELECT pat_define_role('member', '{catalog:read}');
SELECT pat_grant_role('alice', 'member');
});
	my $old = create_token($db, 'alice', "made under $version", '{catalog:read}', '30 days');
	# A delegated chain made before the update: parent, child and grandchild of dave.
	my $chain_before_parent_index = !version_before($default, '1.12') && !version_before($version, '1.11');
	my $chain_root;
	if ($chain_before_parent_index)
	{
		$node->safe_psql(
			$db, q{
SELECT pat_define_scope('tokens:delegate');
SELECT pat_define_role('delegator', '{catalog:read,tokens:delegate}');
SELECT pat_grant_role('dave', 'delegator');
});
		$chain_root = create_token($db, 'dave', "root under $version", '{catalog:read,tokens:delegate}',
			'30 days');
		my $above = $chain_root->{token};
		for my $level ('child', 'grandchild')
		{
			($above) = grep { /^pat_/ } split /\n/,
			  $node->safe_psql($db,
				"BEGIN; SELECT pat_authenticate('$above');
				 SELECT token FROM pat_delegate('$level', '{catalog:read,tokens:delegate}'); COMMIT;");
			like($above, qr/^pat_[0-9A-Za-z]{36}$/, "a $level delegated under $version");
		}
	}
	psql_clean($db, 'ALTER EXTENSION pg_pat UPDATE', "update $version to $default");
	if ($chain_before_parent_index)
	{
		# 1.12 counts the descendants that fall through tokens_parent_id_idx, which the update
		# built over the rows made before it.
		my ($rc, $out, $err) = $node->psql($db, "SELECT pat_revoke('$chain_root->{id}')");
		is($out, 't', "a root made under $version revoked after the update");
		like($err, qr/NOTICE:  2 delegated descendant token\(s\) revoked with it/,
			"its child and grandchild made under $version are counted as falling with it");
	}
	is(extversion($db), $default, "$version updated to $default");
	is($node->safe_psql($db, $INSTALL_SIGNATURE), $fresh_signature,
		"$version + ALTER EXTENSION UPDATE gives the same installation as a fresh one");
	is($node->safe_psql($db, "SELECT status FROM pat_validate('$old->{token}', '{catalog:read}')"),
		'valid', "a token made under $version is valid after the update");
	my $new = create_token($db, 'alice', "made after updating from $version", '{catalog:read}',
		'30 days');
	is( $node->safe_psql($db,
			"SELECT string_agg(status, ',' ORDER BY created_at) FROM pat_list('alice')"),
		'active,active', "pat_list after updating from $version");
	if ($default ne '1.5' && version_before($version, '1.6'))
	{
		# 1.6 records each token's key: unknown for the token made before, known after.
		is( $node->safe_psql($db,
				"SELECT string_agg(coalesce(key_id, 'unknown') || ':' || tokens || ':'
				                   || coalesce(configured::text, 'unknown'), ',' ORDER BY key_id)
				   FROM pat_key_status()"),
			'sha256:1:true,unknown:1:unknown',
			"pat_key_status after updating from $version: the older token's key is unknown");
	}
	if (!version_before($default, '1.11'))
	{
		# 1.11: a token made before the update is personal, has no parent and no recorded
		# creator (unless it was made at 1.11); one made after records who made it.
		is( $node->safe_psql($db,
				"SELECT string_agg(token_type || ':' || coalesce(parent_id::text, 'root') || ':'
				                   || coalesce(replace(created_by, current_user, 'me'), 'unknown'),
				                   ',' ORDER BY created_at)
				   FROM pat_list('alice')"),
			version_before($version, '1.11')
			? 'personal:root:unknown,personal:root:role:me'
			: 'personal:root:role:me,personal:root:role:me',
			"token_type, parent_id and created_by after updating from $version");
	}
	if (!version_before($default, '1.12'))
	{
		# 1.12: a token made before the update has no limits and is not suspended; it can be
		# suspended, and answers so.
		is( $node->safe_psql($db,
				"SELECT string_agg(coalesce(networks::text, 'any') || ':' || suspended, ','
				                   ORDER BY created_at)
				   FROM pat_list('alice')"),
			'any:false,any:false', "networks and suspension after updating from $version");
		is( $node->safe_psql($db,
				"SELECT pat_suspend('$old->{id}'); SELECT status FROM pat_validate('$old->{token}');
				 SELECT pat_resume('$old->{id}');
				 SELECT string_agg(kind, ',' ORDER BY notice_id) FROM pat_take_notices()"),
			"t\nsuspended\nt\nsuspended,resumed",
			"a token made under $version can be suspended after the update, its owner notified");
	}
	if (!version_before($default, '1.13'))
	{
		# 1.13: a token made before the update, used from an address after it: the flush writes
		# the address and notifies its owner; pat_list and pat_token_activity show it.
		is( $node->safe_psql($db,
				"SELECT (pat_validate('$old->{token}', '{catalog:read}', '192.0.2.13')).valid;
				 SELECT pat_flush_usage() >= 1;
				 SELECT last_addresses FROM pat_list('alice') WHERE token_id = '$old->{id}';
				 SELECT string_agg(kind || ' ' || (details->>'addresses'), ',') FROM pat_take_notices();
				 SELECT client_address FROM pat_token_activity('$old->{id}') WHERE action = 'used'"),
			qq{t\nt\n{192.0.2.13}\nnew_address ["192.0.2.13"]\n192.0.2.13},
			"a token made under $version records its client address after the update");
	}
	if (!version_before($default, '1.8'))
	{
		# 1.8: the prefix set at the update is known to the scanner rules, and a token made
		# before the update can be reported leaked, with a notice.
		is($node->safe_psql($db, 'SELECT pat_scanner_rules()'),
			'pat_[0-9A-Za-z]{36}', "pat_scanner_rules after updating from $version");
		is($node->safe_psql($db, "SELECT pat_report_leaked(ARRAY['$old->{token}'], 'upgrade')"),
			'1', "a token made under $version can be reported leaked after the update");
		is( $node->safe_psql($db,
				"SELECT kind || ':' || token_name || ':' || (details->>'source') FROM pat_take_notices()"),
			"revoked_leaked:made under $version:upgrade",
			"its owner gets a notice after updating from $version");
	}
}
ok(scalar(@older) >= 3, 'the versions between 1.0 and the default were all updated: ' . join(', ', @older));

$node->stop;
done_testing();
