#!/usr/bin/python3
"""eroot extract with an untrusted image or target, and names shown by ls.

- A symlink in the target where the image has a directory (or a file) is
  never followed: the entry is refused with one clear line, nothing is
  written outside the target, the rest is extracted.  Someone changing the
  target while extract runs is played by a small LD_PRELOAD library that
  plants a symlink just before eroot creates or opens an entry (the race,
  made deterministic): before mkdir, before creating a file, and between
  mkdir and opening the new directory.
- DEST itself a symlink: refused.
- As uid 65534 (setpriv), a target where nothing may be created, and a
  subtree made read-only during the run: each directory that could not be
  made is reported once and its content skipped, siblings go on, exit 1.
- --no-devices leaves character and block devices out, FIFOs and sockets
  in; --no-setid clears set-user-ID and set-group-ID bits of files (a
  directory keeps its set-group-ID) and leaves security.capability out.
  Without the options all of it is restored (so the checks can fail).
- ls prints names, -R paths and symlink targets escaped as GNU ls -b does
  (one line per entry whatever the bytes), stat too.
"""
import os
import socket
import stat
import subprocess

import eroottest as E

SHIM_C = r'''
/* Plays someone who changes the target while eroot extract runs.
 * SWAP="kind:name,..." and SWAP_TO (a symlink target):
 *   mkdir:NAME   a symlink NAME appears just before NAME is made a directory
 *   create:NAME  a symlink NAME appears just before NAME is created a file
 *   reopen:NAME  the directory NAME just made becomes a symlink before it is
 *                opened
 *   chmod:NAME   the parent of NAME turns read-only just before NAME is made */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int wanted(const char *kind, const char *path)
{
	const char *list = getenv("SWAP"), *name = strrchr(path, '/');
	size_t k = strlen(kind), n;

	name = name ? name + 1 : path;
	n = strlen(name);
	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, kind, k) && p[k] == ':' && !strncmp(p + k + 1, name, n) &&
		    (p[k + 1 + n] == ',' || !p[k + 1 + n]))
			return 1;
	return 0;
}

int mkdirat(int dfd, const char *name, mode_t mode)
{
	typedef int (*mkdirat_fn)(int, const char *, mode_t);
	mkdirat_fn real = (mkdirat_fn)dlsym(RTLD_NEXT, "mkdirat");

	if (wanted("mkdir", name))
		symlinkat(getenv("SWAP_TO"), dfd, name);
	if (wanted("chmod", name))
		fchmod(dfd, 0555);
	return real(dfd, name, mode);
}

int mkdir(const char *path, mode_t mode)
{
	return mkdirat(AT_FDCWD, path, mode);
}

static void before_open(int dfd, const char *name, int flags)
{
	if ((flags & O_CREAT) && wanted("create", name))
		symlinkat(getenv("SWAP_TO"), dfd, name);
	if ((flags & O_DIRECTORY) && wanted("reopen", name) &&
	    unlinkat(dfd, name, AT_REMOVEDIR) == 0)
		symlinkat(getenv("SWAP_TO"), dfd, name);
}

typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open_fn)(const char *, int, ...);

#define OPEN_WRAPPER(fn, type, args, call)					\
int fn args									\
{										\
	type real = (type)dlsym(RTLD_NEXT, #fn);				\
	mode_t mode = 0;							\
	va_list ap;								\
										\
	va_start(ap, flags);							\
	if (flags & O_CREAT)							\
		mode = va_arg(ap, mode_t);					\
	va_end(ap);								\
	call;									\
}
OPEN_WRAPPER(openat64, openat_fn, (int dfd, const char *name, int flags, ...),
	     before_open(dfd, name, flags); return real(dfd, name, flags, mode))
OPEN_WRAPPER(openat, openat_fn, (int dfd, const char *name, int flags, ...),
	     before_open(dfd, name, flags); return real(dfd, name, flags, mode))
OPEN_WRAPPER(open64, open_fn, (const char *name, int flags, ...),
	     before_open(AT_FDCWD, name, flags); return real(name, flags, mode))
OPEN_WRAPPER(open, open_fn, (const char *name, int flags, ...),
	     before_open(AT_FDCWD, name, flags); return real(name, flags, mode))
'''

