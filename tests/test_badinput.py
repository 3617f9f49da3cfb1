#!/usr/bin/python3
"""Bad input: each case must fail with the exit code of docs/cli.md, one
line "eroot COMMAND: ..." on stderr, no sanitizer report, no signal, and for
mkfs no file under the target name (an existing one is left alone) and no
leftover temporary file next to it."""
import os
import subprocess

import eroottest as E

NOBODY = E.NOBODY
SETPRIV = E.AS_NOBODY


def listing(d):
    return sorted(os.listdir(d))


def mkfs_fails(t, what, args, target, code=1, runner=(), old=None):
    """Run a failing mkfs and check what it leaves behind.  @old: content
    that @target holds before and must still hold after."""
    d = os.path.dirname(target)
    if old is not None:
        E.write_file(target, old)
    before = listing(d) if os.path.isdir(d) else None
    cmd = list(runner) + [E.EROOT, 'mkfs'] + list(args)
    res = E.run(cmd, timeout=300)
    E.sane_failure(t, res, 'mkfs: ' + what, code, command='mkfs')
    if old is None:
        t.check(not os.path.lexists(target), 'mkfs: %s: no file at the target'
                % what)
    else:
        t.check(os.path.isfile(target) and E.read_file(target) == old,
                'mkfs: %s: the existing target is untouched' % what)
    if before is not None:
        t.check(listing(d) == before, 'mkfs: %s: no leftover files next to '
                'the target' % what, '%s -> %s' % (before, listing(d)))
    return res


def usage_failure(t, res, what, command, arity=False):
    """A usage error: exit 2, no sanitizer; stderr starts with the one clear
    line "eroot COMMAND: why" (a usage text may follow).  When arguments
    are missing (@arity), starting with the usage text is fine too."""
    E.must(t, res, what, (2,))
    lines = res.err_lines()
    first = lines[0] if lines else ''
    prefix = 'eroot %s: ' % command if command else 'eroot: '
    good = first.startswith(prefix)
    if arity:
        good |= first.startswith('usage: eroot')
    t.check(good, '%s: stderr starts with "%swhy"' % (what, prefix),
            res.describe())


def small_tree(path, owner=None):
    os.makedirs(os.path.join(path, 'sub'))
    for rel in ('a', 'sub/b'):
        E.write_file(os.path.join(path, rel), rel.encode() * 100)
    if owner is not None:
        for dirpath, dirs, files in os.walk(path):
            for n in dirs + files + ['.']:
                os.chown(os.path.join(dirpath, n), owner, owner)


def test_sources(t, base):
    out = os.path.join(base, 'out')
    img = os.path.join(out, 'image.erofs')
    mkfs_fails(t, 'missing source directory',
               [img, os.path.join(base, 'no-such-dir')], img)
    afile = os.path.join(base, 'a-file')
    E.write_file(afile, b'not a directory')
    mkfs_fails(t, 'source is a regular file', [img, afile], img)
    mkfs_fails(t, 'target directory missing',
               [os.path.join(base, 'no-such-dir', 'img'), os.path.join(base,
                                                                      'src')],
               os.path.join(base, 'no-such-dir', 'img'))
    # Disk images start with zeros, which tar takes for an empty archive:
    # they must be refused, not built into an empty image.
    made = os.path.join(base, 'made.erofs')
    if E.must(t, E.eroot('mkfs', '-q', made, os.path.join(base, 'src')),
              'mkfs: an image to give as SOURCE'):
        for existing in (None, b'an older image'):
            res = mkfs_fails(t, 'source is an EROFS image' +
                             (' (over an existing target)' if existing else ''),
                             ['-q', img, made], img, old=existing)
            t.check(made.encode() in res.err, 'mkfs: an EROFS image as SOURCE: '
                    'the message names it', res.describe())
        if os.path.exists(img):
            os.unlink(img)
    ext4 = os.path.join(base, 'made.ext4')
    with open(ext4, 'wb') as f:
        f.truncate(4 << 20)
    if E.run(['mke2fs', '-q', '-F', '-t', 'ext4', ext4]).rc == 0:
        res = mkfs_fails(t, 'source is an ext4 image', ['-q', img, ext4], img)
        t.check(ext4.encode() in res.err, 'mkfs: an ext4 image as SOURCE: the '
                'message names it', res.describe())
        res = E.run(['sh', '-c', 'exec "$0" mkfs -q "$1" - < "$2"', E.EROOT,
                     img, ext4])
        E.sane_failure(t, res, 'mkfs: an ext4 image on stdin', 1, command='mkfs')
        t.check(not os.path.lexists(img), 'mkfs: an ext4 image on stdin: no '
                'image')
    else:
        print('note: mke2fs failed; the ext4 SOURCE case not run')
    # An empty tar (zeros only) is still an empty image.
    ztar = os.path.join(base, 'empty.tar')
    E.write_file(ztar, bytes(10240))
    res = E.eroot('mkfs', '-q', img, ztar)
    if E.must(t, res, 'mkfs: an empty tar (zeros only) builds'):
        E.must(t, E.eroot('fsck', '-q', img), 'mkfs: the empty tar\'s image '
               'passes fsck')
        os.unlink(img)
    adir = os.path.join(out, 'existing-dir')
    os.mkdir(adir)
    res = E.eroot('mkfs', '-q', adir, os.path.join(base, 'src'))
    E.sane_failure(t, res, 'mkfs: target is an existing directory', 1,
                   command='mkfs')
    t.check(listing(out) == ['existing-dir'] and not os.listdir(adir),
            'mkfs onto a directory leaves nothing behind', listing(out))


