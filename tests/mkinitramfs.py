#!/usr/bin/python3
"""Build initramfs files the way the Linux kernel reads them (standard
library only, plus the zstd, lz4 and bzip2 command-line tools for those
methods).

    mkinitramfs.py OUT MEMBER...      MEMBER is DIR[:METHOD[:crc]]

Each MEMBER becomes one newc cpio archive (070701, or 070702 with ":crc")
of the tree DIR (paths without a leading "./", hard links as in newc: the
data on the last link), compressed with METHOD: none (default), gzip, xz,
lzma, zstd, lz4 (the legacy format of `lz4 -l`) or bzip2.  The members are
concatenated in order, each padded with zero bytes to a multiple of 4.

What the kernel expects (init/initramfs.c, Documentation/driver-api/
early-userspace/buffer-format.rst): a sequence of cpio archives, each ending
with TRAILER!!!, compressed or not, separated by any number of zero bytes;
an uncompressed archive must start at an offset that is a multiple of 4.
The legacy lz4 format has no end marker: the kernel's unlz4 stops at the end
of the buffer or at a zero chunk size, so a legacy lz4 member that is not
the last one is followed by 4 more zero bytes (lib/decompress_unlz4.c,
"correctly handle zero-padding around initrds").

Tests import it:  Entry, newc(), compress(), Initramfs.
"""
import gzip
import lzma
import os
import stat
import subprocess
import sys

METHODS = ('none', 'gzip', 'xz', 'lzma', 'zstd', 'lz4', 'bzip2')
TRAILER = b'TRAILER!!!'


class Entry:
    """One cpio entry.  @name is bytes or str, relative ("a/b", no "./").
    Regular files and symlinks carry @data (the symlink target)."""

    def __init__(self, name, mode, data=b'', uid=0, gid=0, mtime=0, nlink=1,
                 ino=None, rdev=(0, 0), dev=(0, 0)):
        self.name = os.fsencode(name)
        self.mode, self.uid, self.gid, self.mtime = mode, uid, gid, mtime
        self.data = os.fsencode(data) if isinstance(data, str) else data
        self.nlink, self.ino, self.rdev, self.dev = nlink, ino, rdev, dev


def reg(name, data=b'', perm=0o644, **kw):
    return Entry(name, stat.S_IFREG | perm, data, **kw)


def dirent(name, perm=0o755, **kw):
    return Entry(name, stat.S_IFDIR | perm, nlink=kw.pop('nlink', 2), **kw)


def symlink(name, target, **kw):
    return Entry(name, stat.S_IFLNK | 0o777, target, **kw)


def node(name, kind, major, minor, perm=0o600, **kw):
    return Entry(name, kind | perm, rdev=(major, minor), **kw)


def _pad4(n):
    return (4 - n % 4) % 4


def _header(magic, e, ino, size, check):
    name = e.name + b'\0'
    fields = (ino, e.mode, e.uid, e.gid, e.nlink, e.mtime, size, e.dev[0],
              e.dev[1], e.rdev[0], e.rdev[1], len(name), check)
    for v in fields:
        if not 0 <= v <= 0xFFFFFFFF:
            raise ValueError('%r: a newc field out of range: %d' % (e.name, v))
    head = magic + b''.join(b'%08X' % v for v in fields) + name
    return head + bytes(_pad4(len(head)))


def newc(entries, crc=False):
    """The bytes of one newc archive (070701; 070702 with @crc) of
    @entries in order, with the trailer, padded to a multiple of 4.
    Entries without an inode number get their own; give hard links the
    same @ino and @nlink (the data belongs on one of them, the last by
    custom)."""
    magic = b'070702' if crc else b'070701'
    out = bytearray()
    next_ino = 1000
    for e in entries:
        ino = e.ino
        if ino is None:
            next_ino += 1
            ino = next_ino
        check = sum(e.data) & 0xFFFFFFFF if crc else 0
        out += _header(magic, e, ino, len(e.data), check)
        out += e.data + bytes(_pad4(len(e.data)))
    out += _header(magic, Entry(TRAILER, 0), 0, 0, 0)
    return bytes(out)


