#!/usr/bin/python3
"""eroot mkfs options, checked through the kernel mount (and the reader):
-T, SOURCE_DATE_EPOCH, --all-root, --force-uid/--force-gid, -L/-U (via
eroot info --json and blkid), --exclude-path and --exclude-regex."""
import json
import os
import shutil

import eroottest as E

FIXED = 1234567890
CLAMP = 1600000000          # the tree's default mtime is 1600000000.123456789
LABEL = 'eroot-test-label'  # exactly 16 bytes, the maximum
UUID = '0123abcd-4567-89ef-fedc-ba9876543210'


def build_and_mount_manifest(t, base, name, tree, *opts, env=None):
    """Manifest of the kernel mount of an image built with @opts (None when
    something failed; the failure is recorded)."""
    image = os.path.join(base, name + '.erofs')
    if not E.mkfs(t, image, tree, *opts, env=env,
                  what='eroot mkfs %s' % ' '.join(opts)):
        return None
    with E.try_mount(t, image, os.path.join(base, 'mnt-' + name),
                     'mount image built with %s' % ' '.join(opts)) as m:
        return E.manifest(m) if m else None


def transformed(expected, fn):
    out = []
    for line in expected:
        path, f = E.parse_line(line)
        fn(path, f)
        out.append(E.format_line(path, f))
    return out


def test_fixed_time(t, base, tree, expected):
    got = build_and_mount_manifest(t, base, 'fixed', tree, '-T', str(FIXED))
    if got is None:
        return
    want = transformed(expected, lambda p, f: f.update(
        mtime='%d.000000000' % FIXED))
    E.same_manifest(t, want, got, '-T %d: every mtime is %d' % (FIXED, FIXED))
    # -T wins over SOURCE_DATE_EPOCH.
    got = build_and_mount_manifest(t, base, 'fixed-sde', tree, '-T',
                                   str(FIXED), env={'SOURCE_DATE_EPOCH': '5'})
    if got is not None:
        E.same_manifest(t, want, got, '-T takes precedence over '
                        'SOURCE_DATE_EPOCH')


def clamp(f):
    sec, nsec = f['mtime'].split('.')
    if int(sec) * 10**9 + int(nsec) > CLAMP * 10**9:
        f['mtime'] = '%d.000000000' % CLAMP


def test_source_date_epoch(t, base, tree, expected):
    got = build_and_mount_manifest(t, base, 'sde', tree,
                                   env={'SOURCE_DATE_EPOCH': str(CLAMP)})
    if got is None:
        return
    want = transformed(expected, lambda p, f: clamp(f))
    t.check(want != expected, 'the tree has mtimes above SOURCE_DATE_EPOCH')
    t.check(any('mtime=-' in l for l in want),
            'the tree has mtimes before 1970 (kept by the clamp)')
    E.same_manifest(t, want, got, 'SOURCE_DATE_EPOCH=%d clamps newer mtimes '
                    'and keeps older ones' % CLAMP)


def test_owners(t, base, tree, expected):
    got = build_and_mount_manifest(t, base, 'allroot', tree, '--all-root')
    if got is not None:
        want = transformed(expected, lambda p, f: f.update(uid='0', gid='0'))
        E.same_manifest(t, want, got, '--all-root: every owner is 0:0')
    got = build_and_mount_manifest(t, base, 'force', tree,
                                   '--force-uid=4000000000',
                                   '--force-gid=65536')
    if got is not None:
        want = transformed(expected, lambda p, f: f.update(
            uid='4000000000', gid='65536'))
        E.same_manifest(t, want, got, '--force-uid/--force-gid set every '
                        'owner')
    got = build_and_mount_manifest(t, base, 'forceuid', tree,
                                   '--force-uid=70000')
    if got is not None:
        want = transformed(expected, lambda p, f: f.update(uid='70000'))
        E.same_manifest(t, want, got, '--force-uid alone keeps the groups')