def test_as_nobody(t, base):
    """Permission failures: root bypasses modes, so run eroot as nobody."""
    if not E.nobody_can_reach(base):
        print('note: user %d cannot reach %s; permission cases not run'
              % (NOBODY, base))
        return
    src = os.path.join(base, 'src-nobody')
    small_tree(src, owner=NOBODY)
    secret = os.path.join(src, 'sub', 'secret-file')
    E.write_file(secret, b'secret')
    os.chmod(secret, 0)
    outn = os.path.join(base, 'out-nobody')
    os.makedirs(outn)
    os.chown(outn, NOBODY, NOBODY)
    img = os.path.join(outn, 'image.erofs')
    res = mkfs_fails(t, 'unreadable file in the source', [img, src], img,
                     runner=SETPRIV)
    t.check(b'secret-file' in res.err, 'the error names the unreadable file',
            res.describe())
    mkfs_fails(t, 'unreadable file, existing target kept', [img, src], img,
               runner=SETPRIV, old=b'previous image')
    os.remove(img)
    os.remove(secret)

    closed = os.path.join(src, 'closed-dir')
    os.mkdir(closed)
    E.write_file(os.path.join(closed, 'x'), b'x')
    os.chmod(closed, 0o700)          # owned by root: nobody cannot list it
    res = mkfs_fails(t, 'unreadable directory in the source', [img, src], img,
                     runner=SETPRIV)
    t.check(b'closed-dir' in res.err, 'the error names the unreadable '
            'directory', res.describe())
    os.chmod(closed, 0o755)
    os.chown(closed, NOBODY, NOBODY)
    os.chown(os.path.join(closed, 'x'), NOBODY, NOBODY)

    rootdir = os.path.join(base, 'out-root-only')
    os.makedirs(rootdir)
    os.chmod(rootdir, 0o755)
    mkfs_fails(t, 'unwritable target directory',
               [os.path.join(rootdir, 'image.erofs'), src],
               os.path.join(rootdir, 'image.erofs'), runner=SETPRIV)
    # Sanity: the same build works for nobody where it may write.
    res = E.run(SETPRIV + [E.EROOT, 'mkfs', '-q', img, src])
    E.must(t, res, 'mkfs as nobody succeeds once everything is readable')

    unreadable_img = os.path.join(base, 'root-only.erofs')
    if os.path.exists(img):
        os.rename(img, unreadable_img)
        os.chown(unreadable_img, 0, 0)
        os.chmod(unreadable_img, 0o600)
        res = E.run(SETPRIV + [E.EROOT, 'fsck', unreadable_img])
        E.sane_failure(t, res, 'fsck of an unreadable image', 1,
                       command='fsck')
        res = E.run(SETPRIV + [E.EROOT, 'ls', unreadable_img])
        E.sane_failure(t, res, 'ls of an unreadable image', 1, command='ls')


def test_full_fs(t, base):
    full = os.path.join(base, 'full')
    os.makedirs(full)
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full],
                   check=True)
    try:
        src = os.path.join(base, 'src-big')
        os.makedirs(src)
        E.write_file(os.path.join(src, 'big'), os.urandom(3 << 20))
        img = os.path.join(full, 'image.erofs')
        mkfs_fails(t, 'target filesystem full', [img, src], img)
        mkfs_fails(t, 'target filesystem full, existing target kept',
                   [img, src], img, old=b'old image')
    finally:
        subprocess.run(['umount', full])