# The shim comes after ASan's runtime in the library list: allowed.
SHIM_ENV = {'ASAN_OPTIONS': os.environ.get('ASAN_OPTIONS', '') +
            ':verify_asan_link_order=0'}


def build_shim(base):
    src = os.path.join(base, 'swap-shim.c')
    so = os.path.join(base, 'swap-shim.so')
    E.write_file(src, SHIM_C.encode())
    res = E.run(['cc', '-shared', '-fPIC', '-O1', '-o', so, src, '-ldl'])
    return so if res.rc == 0 else None


def extracts_whole(t, image, src, out, what):
    res = E.eroot('extract', image, out)
    if E.must(t, res, 'extract, %s' % what):
        E.same_manifest(t, E.manifest(src), E.manifest(out),
                        'extract, %s: everything is restored' % what)


def listing(path):
    return sorted(os.listdir(path))


def tree_hostile(src):
    """Directories and files a planted symlink could redirect."""
    for rel in ('a/inner', 'c/deep', 'z-ok'):
        os.makedirs(os.path.join(src, rel))
    for rel in ('a/inner/evil', 'a/evil2', 'b', 'c/deep/evil', 'z-ok/file'):
        E.write_file(os.path.join(src, rel), rel.encode())


def test_planted_symlinks(t, base, shim):
    src = os.path.join(base, 'hostile')
    tree_hostile(src)
    image = os.path.join(base, 'hostile.erofs')
    if not E.mkfs(t, image, src):
        return
    outside = os.path.join(base, 'outside')
    os.makedirs(outside)
    out = os.path.join(base, 'out-planted')
    env = dict(SHIM_ENV, LD_PRELOAD=shim, SWAP='mkdir:a,create:b,reopen:c',
               SWAP_TO=outside)
    res = E.eroot('extract', image, out, env=env)
    E.must(t, res, 'extract with symlinks planted in the target', (1,))
    lines = res.err_lines()
    t.check(listing(outside) == [], 'nothing is written outside the target',
            listing(outside))
    t.check(len(lines) == 3 and all(l.startswith('eroot extract: ') for l in lines),
            'one line per refused entry', res.describe())
    want = {'/a: mkdir: File exists (a symbolic link is in the way: not '
            'followed); its content is skipped',
            '/b: create: File exists',
            '/c: open: Not a directory (replaced by a symbolic link: not '
            'followed); its content is skipped'}
    got = {l.split(out, 1)[-1] for l in lines}
    t.check(got == want, 'the lines say what was refused and why', got)
    t.check(E.read_file(os.path.join(out, 'z-ok', 'file')) == b'z-ok/file',
            'the rest of the image is extracted')
    for name in ('a', 'b', 'c'):
        t.check(os.path.islink(os.path.join(out, name)), 'the planted /%s is '
                'left as it is' % name)
    # Sanity: the shim really plants (without it everything extracts).
    extracts_whole(t, image, src, os.path.join(base, 'out-unplanted'),
                   'the same image, target left alone')

    # DEST itself a symlink: refused, nothing written through it.
    link = os.path.join(base, 'dest-link')
    os.symlink(outside, link)
    res = E.eroot('extract', image, link)
    E.sane_failure(t, res, 'extract into a symlink', 1, command='extract')
    t.check(b'symbolic link' in res.err, 'the message says DEST is a '
            'symbolic link', res.describe())
    t.check(listing(outside) == [], 'nothing is written through DEST')