def json_values(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from json_values(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from json_values(v)
    else:
        yield obj


def info_json(t, image, what):
    res = E.eroot('info', '--json', image)
    if not E.must(t, res, what):
        return None
    try:
        return json.loads(res.out)
    except ValueError as e:
        t.check(False, what + ': valid JSON', '%s\n%s' % (e, res.out[:500]))
        return None


def blkid(image):
    res = E.run(['blkid', '-p', '-o', 'export', image])
    return dict(l.split('=', 1) for l in res.out.decode().splitlines()
                if '=' in l)


def test_label_uuid(t, base, tree):
    image = os.path.join(base, 'label.erofs')
    if not E.mkfs(t, image, tree, '-L', LABEL, '-U', UUID):
        return
    info = info_json(t, image, 'eroot info --json')
    if info is not None:
        values = [str(v) for v in json_values(info)]
        t.check(LABEL in values, 'info --json shows the label', values[:40])
        t.check(UUID in [v.lower() for v in values],
                'info --json shows the UUID', values[:40])
        t.check(str(FIXED) not in values, 'sanity: no fixed time here')
    if shutil.which('blkid'):
        b = blkid(image)
        t.check(b.get('TYPE') == 'erofs', 'blkid: TYPE=erofs', b)
        t.check(b.get('LABEL') == LABEL, 'blkid: LABEL', b)
        t.check(b.get('UUID', '').lower() == UUID, 'blkid: UUID', b)
        default = blkid(os.path.join(base, 'sde.erofs'))
        other = blkid(os.path.join(base, 'allroot.erofs'))
        uu = default.get('UUID', '')
        t.check(uu and uu.strip('0-') and uu != UUID,
                'default UUID is set (not zero)', default)
        t.check(uu != other.get('UUID'), 'default UUIDs of different '
                'images differ', (default, other))
    else:
        print('note: blkid missing, label/UUID checked with eroot info only')
    # The fixed time is the build time too.
    info = info_json(t, os.path.join(base, 'fixed.erofs'), 'eroot info '
                     '--json of the -T image')
    if info is not None:
        t.check(FIXED in list(json_values(info)) or
                str(FIXED) in [str(v) for v in json_values(info)],
                '-T sets the build time shown by info --json')


def test_no_owner(t, base, expected):
    """extract --no-owner leaves every owner to the extracting user (root)."""
    out = os.path.join(base, 'no-owner')
    image = os.path.join(base, 'sde.erofs')
    if not os.path.exists(image):
        return
    res = E.eroot('extract', '--no-owner', image, out)
    if E.must(t, res, 'extract --no-owner'):
        want = transformed(expected, lambda p, f: (
            clamp(f), f.update(uid='0', gid='0')))
        E.same_manifest(t, want, E.manifest(out), 'extract --no-owner: '
                        'everything owned by root, the rest restored')


def test_xattr_sharing(t, base, tree, expected):
    """-x changes where xattrs are stored, never what they are."""
    for n in ('0', '1', '1000'):
        got = build_and_mount_manifest(t, base, 'x' + n, tree, '-x', n)
        if got is not None:
            E.same_manifest(t, expected, got, '-x %s: same xattrs' % n)
        res, lines = E.image_manifest(os.path.join(base, 'x%s.erofs' % n))
        if E.must(t, res, 'image-manifest of the -x %s image' % n):
            E.same_manifest(t, expected, lines, '-x %s: same xattrs through '
                            'the reader' % n)
    plain = os.path.join(base, 'plain.erofs')
    if E.mkfs(t, plain, tree):
        for n in ('0', '1'):
            other = os.path.join(base, 'x%s.erofs' % n)
            t.check(os.path.exists(other) and
                    E.read_file(plain) != E.read_file(other),
                    '-x %s gives another image than the default -x 2 (the '
                    'tree has xattrs on 2..12 inodes)' % n)


def test_output(t, base, tree):
    """-q prints nothing; otherwise one summary line on stdout, and no
    progress on stderr when it is not a terminal."""
    res = E.eroot('mkfs', '-q', os.path.join(base, 'quiet.erofs'), tree)
    if E.must(t, res, 'mkfs -q'):
        t.check(res.out == b'' and res.err == b'', 'mkfs -q prints nothing',
                res.describe() + '\nstdout: %r' % res.out[:300])
    res = E.eroot('mkfs', os.path.join(base, 'loud.erofs'), tree)
    if E.must(t, res, 'mkfs without -q'):
        t.check(len(res.out.splitlines()) == 1 and res.err == b'',
                'mkfs prints one summary line on stdout, nothing on stderr',
                res.describe() + '\nstdout: %r' % res.out[:300])
    t.check(E.read_file(os.path.join(base, 'quiet.erofs')) ==
            E.read_file(os.path.join(base, 'loud.erofs')),
            '-q does not change the image')


EXCLUDE_TREE = ['ex/a/inner/f', 'ex/a/g', 'ex/ab', 'ex/a-b', 'ex/b/a',
                'r/x.tmp', 'r/y.tmpl', 'r/d.tmp/inner', 'r/keep', 'top.tmp',
                'top']


def make_exclude_tree(root):
    for rel in EXCLUDE_TREE:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(rel)
    for dirpath, dirs, files in os.walk(root, topdown=False):
        for n in dirs + files:
            os.utime(os.path.join(dirpath, n), ns=(10**18, 10**18))
    os.utime(root, ns=(10**18, 10**18))


def without(expected, removed):
    lines = [l for l in expected if l.split(' ', 1)[0] not in removed]
    assert len(lines) == len(expected) - len(removed), removed
    return lines


def ls_checks(t, image, lines):
    """eroot ls on plainly named paths: -R lists every path once, plain ls
    the names of one directory, -a adds . and .."""
    if lines is None:
        return
    paths = {'/' + l.split(' ', 1)[0] for l in lines} - {'/.'}
    res = E.eroot('ls', '-R', image)
    if E.must(t, res, 'eroot ls -R'):
        out = res.out.decode().splitlines()
        t.check(set(out) - {'/'} == paths and len(out) - ('/' in out) ==
                len(paths), 'ls -R lists every path once', out)
    res = E.eroot('ls', image, '/ex')
    if E.must(t, res, 'eroot ls /ex'):
        t.check(sorted(res.out.decode().split()) == ['a-b', 'ab', 'b'],
                'ls /ex lists the names of /ex', res.out)
    res = E.eroot('ls', '-a', image, '/ex/b')
    if E.must(t, res, 'eroot ls -a /ex/b'):
        t.check(sorted(res.out.decode().split()) == ['.', '..', 'a'],
                'ls -a adds . and ..', res.out)


def test_extract_unprivileged(t, base, lines):
    """Not root: extract restores everything but the owners (which become
    the extracting user's) and does not fail over them."""
    image = os.path.join(base, 'expath.erofs')
    if lines is None or not os.path.exists(image):
        return
    if not E.nobody_can_reach(base):
        print('note: uid 65534 cannot reach %s: unprivileged extract not '
              'tested' % base)
        return
    nobody = os.path.join(base, 'nobody')
    os.makedirs(nobody)
    os.chown(nobody, 65534, 65534)
    out = os.path.join(nobody, 'out')
    res = E.run(E.AS_NOBODY + [E.EROOT, 'extract', image, out])
    if E.must(t, res, 'extract as uid 65534'):
        want = transformed(lines, lambda p, f: f.update(uid='65534',
                                                        gid='65534'))
        E.same_manifest(t, want, E.manifest(out), 'extract as uid 65534: '
                        'owned by 65534, the rest restored')


def test_exclude(t, base):
    tree = os.path.join(base, 'extree')
    make_exclude_tree(tree)
    expected = E.manifest(tree)
    got = build_and_mount_manifest(t, base, 'expath', tree,
                                   '--exclude-path=ex/a',
                                   '--exclude-path=top.tmp')
    if got is not None:
        E.same_manifest(t, without(expected, {'ex/a', 'ex/a/inner',
                                              'ex/a/inner/f', 'ex/a/g',
                                              'top.tmp'}),
                        got, '--exclude-path removes exactly ex/a (and below) '
                        'and top.tmp, not ex/ab, ex/a-b or ex/b/a')
    ls_checks(t, os.path.join(base, 'expath.erofs'), got)
    test_extract_unprivileged(t, base, got)
    got = build_and_mount_manifest(t, base, 'exregex', tree,
                                   r'--exclude-regex=\.tmp$',
                                   '--exclude-regex=^ex/a-b$')
    if got is not None:
        E.same_manifest(t, without(expected, {'r/x.tmp', 'r/d.tmp',
                                              'r/d.tmp/inner', 'top.tmp',
                                              'ex/a-b'}),
                        got, '--exclude-regex removes exactly the matching '
                        'paths (and what is below a matching directory)')
    got = build_and_mount_manifest(t, base, 'exinner', tree,
                                   '--exclude-regex=inner')
    if got is not None:
        E.same_manifest(t, without(expected, {'ex/a/inner', 'ex/a/inner/f',
                                              'r/d.tmp/inner'}),
                        got, '--exclude-regex matches anywhere in the path')


def main():
    E.require_root()
    E.require_kernel_erofs()
    t = E.Checker('options')
    base = E.scratch('options')
    tree = os.path.join(base, 'tree')
    E.gentree(tree, 'edge', 3)
    expected = E.manifest(tree)
    test_fixed_time(t, base, tree, expected)
    test_source_date_epoch(t, base, tree, expected)
    test_owners(t, base, tree, expected)
    test_label_uuid(t, base, tree)
    test_no_owner(t, base, expected)
    test_output(t, base, tree)
    test_xattr_sharing(t, base, tree, expected)
    test_exclude(t, base)
    t.exit()


if __name__ == '__main__':
    main()
