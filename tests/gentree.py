#!/usr/bin/python3
"""Generate a source tree for eroot tests (run as root).

    gentree.py DEST --kind edge|random --seed N [--big]

"edge" is a fixed catalogue of awkward cases (its file contents depend on the
seed); "random" mixes the same ingredients at random.  The same arguments
always give the same tree (names, contents, metadata).  --big adds a
directory with 100000 entries, a 4 GiB sparse file and a file with 65540 hard
links (needs a filesystem allowing that many links, e.g. tmpfs; ext4 stops at
65000).

Metadata is applied after everything exists, in an order that keeps it: owner
first (chown clears setuid bits and capabilities), then xattrs, then the mode
(which also rewrites the ACL mask), and mtimes last, contents before their
directory.
"""
import argparse
import os
import random
import socket
import stat
import struct
import sys

BLOCK_SIZES = (512, 1024, 2048, 4096)
DEFAULT_MTIME = 1_600_000_000_123_456_789
OWNERS = (0, 1000, 65535, 65536, 4_000_000_000)

# POSIX ACL xattr format (include/uapi/linux/posix_acl_xattr.h).
ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ = 0x01, 0x02, 0x04
ACL_GROUP, ACL_MASK, ACL_OTHER = 0x08, 0x10, 0x20
ACL_UNDEFINED_ID = 0xFFFFFFFF


def acl_value(user_obj, group_obj, other, users=(), groups=()):
    """Raw system.posix_acl_* value: version 2, entries sorted by tag, id."""
    ents = [(ACL_USER_OBJ, user_obj, ACL_UNDEFINED_ID),
            (ACL_GROUP_OBJ, group_obj, ACL_UNDEFINED_ID),
            (ACL_OTHER, other, ACL_UNDEFINED_ID)]
    ents += [(ACL_USER, perm, uid) for uid, perm in users]
    ents += [(ACL_GROUP, perm, gid) for gid, perm in groups]
    if users or groups:
        ents.append((ACL_MASK, 7, ACL_UNDEFINED_ID))
    ents.sort(key=lambda e: (e[0], e[2]))
    return struct.pack('<I', 2) + b''.join(
        struct.pack('<HHI', tag, perm, ident) for tag, perm, ident in ents)


def capability_value(permitted, inheritable=0, effective=True):
    """security.capability, VFS_CAP_REVISION_2: magic_etc + 2 x (perm, inh)."""
    magic = 0x02000000 | (1 if effective else 0)
    return struct.pack('<IIIII', magic, permitted & 0xFFFFFFFF,
                       inheritable & 0xFFFFFFFF, permitted >> 32,
                       inheritable >> 32)


SELINUX_CTX = b'system_u:object_r:usr_t:s0\0'


class Meta:
    def __init__(self, mode, uid=0, gid=0, mtime=DEFAULT_MTIME, xattrs=None):
        self.mode, self.uid, self.gid, self.mtime = mode, uid, gid, mtime
        self.xattrs = list(xattrs or [])