def test_as_nobody(t, base, shim):
    if not E.nobody_can_reach(base):
        print('note: uid %d cannot reach %s: permission cases not run'
              % (E.NOBODY, base))
        return
    src = os.path.join(base, 'nobody-src')
    for rel in ('d1/x/y', 'd2/z', 'ok', 'ro/inner/deep'):
        os.makedirs(os.path.join(src, rel))
    for rel in ('f', 'd1/x/y/file', 'd2/z/file', 'ok/file', 'ro/inner/deep/file'):
        E.write_file(os.path.join(src, rel), rel.encode())
    image = os.path.join(base, 'nobody.erofs')
    if not E.mkfs(t, image, src, '--all-root'):
        return
    os.chmod(image, 0o644)

    # A target nobody may not write to: each top entry refused once.
    closed = os.path.join(base, 'root-only')
    os.makedirs(closed)
    os.chmod(closed, 0o755)
    res = E.run(E.AS_NOBODY + [E.EROOT, 'extract', image, closed])
    E.must(t, res, 'extract as nobody into a directory of root', (1,))
    lines = res.err_lines()
    tops = [l for l in lines if '; its content is skipped' in l]
    t.check(len(tops) == 4, 'each top directory is reported once', res.describe())
    t.check(not any(closed + d in l for l in lines
                    for d in ('/d1/', '/d2/', '/ok/', '/ro/')),
            'nothing below a directory that was not made is tried',
            res.describe())
    t.check(listing(closed) == [], 'nothing was created')

    # A subtree turning read-only during the run: skipped, siblings go on.
    if not shim:
        return
    out = os.path.join(base, 'nobody-out')
    os.makedirs(out)
    os.chown(out, E.NOBODY, E.NOBODY)
    env = dict(SHIM_ENV, LD_PRELOAD=shim, SWAP='chmod:inner')
    res = E.run(E.AS_NOBODY + [E.EROOT, 'extract', image, out], env=env)
    E.sane_failure(t, res, 'extract as nobody, a subtree read-only', 1,
                   command='extract')
    t.check(res.err_lines() == ['eroot extract: %s/ro/inner: mkdir: Permission '
                                'denied; its content is skipped' % out],
            'the read-only subtree is reported once', res.describe())
    for rel in ('f', 'd1/x/y/file', 'd2/z/file', 'ok/file'):
        t.check(os.path.isfile(os.path.join(out, rel)), 'sibling %s is '
                'extracted' % rel)


def tree_privileged(src):
    os.makedirs(os.path.join(src, 'sgid-dir'))
    os.chmod(os.path.join(src, 'sgid-dir'), 0o2775)
    for name, mode in (('suid', 0o4755), ('sgid', 0o2755), ('plain', 0o755),
                       ('cap', 0o755), ('sgid-dir/file', 0o644)):
        path = os.path.join(src, name)
        E.write_file(path, name.encode())
        os.chmod(path, mode)
    # security.capability v2: effective, permitted CAP_NET_RAW (13)
    os.setxattr(os.path.join(src, 'cap'), 'security.capability',
                bytes.fromhex('01000002' '00200000' '00000000' '00000000' '00000000'))
    os.mknod(os.path.join(src, 'chr'), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.link(os.path.join(src, 'chr'), os.path.join(src, 'chr-link'))
    os.mknod(os.path.join(src, 'blk'), stat.S_IFBLK | 0o600, os.makedev(7, 200))
    os.mknod(os.path.join(src, 'whiteout'), stat.S_IFCHR | 0o600, os.makedev(0, 0))
    os.mkfifo(os.path.join(src, 'fifo'))
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(src, 'sock'))
    s.close()


