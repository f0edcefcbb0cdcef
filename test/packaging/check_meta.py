#!/usr/bin/env python3
"""Checks META.json against the PGXN Meta Spec 1.0.0 (https://pgxn.org/spec/) and against the
tree: the version is the control file's default_version, the provided file exists and is that
version's install script. Prints the problems and exits 1 if there are any.

    check_meta.py [--root DIR] [META.json]   # check a file
    check_meta.py --self-test [--root DIR]   # each broken copy of the repository's META.json
                                             # must be refused, for the reason meant
"""
import copy
import json
import os
import re
import sys

SEMVER = re.compile(r'^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)'
                    r'(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$')
# A term: at least two characters, none of them whitespace, control, '/' or '\'.
TERM = re.compile(r'^[^\s/\\\x00-\x1f\x7f]{2,}$')
TAG = re.compile(r'^[^/\\\x00-\x1f\x7f]{1,255}$')
LICENSES = {'agpl_3', 'apache_1_1', 'apache_2_0', 'artistic_1', 'artistic_2', 'bsd', 'freebsd',
            'gfdl_1_2', 'gfdl_1_3', 'gpl_1', 'gpl_2', 'gpl_3', 'lgpl_2_1', 'lgpl_3_0', 'mit',
            'mozilla_1_0', 'mozilla_1_1', 'openssl', 'perl_5', 'postgresql', 'qpl_1_0',
            'ssleay', 'sun', 'zlib', 'open_source', 'restricted', 'unrestricted', 'unknown'}
KEYS = {'name', 'version', 'abstract', 'maintainer', 'license', 'provides', 'meta-spec',
        'description', 'generated_by', 'tags', 'no_index', 'prereqs', 'release_status',
        'resources'}
REQUIRED = ['name', 'version', 'abstract', 'maintainer', 'license', 'provides', 'meta-spec']
PHASES = {'configure', 'build', 'test', 'runtime', 'develop'}
RELATIONS = {'requires', 'recommends', 'suggests', 'conflicts'}


def is_nonempty_string(value):
    return isinstance(value, str) and value.strip() != ''


def spec_problems(meta):
    """What in meta breaks the spec."""
    problems = []
    if not isinstance(meta, dict):
        return ['the document is not an object']
    for key in REQUIRED:
        if key not in meta:
            problems.append(f'missing required key "{key}"')
    for key in meta:
        if key not in KEYS and not re.match(r'^[xX]_.', key):
            problems.append(f'unknown key "{key}" (custom keys start with x_)')
    if 'name' in meta and not (isinstance(meta['name'], str) and TERM.match(meta['name'])):
        problems.append('name must be a term (2 or more characters, no spaces or slashes)')
    if 'version' in meta and not (isinstance(meta['version'], str) and SEMVER.match(meta['version'])):
        problems.append('version must be a semantic version (e.g. 1.8.0)')
    for key in ('abstract', 'description', 'generated_by'):
        if key in meta and not is_nonempty_string(meta[key]):
            problems.append(f'{key} must be a non-empty string')
    if 'maintainer' in meta:
        m = meta['maintainer']
        if not (is_nonempty_string(m) or (isinstance(m, list) and m and all(map(is_nonempty_string, m)))):
            problems.append('maintainer must be a string or a non-empty list of strings')
    if 'license' in meta:
        lic = meta['license']
        ok = (isinstance(lic, str) and lic in LICENSES) or \
             (isinstance(lic, list) and lic and all(isinstance(x, str) and x in LICENSES for x in lic)) or \
             (isinstance(lic, dict) and lic and all(is_nonempty_string(v) for v in lic.values()))
        if not ok:
            problems.append('license must be a known license string, a list of them, or an object of name: URL')
    if 'provides' in meta:
        provides = meta['provides']
        if not isinstance(provides, dict) or not provides:
            problems.append('provides must be a non-empty object')
        else:
            for ext, info in provides.items():
                if not TERM.match(ext):
                    problems.append(f'provides: "{ext}" is not a term')
                if not isinstance(info, dict):
                    problems.append(f'provides.{ext} must be an object')
                    continue
                for key in info:
                    if key not in ('file', 'version', 'abstract', 'docfile') and not key.lower().startswith('x_'):
                        problems.append(f'provides.{ext}: unknown key "{key}"')
                if not is_nonempty_string(info.get('file')):
                    problems.append(f'provides.{ext}.file is required')
                if not (isinstance(info.get('version'), str) and SEMVER.match(info['version'])):
                    problems.append(f'provides.{ext}.version must be a semantic version')
    if 'meta-spec' in meta:
        spec = meta['meta-spec']
        if not isinstance(spec, dict) or spec.get('version') != '1.0.0':
            problems.append('meta-spec.version must be "1.0.0"')
    if 'release_status' in meta and meta['release_status'] not in ('stable', 'testing', 'unstable'):
        problems.append('release_status must be stable, testing or unstable')
    if 'tags' in meta:
        tags = meta['tags']
        if not (isinstance(tags, list) and tags and all(isinstance(t, str) and TAG.match(t) for t in tags)):
            problems.append('tags must be a non-empty list of strings of 1 to 255 characters')
    if 'prereqs' in meta:
        prereqs = meta['prereqs']
        if not isinstance(prereqs, dict):
            problems.append('prereqs must be an object')
        else:
            for phase, relations in prereqs.items():
                if phase not in PHASES or not isinstance(relations, dict):
                    problems.append(f'prereqs: unknown phase "{phase}"')
                    continue
                for relation, deps in relations.items():
                    if relation not in RELATIONS or not isinstance(deps, dict):
                        problems.append(f'prereqs.{phase}: unknown relationship "{relation}"')
                        continue
                    for dep, version in deps.items():
                        if not (version == 0 or (isinstance(version, str) and
                                                 (version == '0' or SEMVER.match(version.lstrip('<>=! '))))):
                            problems.append(f'prereqs.{phase}.{relation}.{dep}: bad version "{version}"')
    return problems


