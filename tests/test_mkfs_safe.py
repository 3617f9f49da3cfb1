#!/usr/bin/python3
"""eroot mkfs against a changing source and an interrupted build.

    test_mkfs_safe.py swap|signals

swap     between the scan and the write (EROOT_TEST_PAUSE_AFTER_SCAN, a
         test-only hook of tools/eroot/cmd_mkfs.c that waits on a FIFO), a
         subdirectory becomes a symlink to an outside directory holding a
         secret file of the same size and mtime; a file becomes a symlink;
         a file is replaced by another of the same size and mtime; a file
         is rewritten in place; a file is removed.  Each build fails with
         exit 1 and one line "...: changed during the build", leaves no
         image, and the secret appears in no file of the target directory.
         Without a change, the paused build succeeds.
signals  SIGINT, then SIGTERM, sent to a running build (-z lzma over
         ~100 MB, plain and -E all-fragments, whose packed data also waits
         next to the image): the target directory holds exactly what it
         held before, and the existing image there is untouched.  Also on
         a FUSE mount (bindfs) without O_TMPFILE, where the image is built
         under a temporary name that eroot's signal handler removes.
         The same for eroot initrd, whose output and image wait under
         temporary names for the whole run.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import eroottest as E

SECRET = b'SECRET-outside-the-tree-0123456789\n'
PUBLIC = b'public-inside-the-tree-9876543210!\n'


def listing(d):
    return sorted(os.listdir(d))


def start_mkfs(args, env=None, command='mkfs'):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.Popen([E.EROOT, command, '-q'] + list(args),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full_env)


def finish(p, timeout=600):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return E.Result(p.args, None, out, err, True)
    return E.Result(p.args, p.returncode, out, err)


def holds_secret(d):
    for dirpath, _, files in os.walk(d):
        for n in files:
            with open(os.path.join(dirpath, n), 'rb') as f:
                if SECRET in f.read():
                    return os.path.join(dirpath, n)
    return None


# ------------------------------------------------------------ swap

def make_tree(base):
    """src/ (the source) and outside/ (what must never get in)."""
    src = os.path.join(base, 'src')
    outside = os.path.join(base, 'outside')
    for d in ('src/sub', 'outside'):
        os.makedirs(os.path.join(base, d))
    for rel, data in (('src/sub/file', PUBLIC), ('src/top', PUBLIC),
                      ('outside/file', SECRET), ('outside/top', SECRET)):
        E.write_file(os.path.join(base, rel), data)
    # the outside files look the same as the scanned ones: size and mtime
    for rel in ('file', 'top'):
        st = os.stat(os.path.join(src, 'sub/file'))
        os.utime(os.path.join(outside, rel), ns=(st.st_atime_ns,
                                                 st.st_mtime_ns))
        os.utime(os.path.join(src, 'top'), ns=(st.st_atime_ns,
                                               st.st_mtime_ns))
    return src, outside


def paused_build(base, image, src, change):
    """mkfs IMAGE SRC, with @change() run between the scan and the write."""
    fifo = os.path.join(base, 'pause')
    if os.path.lexists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)
    p = start_mkfs([image, src], env={'EROOT_TEST_PAUSE_AFTER_SCAN': fifo})
    # opening the FIFO for writing waits until mkfs, its scan done, opens it
    opened = {}

    def open_writer():
        opened['f'] = open(fifo, 'wb')
    th = threading.Thread(target=open_writer, daemon=True)
    th.start()
    th.join(300)
    if th.is_alive():
        p.kill()
        return finish(p), False
    change()
    opened['f'].close()
    return finish(p), True


def test_swap(t, base):
    out = os.path.join(base, 'out')
    os.mkdir(out)
    image = os.path.join(out, 'image.erofs')

    def subdir_to_symlink(src, outside):
        os.rename(os.path.join(src, 'sub'), os.path.join(base, 'sub.moved'))
        os.symlink(outside, os.path.join(src, 'sub'))

    def file_to_symlink(src, outside):
        os.unlink(os.path.join(src, 'top'))
        os.symlink(os.path.join(outside, 'top'), os.path.join(src, 'top'))

    def file_replaced(src, outside):
        # same name, size and mtime; another inode
        os.rename(os.path.join(outside, 'top'), os.path.join(src, 'top'))

    def rewritten(src, outside):
        path = os.path.join(src, 'top')
        with open(path, 'r+b') as f:
            f.write(SECRET[:len(PUBLIC)])
        os.utime(path, ns=(0, 1))

    def removed(src, outside):
        os.unlink(os.path.join(src, 'top'))

    cases = [('a subdirectory becomes a symlink to an outside directory',
              subdir_to_symlink),
             ('a file becomes a symlink to an outside file', file_to_symlink),
             ('a file is replaced (same size and mtime)', file_replaced),
             ('a file is rewritten in place', rewritten),
             ('a file is removed', removed)]
    for i, (what, change) in enumerate(cases):
        case = os.path.join(base, 'case%d' % i)
        os.mkdir(case)
        src, outside = make_tree(case)
        label = 'swap: ' + what
        res, paused = paused_build(case, image, src,
                                   lambda: change(src, outside))
        if not t.check(paused, label + ': mkfs paused after the scan',
                       res.describe()):
            continue
        E.sane_failure(t, res, label, 1, command='mkfs')
        t.check(b'changed during the build' in res.err, label + ': the '
                'message says "changed during the build"', res.describe())
        t.check(listing(out) == [], label + ': nothing in the target '
                'directory', listing(out))
        t.check(holds_secret(out) is None, label + ': the secret is in no '
                'file of the target directory')

    # the same pause without a change builds, and the image is right
    case = os.path.join(base, 'unchanged')
    os.mkdir(case)
    src, _ = make_tree(case)
    res, paused = paused_build(case, image, src, lambda: None)
    if t.check(paused and res.rc == 0 and not res.sanitizer(),
               'swap: no change: the paused build succeeds', res.describe()):
        E.must(t, E.eroot('fsck', image), 'swap: no change: eroot fsck')
        r = E.eroot('cat', image, '/sub/file')
        t.check(r.rc == 0 and r.out == PUBLIC, 'swap: no change: the file '
                'reads back', r.describe())
        t.check(holds_secret(out) is None, 'swap: no change: no secret')


# ------------------------------------------------------------ signals

BIG_FILES = 6
BIG_FILE_SIZE = 16 << 20


def make_big_tree(src):
    """About 100 MB that lzma compresses slowly: random bytes, each 4 KiB
    block repeated a few times so there is something to find."""
    os.makedirs(src)
    # a module tree, so that eroot initrd takes the same tree
    kmods = os.path.join(src, 'lib', 'modules', '0.0.0-test')
    os.makedirs(kmods)
    for name in ('modules.dep', 'modules.alias', 'modules.softdep'):
        E.write_file(os.path.join(kmods, name), b'')
    # the loader's modules built in: eroot initrd resolves them before it
    # builds the image (the signal must find it building)
    E.write_file(os.path.join(kmods, 'modules.builtin'), b''.join(
        b'kernel/%s.ko\n' % m for m in (b'erofs', b'overlay', b'loop')))
    for i in range(BIG_FILES):
        with open(os.path.join(src, 'big%d' % i), 'wb') as f:
            for _ in range(BIG_FILE_SIZE // (1 << 16)):
                block = os.urandom(1 << 12)
                f.write(block * 4 + os.urandom(3 << 14))


def target_dirs(base):
    """Where images are built: a directory with O_TMPFILE, and, when bindfs
    is there, a FUSE mount of one without (a named temporary file, which
    eroot's signal handler removes)."""
    plain = os.path.join(base, 'out')
    os.mkdir(plain)
    dirs = [('', plain)]
    under, mnt = os.path.join(base, 'fuse-under'), os.path.join(base, 'fuse')
    os.mkdir(under)
    os.mkdir(mnt)
    res = E.run(['bindfs', under, mnt])
    if res.rc == 0:
        dirs.append((' (no O_TMPFILE: bindfs)', mnt))
    else:
        print('note: bindfs not available (%s); the named temporary file is '
              'not tried' % res.err.decode(errors='replace').strip())
    return dirs


def test_signals(t, base):
    src = os.path.join(base, 'src')
    make_big_tree(src)
    for where, out in target_dirs(base):
        image = os.path.join(out, 'image.erofs')
        E.write_file(image, b'the image that was there before\n' * 100)
        old = E.read_file(image)
        before = listing(out)
        for extra in ([], ['-E', 'all-fragments']):
            for sig in (signal.SIGINT, signal.SIGTERM):
                label = 'signals: %s during mkfs %s%s' % (
                    signal.Signals(sig).name,
                    ' '.join(['-z', 'lzma'] + extra), where)
                p = start_mkfs(['-z', 'lzma,9', '--workers=2'] + extra +
                               [image, src])
                time.sleep(3)
                running = p.poll() is None
                if running:
                    p.send_signal(sig)
                res = finish(p)
                if not t.check(running, label + ': still running after 3 s '
                               '(the signal arrives during the build)',
                               res.describe()):
                    continue
                t.check(res.rc == -sig, label + ': ended by the signal',
                        res.describe())
                t.check(not res.sanitizer(), label + ': no sanitizer report',
                        res.describe())
                t.check(listing(out) == before, label + ': the target '
                        'directory holds what it held before', '%s -> %s' % (
                            before, listing(out)))
                t.check(E.read_file(image) == old, label + ': the existing '
                        'image is untouched')
        # eroot initrd holds two named temporaries (its output and the
        # image) for the whole run: the same signals remove both.
        for sig in (signal.SIGINT, signal.SIGTERM):
            label = 'signals: %s during initrd%s' % (signal.Signals(sig).name, where)
            p = start_mkfs(['-z', 'lzma,9', '--modules-dir', src, image, src],
                           command='initrd')
            time.sleep(3)
            running = p.poll() is None
            if running:
                p.send_signal(sig)
            res = finish(p)
            if not t.check(running, label + ': still running after 3 s',
                           res.describe()):
                continue
            t.check(res.rc == -sig and not res.sanitizer(),
                    label + ': ended by the signal, no sanitizer report',
                    res.describe())
            t.check(listing(out) == before, label + ': the target directory '
                    'holds what it held before', '%s -> %s' % (before, listing(out)))
            t.check(E.read_file(image) == old, label + ': the existing file '
                    'is untouched')
        # and a build that is not interrupted still replaces the image
        res = E.eroot('mkfs', '-q', '--exclude-regex=big[1-9]', image, src,
                      timeout=600)
        if E.must(t, res, 'signals: an uninterrupted build' + where):
            t.check(listing(out) == before and E.read_file(image) != old,
                    'signals: an uninterrupted build%s replaces the image and '
                    'leaves nothing else' % where, listing(out))


TESTS = {'swap': test_swap, 'signals': test_signals}


def main():
    which = sys.argv[1] if len(sys.argv) == 2 else None
    if which not in TESTS:
        sys.exit('usage: test_mkfs_safe.py %s' % '|'.join(TESTS))
    E.require_root()
    t = E.Checker('mkfs-safe-' + which)
    TESTS[which](t, E.scratch('mkfs-safe-' + which))
    t.exit()


if __name__ == '__main__':
    main()