class Tree:
    """Creates entries now and records their metadata for finish()."""

    def __init__(self, root, rng):
        self.root = os.fsencode(root)
        self.rng = rng
        self.entries = []          # (relpath, is_symlink, Meta), one per inode
        self.regular = []          # relpaths of regular files (hardlink sources)

    def abs(self, rel):
        rel = os.fsencode(rel)
        return self.root if rel == b'.' else os.path.join(self.root, rel)

    def _record(self, rel, meta, symlink=False):
        self.entries.append((os.fsencode(rel), symlink, meta))

    def root_meta(self, **kw):
        self._record(b'.', Meta(kw.pop('mode', 0o755), **kw))

    def mkdir(self, rel, mode=0o755, **kw):
        os.mkdir(self.abs(rel))
        self._record(rel, Meta(mode, **kw))

    def file(self, rel, data=b'', mode=0o644, **kw):
        with open(self.abs(rel), 'xb') as f:
            f.write(data)
        self._record(rel, Meta(mode, **kw))
        self.regular.append(os.fsencode(rel))

    def sparse(self, rel, size, chunks, mode=0o644, **kw):
        """A file of @size with data only at the given (offset, bytes)."""
        with open(self.abs(rel), 'xb') as f:
            for off, data in chunks:
                f.seek(off)
                f.write(data)
            f.truncate(size)
        self._record(rel, Meta(mode, **kw))

    def symlink(self, rel, target, **kw):
        os.symlink(os.fsencode(target), self.abs(rel))
        self._record(rel, Meta(0o777, **kw), symlink=True)

    def node(self, rel, kind, major=0, minor=0, mode=0o644, **kw):
        os.mknod(self.abs(rel), kind | 0o600, os.makedev(major, minor))
        self._record(rel, Meta(mode, **kw))

    def fifo(self, rel, mode=0o644, **kw):
        os.mkfifo(self.abs(rel), 0o600)
        self._record(rel, Meta(mode, **kw))

    def sock(self, rel, mode=0o755, **kw):
        """A real bound unix socket; bound under a short name (sun_path is
        108 bytes) inside its directory, then renamed."""
        path = self.abs(rel)
        parent = os.path.dirname(path) or b'.'
        tmp = b'.gentree-sock'
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        cwd = os.open('.', os.O_RDONLY)
        try:
            os.chdir(parent)
            s.bind(tmp)
            os.rename(tmp, os.path.basename(path))
        finally:
            os.fchdir(cwd)
            os.close(cwd)
            s.close()
        self._record(rel, Meta(mode, **kw))

    def link(self, existing, rel):
        os.link(self.abs(existing), self.abs(rel), follow_symlinks=False)

    def finish(self):
        for rel, symlink, m in self.entries:
            path = self.abs(rel)
            os.chown(path, m.uid, m.gid, follow_symlinks=False)
            for name, value in m.xattrs:
                os.setxattr(path, name, value, follow_symlinks=False)
            if not symlink:
                os.chmod(path, m.mode)
        # Deepest first, so a directory's mtime is set after its contents.
        for rel, _, m in sorted(self.entries, key=lambda e: -e[0].count(b'/')
                                if e[0] != b'.' else 1):
            os.utime(self.abs(rel), ns=(m.mtime, m.mtime),
                     follow_symlinks=False)