def manifest_without(lines, names):
    return [l for l in lines if l.split(' ', 1)[0] not in names]


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_options(t, base):
    src = os.path.join(base, 'privileged')
    tree_privileged(src)
    image = os.path.join(base, 'privileged.erofs')
    if not E.mkfs(t, image, src):
        return
    extracts_whole(t, image, src, os.path.join(base, 'out-full'),
                   'without options')
    out = os.path.join(base, 'out-nodev')
    res = E.eroot('extract', '--no-devices', image, out)
    if E.must(t, res, 'extract --no-devices'):
        devices = {'chr', 'chr-link', 'blk', 'whiteout'}
        E.same_manifest(t, manifest_without(E.manifest(src), devices),
                        E.manifest(out), '--no-devices: all but the devices')
        t.check(not any(os.path.lexists(os.path.join(out, d)) for d in devices),
                '--no-devices: no device node', listing(out))
        t.check(stat.S_ISFIFO(os.lstat(os.path.join(out, 'fifo')).st_mode) and
                stat.S_ISSOCK(os.lstat(os.path.join(out, 'sock')).st_mode),
                '--no-devices: FIFOs and sockets are kept')
    out = os.path.join(base, 'out-nosetid')
    res = E.eroot('extract', '--no-setid', image, out)
    if E.must(t, res, 'extract --no-setid'):
        t.check(mode_of(os.path.join(out, 'suid')) == 0o755 and
                mode_of(os.path.join(out, 'sgid')) == 0o755,
                '--no-setid: set-user-ID and set-group-ID bits cleared',
                (oct(mode_of(os.path.join(out, 'suid'))),
                 oct(mode_of(os.path.join(out, 'sgid')))))
        t.check(mode_of(os.path.join(out, 'sgid-dir')) == 0o2775,
                '--no-setid: a directory keeps its set-group-ID')
        t.check('security.capability' not in os.listxattr(os.path.join(out, 'cap')),
                '--no-setid: no file capability')
        t.check(os.path.lexists(os.path.join(out, 'chr')),
                '--no-setid alone keeps devices')
        names = {'suid', 'sgid', 'cap'}
        E.same_manifest(t, manifest_without(E.manifest(src), names),
                        manifest_without(E.manifest(out), names),
                        '--no-setid: everything else as the source')


def test_ls_escapes(t, base):
    src = os.path.join(base, 'names')
    os.makedirs(src)
    names = [b'a b', b'c\nd', b'e\tf', b'g\\h', b'i\x01j', b'k\xc3\xa9l', b'm\x7f',
             b'\a\b\f\r\v', b'plain', b'q"r$~#']
    for n in names:
        E.write_file(os.path.join(os.fsencode(src), n), b'x')
    os.makedirs(os.path.join(os.fsencode(src), b'sub\ndir'))
    os.symlink(b'tar get\n\x02', os.path.join(os.fsencode(src), b'sub\ndir', b'l\tnk'))
    image = os.path.join(base, 'names.erofs')
    if not E.mkfs(t, image, src):
        return
    gnu = E.run(['ls', '-b', '-a', src], env={'LC_ALL': 'C'})
    res = E.eroot('ls', '-a', image)
    if E.must(t, res, 'eroot ls -a of odd names') and gnu.rc == 0:
        t.check(res.out == gnu.out, 'eroot ls escapes names as GNU ls -b',
                '%r\n%r' % (res.out, gnu.out))
    res = E.eroot('ls', '-R', image)
    if E.must(t, res, 'eroot ls -R of odd names'):
        lines = res.out.split(b'\n')[:-1]
        t.check(len(lines) == len(names) + 3, 'ls -R: one line per path',
                res.out)
        t.check(b'/sub\\ndir/l\\tnk' in lines, 'ls -R escapes whole paths',
                res.out)
    res = E.eroot('ls', '-l', image, '/sub\ndir')
    if E.must(t, res, 'eroot ls -l of a symlink'):
        t.check(res.out.endswith(b' l\\tnk -> tar\\ get\\n\\002\n') and
                res.out.count(b'\n') == 1, 'ls -l escapes the target',
                res.out)
    res = E.eroot('stat', image, '/sub\ndir/l\tnk')
    if E.must(t, res, 'eroot stat of an odd name'):
        t.check(b'  path: /sub\\ndir/l\\tnk\n' in res.out and
                b'target: tar\\ get\\n\\002\n' in res.out,
                'stat escapes the path and the target', res.out)


def main():
    E.require_root()
    t = E.Checker('extract-safe')
    base = E.scratch('extract-safe')
    shim = build_shim(base)
    if shim:
        test_planted_symlinks(t, base, shim)
    else:
        print('note: no C compiler: planted symlinks not tested')
    test_as_nobody(t, base, shim)
    test_options(t, base)
    test_ls_escapes(t, base)
    t.exit()


if __name__ == '__main__':
    main()