def control_version(root):
    with open(os.path.join(root, 'pg_pat.control')) as f:
        match = re.search(r"^default_version\s*=\s*'([^']+)'", f.read(), re.M)
    return match.group(1) if match else None


def tree_problems(meta, root):
    """What in meta disagrees with the tree at root."""
    problems = []
    default = control_version(root)
    if default is None:
        return ['pg_pat.control has no default_version']
    expected = default + '.0' if default.count('.') == 1 else default
    if meta.get('version') != expected:
        problems.append(f'version is {meta.get("version")!r}; pg_pat.control says {default} ({expected})')
    info = meta.get('provides', {}).get('pg_pat') if isinstance(meta.get('provides'), dict) else None
    if not isinstance(info, dict):
        return problems + ['provides has no pg_pat']
    if info.get('version') != expected:
        problems.append(f'provides.pg_pat.version is {info.get("version")!r}, not {expected}')
    if info.get('file') != f'extension/pg_pat--{default}.sql':
        problems.append(f'provides.pg_pat.file should be extension/pg_pat--{default}.sql')
    for key in ('file', 'docfile'):
        path = info.get(key)
        if isinstance(path, str) and not os.path.isfile(os.path.join(root, path)):
            problems.append(f'provides.pg_pat.{key} {path} does not exist')
    return problems


def self_test(root):
    """Each mutation of the real META.json must be refused; returns how many were not."""
    with open(os.path.join(root, 'META.json')) as f:
        good = json.load(f)

    def without(key):
        return lambda m: m.pop(key)

    def setting(path, value):
        def mutate(m):
            target = m
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return mutate

    mutations = {
        'no name': without('name'),
        'no provides': without('provides'),
        'no meta-spec': without('meta-spec'),
        'a name with a space': setting(['name'], 'pg pat'),
        'a version that is not semver': setting(['version'], '1.8'),
        'an unknown license': setting(['license'], 'postgres'),
        'meta-spec 2.0.0': setting(['meta-spec', 'version'], '2.0.0'),
        'an unknown key': setting(['homepage'], 'https://example.com'),
        'a bad release status': setting(['release_status'], 'beta'),
        'an empty tag list': setting(['tags'], []),
        'an unknown prereq phase': setting(['prereqs', 'deploy'], {'requires': {'PostgreSQL': '15.0.0'}}),
        'a version other than the control file': setting(['version'], '9.9.0'),
        'a provided file that does not exist': setting(['provides', 'pg_pat', 'file'], 'extension/nope.sql'),
    }
    failures = 0
    for what, mutate in mutations.items():
        meta = copy.deepcopy(good)
        mutate(meta)
        refused = bool(spec_problems(meta) + tree_problems(meta, root))
        print(f'{"ok" if refused else "not ok"} - META.json with {what} is refused')
        failures += 0 if refused else 1
    return len(mutations), failures


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = list(argv)
    if '--root' in args:
        i = args.index('--root')
        root = args[i + 1]
        del args[i:i + 2]
    if args and args[0] == '--self-test':
        total, failures = self_test(root)
        return 1 if failures else 0
    path = args[0] if args else os.path.join(root, 'META.json')
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as error:
        print(f'{path}: {error}')
        return 1
    problems = spec_problems(meta) + tree_problems(meta, root)
    for problem in problems:
        print(f'{path}: {problem}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