def _tool(cmd, data):
    p = subprocess.run(cmd, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        raise RuntimeError('%s failed: %s' % (
            ' '.join(cmd), p.stderr.decode(errors='replace')))
    return p.stdout


def compress(data, method):
    """@data compressed as the kernel's decompressors read it."""
    if method == 'none':
        return data
    if method == 'gzip':
        return gzip.compress(data, compresslevel=6, mtime=0)
    if method == 'xz':
        # The kernel's xz decoder checks CRC32 (scripts/xz_wrap.sh).
        return lzma.compress(data, format=lzma.FORMAT_XZ,
                             check=lzma.CHECK_CRC32)
    if method == 'lzma':
        return lzma.compress(data, format=lzma.FORMAT_ALONE)
    if method == 'zstd':
        return _tool(['zstd', '-q', '-c', '-19'], data)
    if method == 'lz4':
        return _tool(['lz4', '-q', '-l', '-c'], data)
    if method == 'bzip2':
        return _tool(['bzip2', '-c', '-9'], data)
    raise ValueError('unknown method %r' % method)


class Member:
    def __init__(self, cpio, method, offset, length):
        self.cpio, self.method = cpio, method
        self.offset, self.length = offset, length   # in the initramfs


class Initramfs:
    """Members appended in order; bytes() gives the file."""

    def __init__(self):
        self.data = bytearray()
        self.members = []

    def add(self, cpio, method='none', extra_zeros=0):
        """Append archive @cpio (uncompressed newc bytes) compressed with
        @method, then zero padding to 4 bytes plus @extra_zeros."""
        body = compress(cpio, method)
        self.members.append(Member(cpio, method, len(self.data), len(body)))
        self.data += body
        self.data += bytes(_pad4(len(self.data)) + extra_zeros)
        if method == 'lz4':
            self.data += bytes(4)     # see the module's docstring
        return self.members[-1]

    def early_length(self):
        """Bytes of the leading uncompressed part: up to the first
        compressed member (the whole file if there is none)."""
        for m in self.members:
            if m.method != 'none':
                return m.offset
        return len(self.data)

    def __bytes__(self):
        return bytes(self.data)


def tree_entries(top):
    """Entries of directory @top, parents first, hard links sharing an
    inode number with the data on the last link."""
    top = os.fsencode(top)
    found = []
    for dirpath, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(dirpath, name)
            found.append((os.path.relpath(path, top), os.lstat(path)))
    links = {}
    for rel, st in found:
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            links.setdefault((st.st_dev, st.st_ino), []).append(rel)
    root = os.lstat(top)
    entries = [Entry(b'.', root.st_mode, uid=root.st_uid, gid=root.st_gid,
                     mtime=max(0, int(root.st_mtime)), nlink=root.st_nlink)]
    inos = {}
    for rel, st in found:
        path = os.path.join(top, rel)
        data = b''
        key = (st.st_dev, st.st_ino)
        group = links.get(key)
        if stat.S_ISREG(st.st_mode) and (not group or group[-1] == rel):
            with open(path, 'rb') as f:
                data = f.read()
        elif stat.S_ISLNK(st.st_mode):
            data = os.readlink(path)
        rdev = (0, 0)
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            rdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
        ino = inos.setdefault(key, len(inos) + 1)
        entries.append(Entry(rel, st.st_mode, data, uid=st.st_uid,
                             gid=st.st_gid, mtime=max(0, int(st.st_mtime)),
                             nlink=st.st_nlink if group else 1, ino=ino,
                             rdev=rdev))
    return entries


def main(argv):
    if len(argv) < 2 or argv[0].startswith('-'):
        sys.stderr.write(__doc__)
        return 2
    out = Initramfs()
    for spec in argv[1:]:
        parts = spec.split(':')
        method = parts[1] if len(parts) > 1 and parts[1] else 'none'
        if method not in METHODS:
            sys.stderr.write('mkinitramfs.py: unknown method %s\n' % method)
            return 2
        out.add(newc(tree_entries(parts[0]), crc='crc' in parts[2:]), method)
    with open(argv[0], 'wb') as f:
        f.write(bytes(out))
    print('early archives: %d bytes' % out.early_length())
    return 0


def newc_entries(data):
    """[(archive index, offset, name, header fields, data offset, data)] of
    a file of newc archives.  Zero padding may stand before any header, as
    the kernel reads it: eroot initrd pads so that images start on a page."""
    out, pos, archive = [], 0, 0
    while True:
        while pos < len(data) and data[pos:pos + 4] == bytes(4):
            pos += 4
        if pos >= len(data) or not any(data[pos:]):
            return out
        head = data[pos:pos + 110]
        if len(head) < 110 or head[:6] not in (b'070701', b'070702'):
            raise ValueError('no newc header at offset %d' % pos)
        fields = [int(head[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        name = data[pos + 110:pos + 110 + namesize].rstrip(b'\0')
        at = (pos + 110 + namesize + 3) & ~3
        end = (at + filesize + 3) & ~3
        if at + filesize > len(data):
            raise ValueError('%r at %d runs past the end' % (name, pos))
        if name == b'TRAILER!!!':
            archive += 1
        else:
            out.append((archive, pos, name, fields, at, data[at:at + filesize]))
        pos = end


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