def repetitive(n, unit=b'eroot repetitive data 0123456789\n'):
    return (unit * (n // len(unit) + 1))[:n]


# ---------------------------------------------------------------- edge tree

def edge_files(t):
    rng = t.rng
    t.mkdir('files')
    t.file('files/empty')
    t.file('files/one', b'\x5a')
    for bs in BLOCK_SIZES:
        for delta, tag in ((-1, 'minus1'), (0, 'exact'), (1, 'plus1')):
            t.file('files/bs%d-%s' % (bs, tag), rng.randbytes(bs + delta))
        t.file('files/bs%d-x3-tail100' % bs, rng.randbytes(3 * bs + 100))
    t.file('files/random-3m', rng.randbytes(3 * 1024 * 1024 + 123))
    t.file('files/repetitive-2m', repetitive(2 * 1024 * 1024 + 7))
    t.file('files/zeros-128k', bytes(128 * 1024))
    t.sparse('files/sparse-1m', 1024 * 1024 + 5,
             [(0, b'head'), (512 * 1024, rng.randbytes(5000)),
              (1024 * 1024, b'tail!')])
    t.sparse('files/sparse-hole-only', 65536, [])
    for i in range(8):
        n = rng.choice((rng.randrange(1, 600), rng.randrange(1, 70000)))
        t.file('files/rand-%d' % i, rng.randbytes(n))


def edge_dirs(t):
    t.mkdir('dirs')
    t.mkdir('dirs/empty')
    t.mkdir('dirs/only-empty-child')
    t.mkdir('dirs/only-empty-child/child')
    deep = 'dirs/deep'
    t.mkdir(deep)
    for i in range(12):
        deep += '/d%d' % i
        t.mkdir(deep)
    t.file(deep + '/bottom', b'bottom\n')
    # Enough entries of mixed name lengths to span several directory blocks
    # at every block size.
    t.mkdir('dirs/wide')
    for i in range(700):
        t.file('dirs/wide/%s%04d' % ('w' * (i % 37), i), b'%d' % i)


def edge_symlinks(t):
    t.mkdir('links')
    t.symlink('links/short', 'a')
    t.symlink('links/abs', '/etc/passwd')
    t.symlink('links/dangling', 'does/not/exist')
    t.symlink('links/up', '../files/one')
    t.symlink('links/self', 'self')
    t.symlink('links/odd', b'\x01\xff odd\ntarget \xe2\x82\xac')
    for n in (511, 512, 513, 1023, 1024, 2048, 4095):
        target = ('seg/' * (n // 4 + 1))[:n - 1] + 'X'
        t.symlink('links/len%d' % n, target)
    t.symlink('links/owned', 'x', uid=1000, gid=65536,
              mtime=-1_234_567_891)
    # For path resolution inside an image (eroot cat/stat follow these).
    t.symlink('links/to-dir', '../dirs/deep/d0')
    t.symlink('links/abs-dir', '/files')
    t.symlink('links/chain', 'up')
    t.symlink('links/escape', '../../../../files/one')
    t.symlink('links/loop-a', 'loop-b')
    t.symlink('links/loop-b', 'loop-a')


def edge_specials(t):
    t.mkdir('devs')
    t.node('devs/chr-1-3', stat.S_IFCHR, 1, 3, mode=0o666)
    t.node('devs/blk-7-0', stat.S_IFBLK, 7, 0, mode=0o660, gid=6)
    t.node('devs/chr-259-1048575', stat.S_IFCHR, 259, 1048575)
    t.node('devs/blk-259-1048575', stat.S_IFBLK, 259, 1048575)
    t.node('devs/chr-4095-1048575', stat.S_IFCHR, 4095, 1048575)
    t.node('devs/chr-0-0', stat.S_IFCHR, 0, 0, mode=0)
    t.node('devs/blk-255-255', stat.S_IFBLK, 255, 255)
    t.node('devs/chr-256-0', stat.S_IFCHR, 256, 0)
    t.fifo('devs/fifo', mode=0o620)
    t.fifo('devs/fifo-odd', mode=0o4711, uid=65536)
    t.sock('devs/socket')
    t.sock('devs/socket-with-a-name-well-beyond-the-sun-path-limit-' + 'x' * 80)


def edge_hardlinks(t):
    rng = t.rng
    t.mkdir('hard')
    t.mkdir('hard/a')
    t.mkdir('hard/b')
    t.mkdir('hard/b/c')
    t.file('hard/pair', rng.randbytes(3000))
    t.link('hard/pair', 'hard/a/pair-2')
    t.file('hard/a/triple', rng.randbytes(5000), mode=0o4755, uid=1000)
    t.link('hard/a/triple', 'hard/b/triple-2')
    t.link('hard/a/triple', 'hard/b/c/triple-3')
    t.file('hard/five', b'five\n', xattrs=[('user.hl', b'shared inode')])
    for i, d in enumerate(('hard/a', 'hard/b', 'hard/b/c', 'hard')):
        t.link('hard/five', '%s/five-%d' % (d, i))
    t.file('hard/empty')
    t.link('hard/empty', 'hard/b/empty-2')
    t.symlink('hard/symlink', 'target-of-a-hardlinked-symlink')
    t.link('hard/symlink', 'hard/a/symlink-2')
    t.fifo('hard/fifo')
    t.link('hard/fifo', 'hard/b/fifo-2')
    t.node('hard/dev', stat.S_IFCHR, 10, 200)
    t.link('hard/dev', 'hard/a/dev-2')
    t.file('hard/acl', b'acl\n', mode=0o640, xattrs=[
        ('system.posix_acl_access',
         acl_value(6, 4, 0, users=[(1000, 6)], groups=[(65536, 4)]))])
    t.link('hard/acl', 'hard/b/c/acl-2')


def edge_modes(t):
    t.mkdir('modes')
    for m in (0, 0o777, 0o4755, 0o2755, 0o6755, 0o7777, 0o1777, 0o1, 0o4000,
              0o2010, 0o1644):
        t.file('modes/f%04o' % m, b'm', mode=m)
    for m in (0o1777, 0, 0o2775, 0o7777, 0o700):
        t.mkdir('modes/d%04o' % m, mode=m)
    t.file('modes/d0700/inside', b'inside', mode=0o600)


def edge_owners(t):
    t.mkdir('owners')
    for i, uid in enumerate(OWNERS):
        gid = OWNERS[(i + 2) % len(OWNERS)]
        t.file('owners/u%d' % uid, b'o', uid=uid, gid=gid)
        t.mkdir('owners/d%d' % uid, uid=uid, gid=uid)
        t.symlink('owners/l%d' % uid, 'u%d' % uid, uid=uid, gid=gid)
    t.node('owners/dev-65536', stat.S_IFBLK, 8, 1, uid=65536, gid=4_000_000_000)


def edge_times(t):
    t.mkdir('times', mtime=-86_400 * 365 * 10 * 10**9 + 7)
    cases = {
        'zero': 0,
        'minus-1ns': -1,
        'minus-1.5s': -1_500_000_000,
        '1901': -2**31 * 10**9,
        '1969-ns': -86_400 * 10**9 + 999_999_999,
        '2038-before': (2**31 - 1) * 10**9 + 999_999_999,
        '2038-after': 2**31 * 10**9,
        '2106-after': (2**32 + 5) * 10**9 + 1,
        '2200': 7_258_118_400 * 10**9 + 500_000_000,
        'ns': 1_700_000_000 * 10**9 + 1,
    }
    for name, ns in cases.items():
        t.file('times/' + name, name.encode(), mtime=ns)
    t.symlink('times/link-2039', 'zero', mtime=2_200_000_000 * 10**9 + 3)
    t.node('times/dev-1950', stat.S_IFCHR, 1, 5, mtime=-631_152_000 * 10**9)
    t.mkdir('times/dir-2100', mtime=4_102_444_800 * 10**9 + 999)
    t.fifo('times/dir-2100/fifo-1960', mtime=-315_619_200 * 10**9 + 42)


def edge_names(t):
    t.mkdir('names')
    names = [b'with space', b' leading space', b'trailing space ',
             b'new\nline', b'\x01\x02ctl', b'\xff\xfe\x80', b'tab\there',
             'utf8-é-日本語-🙂'.encode(), b'-leading-dash', b'--', b'-',
             b'a=b,c:d', b'back\\slash', b'quote\'"', b'*glob?[x]',
             b'.hidden', b'..dots', b'...', b'\x7f', b'\x1b[31mred',
             b'a' * 255, 'é'.encode() * 127 + b'x']
    for n in names:
        t.file(b'names/' + n, n)
    t.mkdir(b'names/' + b'D' * 255)
    t.file(b'names/' + b'D' * 255 + b'/' + b'f' * 255, b'deep long')
    t.mkdir(b'names/dir\nwith\xffodd')
    t.symlink(b'names/dir\nwith\xffodd/\x01link', b'../\xff\xfe\x80')


def edge_xattrs(t):
    rng = t.rng
    t.mkdir('xattrs', xattrs=[('user.dir', b'on a directory'),
                              ('trusted.overlay.opaque', b'y')])
    t.file('xattrs/empty-value', b'x', xattrs=[('user.empty', b'')])
    t.file('xattrs/many', b'x', xattrs=[
        ('user.k%02d' % i, rng.randbytes(i * 7)) for i in range(30)])
    # ext4 keeps ~4000 bytes of xattrs per inode (one block plus the inode).
    t.file('xattrs/big-value', b'x',
           xattrs=[('user.big', rng.randbytes(3900))])
    t.file('xattrs/long-name', b'x',
           xattrs=[('user.' + 'n' * 250, b'long name')])
    t.file('xattrs/binary', b'x', xattrs=[
        ('user.bin', b'\0\xff\0\x01' * 20), ('user.nul', b'\0')])
    t.file('xattrs/trusted', b'x', xattrs=[('trusted.t1', b'1'),
                                           ('trusted.t2', b'two')])
    t.file('xattrs/caps', b'#!/bin/sh\n', mode=0o755, xattrs=[
        ('security.capability', capability_value(1 << 10 | 1 << 13)),
        ('security.selinux', b'system_u:object_r:bin_t:s0\0')])
    t.file('xattrs/caps-high', b'x', mode=0o750, uid=1000, xattrs=[
        ('security.capability', capability_value(1 << 38 | 1 << 21, 1 << 5,
                                                 effective=False))])
    t.file('xattrs/acl', b'x', mode=0o664, xattrs=[
        ('system.posix_acl_access',
         acl_value(6, 6, 4, users=[(0, 7), (1000, 6), (65536, 4)],
                   groups=[(100, 5), (4_000_000_000, 1)]))])
    t.mkdir('xattrs/default-acl', mode=0o2775, xattrs=[
        ('system.posix_acl_access',
         acl_value(7, 5, 5, users=[(1000, 7)])),
        ('system.posix_acl_default',
         acl_value(7, 5, 0, users=[(1000, 7)], groups=[(1000, 5)]))])
    t.file('xattrs/default-acl/child', b'x', xattrs=[
        ('user.child', b'c'), ('security.selinux', SELINUX_CTX)])
    t.mkdir('xattrs/only-default-acl', xattrs=[
        ('system.posix_acl_default', acl_value(7, 0, 0))])
    # The same pairs on many inodes: candidates for the shared xattr area.
    for i in range(12):
        t.file('xattrs/shared-%02d' % i, b'%d' % i, xattrs=[
            ('user.shared', b'the same value everywhere'),
            ('security.selinux', SELINUX_CTX),
            ('user.own', b'%d' % i)])
    t.symlink('xattrs/symlink', 'shared-00', xattrs=[
        ('trusted.sym', b'on a symlink'), ('security.selinux', SELINUX_CTX)])
    t.fifo('xattrs/fifo', xattrs=[('trusted.fifo', b'f')])
    t.node('xattrs/dev', stat.S_IFBLK, 1, 1,
           xattrs=[('security.selinux', SELINUX_CTX)])
    t.file('xattrs/mixed-sizes', b'x', xattrs=[
        ('user.v%d' % n, rng.randbytes(n)) for n in (1, 2, 3, 4, 5, 255, 256,
                                                    257, 1000)])


def build_edge(t):
    t.root_meta(mtime=1_500_000_000_987_654_321,
                xattrs=[('user.root', b'root xattr'),
                        ('security.selinux', SELINUX_CTX)])
    edge_files(t)
    edge_dirs(t)
    edge_symlinks(t)
    edge_specials(t)
    edge_hardlinks(t)
    edge_modes(t)
    edge_owners(t)
    edge_times(t)
    edge_names(t)
    edge_xattrs(t)


# -------------------------------------------------------------- random tree

NAME_POOL = (list(b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
                  b'._-') * 4 + list(b' \n\t\x01\x7f\xff\x80=,:\\*?[]\'"'))
MODE_POOL = (0o644, 0o600, 0o755, 0o444, 0, 0o777, 0o4755, 0o2755, 0o1777,
             0o7777, 0o640, 0o711)
XATTR_NAMES = ('user.a', 'user.b', 'user.common', 'trusted.t', 'user.long-' +
               'q' * 100, 'security.selinux')
XATTR_VALUES = (b'', b'v', b'common value', SELINUX_CTX, bytes(range(256)))


def random_name(rng, taken):
    while True:
        n = rng.choice((rng.randrange(1, 12), rng.randrange(1, 40),
                        rng.randrange(1, 256)))
        name = bytes(rng.choice(NAME_POOL) for _ in range(n))
        if rng.random() < 0.1:
            name = ('ü-' + name.decode('latin-1')[:100]).encode()
        if name not in (b'.', b'..') and name not in taken:
            taken.add(name)
            return name


def random_mtime(rng):
    r = rng.random()
    if r < 0.1:
        return rng.randrange(-2**31, 0) * 10**9 + rng.randrange(10**9)
    if r < 0.2:
        return rng.randrange(2**31, 7 * 10**9) * 10**9 + rng.randrange(10**9)
    if r < 0.3:
        return rng.randrange(0, 2**31) * 10**9
    return rng.randrange(10**9, 2 * 10**9) * 10**9 + rng.randrange(10**9)


def random_xattrs(rng, kind):
    xs = {}
    if rng.random() < 0.35:
        for _ in range(rng.randrange(1, 5)):
            name = rng.choice(XATTR_NAMES)
            if name.startswith('user.') and kind not in ('file', 'dir'):
                continue
            xs[name] = (rng.choice(XATTR_VALUES) if rng.random() < 0.7
                        else rng.randbytes(rng.randrange(0, 300)))
    if kind == 'file' and rng.random() < 0.08:
        xs['system.posix_acl_access'] = acl_value(
            6, 4, 4, users=[(rng.choice(OWNERS), 6)])
    if kind == 'dir' and rng.random() < 0.1:
        xs['system.posix_acl_default'] = acl_value(
            7, 5, 5, groups=[(rng.choice(OWNERS), 7)])
    if kind == 'file' and rng.random() < 0.05:
        xs['security.capability'] = capability_value(rng.getrandbits(40))
    return list(xs.items())


def random_meta(rng, kind):
    return dict(uid=rng.choice(OWNERS), gid=rng.choice(OWNERS),
                mtime=random_mtime(rng), xattrs=random_xattrs(rng, kind))


def random_size(rng):
    r = rng.random()
    if r < 0.15:
        return rng.randrange(0, 3)
    if r < 0.45:
        return rng.choice(BLOCK_SIZES) * rng.randrange(1, 4) + rng.choice((-1, 0, 1))
    if r < 0.95:
        return rng.randrange(0, 40000)
    return rng.randrange(100000, 1500000)


def random_content(rng, n):
    r = rng.random()
    if r < 0.5:
        return rng.randbytes(n)
    if r < 0.8:
        return repetitive(n, rng.randbytes(rng.randrange(1, 50)))
    return bytes(n)


def build_random(t, count=450):
    rng = t.rng
    t.root_meta(**random_meta(rng, 'dir'))
    dirs = [b'.']
    taken = {b'.': set()}
    kinds = ('file',) * 45 + ('dir',) * 12 + ('symlink',) * 10 + \
        ('hardlink',) * 8 + ('chr', 'blk', 'fifo', 'fifo', 'sock')
    for _ in range(count):
        parent = rng.choice(dirs)
        name = random_name(rng, taken[parent])
        rel = name if parent == b'.' else parent + b'/' + name
        kind = rng.choice(kinds)
        if kind == 'hardlink' and t.regular:
            t.link(rng.choice(t.regular), rel)
            continue
        if kind == 'hardlink':
            kind = 'file'
        meta = random_meta(rng, kind)
        if kind == 'file':
            t.file(rel, random_content(rng, random_size(rng)),
                   mode=rng.choice(MODE_POOL), **meta)
        elif kind == 'dir':
            t.mkdir(rel, mode=rng.choice(MODE_POOL), **meta)
            dirs.append(rel)
            taken[rel] = set()
        elif kind == 'symlink':
            n = rng.choice((rng.randrange(1, 30), rng.randrange(1, 4096)))
            target = bytes(rng.choice(NAME_POOL + [ord('/')]) for _ in range(n))
            t.symlink(rel, target, **meta)
        elif kind in ('chr', 'blk'):
            t.node(rel, stat.S_IFCHR if kind == 'chr' else stat.S_IFBLK,
                   rng.randrange(0, 4096), rng.randrange(0, 1 << 20),
                   mode=rng.choice(MODE_POOL), **meta)
        elif kind == 'fifo':
            t.fifo(rel, mode=rng.choice(MODE_POOL), **meta)
        else:
            t.sock(rel, mode=rng.choice(MODE_POOL), **meta)


# ----------------------------------------------------------------- big part

BIG_SPARSE_SIZE = 4 * 1024**3 + 4097
BIG_DIR_ENTRIES = 100000
BIG_NLINK = 65540


def build_big(t):
    rng = t.rng
    t.mkdir('big')
    t.mkdir('big/many')
    for i in range(BIG_DIR_ENTRIES):
        name = 'e%d' % i if i % 1000 else 'long-%d-' % i + 'L' * 200
        fd = os.open(t.abs('big/many/' + name), os.O_CREAT | os.O_EXCL |
                     os.O_WRONLY, 0o644)
        os.close(fd)
        t._record('big/many/' + name, Meta(0o644, mtime=DEFAULT_MTIME + i))
    t.sparse('big/sparse-4g', BIG_SPARSE_SIZE,
             [(0, rng.randbytes(5000)),
              (2 * 1024**3 + 123, rng.randbytes(10000)),
              (BIG_SPARSE_SIZE - 4097, rng.randbytes(4097))])
    t.mkdir('big/nlink')
    t.file('big/nlink/f', b'many links\n')
    for i in range(1, BIG_NLINK):
        t.link('big/nlink/f', 'big/nlink/l%05d' % i)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('dest')
    ap.add_argument('--kind', choices=('edge', 'random'), required=True)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--big', action='store_true')
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('gentree.py: must run as root (owners, devices, xattrs)')
    os.makedirs(args.dest, exist_ok=True)
    if os.listdir(args.dest):
        sys.exit('gentree.py: %s is not empty' % args.dest)
    os.umask(0)
    t = Tree(args.dest, random.Random('%s-%d' % (args.kind, args.seed)))
    if args.kind == 'edge':
        build_edge(t)
    else:
        build_random(t)
    if args.big:
        build_big(t)
    t.finish()


if __name__ == '__main__':
    main()