def test_usage(t, base):
    src = os.path.join(base, 'src')
    out = os.path.join(base, 'out')
    img = os.path.join(out, 'usage.erofs')
    for what, args in (('no arguments', []), ('only an image', [img]),
                       ('too many arguments', [img, src, src])):
        res = E.eroot('mkfs', *args)
        usage_failure(t, res, 'mkfs: usage: ' + what, 'mkfs', arity=True)
        t.check(not os.path.exists(img), 'mkfs: %s: no image' % what)
    cases = [
        ('-b 8192', ['-b', '8192', img, src]),
        ('-b 1000', ['-b', '1000', img, src]),
        ('-b 256', ['-b', '256', img, src]),
        ('-b abc', ['-b', 'abc', img, src]),
        ('17-byte label', ['-L', 'x' * 17, img, src]),
        ('malformed UUID', ['-U', 'not-a-uuid', img, src]),
        ('short UUID', ['-U', '0123abcd-4567-89ef-fedc-ba987654321', img, src]),
        ('-T abc', ['-T', 'abc', img, src]),
        ('--force-uid=abc', ['--force-uid=abc', img, src]),
        ('--force-gid=', ['--force-gid=', img, src]),
        ('-x abc', ['-x', 'abc', img, src]),
        ('unknown option', ['--no-such-option', img, src]),
        ('bad regex', ['--exclude-regex=(', img, src]),
    ]
    for what, args in cases:
        before = listing(out)
        res = E.eroot('mkfs', *args)
        usage_failure(t, res, 'mkfs: usage: ' + what, 'mkfs')
        t.check(listing(out) == before, 'mkfs: usage: %s: no file written'
                % what, listing(out))
    res = E.eroot('mkfs', '-q', img, src, env={'SOURCE_DATE_EPOCH': 'soon'})
    t.check(res.rc in (0, 2) and not res.sanitizer(),
            'a malformed SOURCE_DATE_EPOCH is refused or ignored',
            res.describe())
    if os.path.exists(img):
        os.remove(img)

    for what, args, arity in [
            ('no command', [], True),
            ('unknown command', ['frobnicate'], False),
            ('ls without an image', ['ls'], True),
            ('cat without a path', ['cat', img], True),
            ('bad --offset', ['ls', '--offset=abc', img], False),
            ('negative --offset', ['ls', '--offset=-1', img], False),
            ('fsck bad option', ['fsck', '--bogus', img], False)]:
        res = E.eroot(*args)
        command = args[0] if args and args[0] != 'frobnicate' else ''
        usage_failure(t, res, 'usage: ' + what, command, arity)

    for args in (['--version'], ['--help'], ['mkfs', '--help'],
                 ['ls', '--help']):
        res = E.eroot(*args)
        E.must(t, res, 'eroot %s' % ' '.join(args))
        t.check(res.out.strip() != b'', 'eroot %s prints something on stdout'
                % ' '.join(args), res.describe())
    res = E.eroot('--version')
    t.check(b'0.1.0' in res.out, 'eroot --version shows 0.1.0', res.out)


def test_readers(t, base):
    src = os.path.join(base, 'src')
    img = os.path.join(base, 'good.erofs')
    if not E.mkfs(t, img, src):
        return
    missing = os.path.join(base, 'no-such.erofs')
    for cmd in (['fsck', missing], ['ls', missing], ['cat', missing, '/a'],
                ['stat', missing, '/'], ['info', missing],
                ['extract', missing, os.path.join(base, 'x1')]):
        res = E.eroot(*cmd)
        E.sane_failure(t, res, '%s of a missing image' % cmd[0], 1,
                       command=cmd[0])
    t.check(not os.path.exists(os.path.join(base, 'x1')),
            'extract of a missing image creates no directory')
    for cmd in (['cat', img, '/no-such'], ['stat', img, '/no-such'],
                ['ls', img, '/no-such'], ['cat', img, '/a/below-a-file'],
                ['ls', img, '/sub/b/c']):
        res = E.eroot(*cmd)
        E.sane_failure(t, res, '%s %s: missing path' % (cmd[0], cmd[2]), 1,
                       command=cmd[0])
    res = E.eroot('info', base)
    E.sane_failure(t, res, 'info of a directory', 1, command='info')
    notempty = os.path.join(base, 'not-empty')
    os.makedirs(notempty)
    E.write_file(os.path.join(notempty, 'keep'), b'keep')
    res = E.eroot('extract', img, notempty)
    E.sane_failure(t, res, 'extract into a non-empty directory', 1,
                   command='extract')
    t.check(listing(notempty) == ['keep'], 'extract left the non-empty '
            'directory alone', listing(notempty))


def main():
    E.require_root()
    t = E.Checker('badinput')
    base = E.scratch('badinput')
    small_tree(os.path.join(base, 'src'))
    os.makedirs(os.path.join(base, 'out'))
    test_usage(t, base)
    test_sources(t, base)
    test_readers(t, base)
    test_as_nobody(t, base)
    test_full_fs(t, base)
    t.exit()


if __name__ == '__main__':
    main()
