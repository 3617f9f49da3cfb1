#!/usr/bin/python3
"""Print or compare manifests of directory trees.

    manifest.py DIR                 print the manifest of DIR
    manifest.py --compare A B       A and B are directories or manifest files;
                                    prints differing lines, exit 1 if any

One line per path, sorted bytewise by path ("." is the root):

    PATH type=T mode=0OOO uid=U gid=G mtime=S.NNNNNNNNN [size=N nlink=N
    link=FIRSTPATH] [sha256=HEX | target=TARGET | rdev=MAJ:MIN] xattrs=LIST

size, nlink and link (the first path, in sorted order, naming the same inode)
are given for everything but directories.  LIST is "name:hexvalue" items
joined by ",", sorted by name.  PATH, TARGET and xattr names are escaped: bytes
outside 0x21..0x7e and the bytes \\ = , : become \\xHH.  image-manifest.c prints
the same format from an image.
"""
import hashlib
import os
import stat
import sys

SAFE = frozenset(range(0x21, 0x7f)) - frozenset(b'\\=,:')

TYPES = ((stat.S_ISDIR, 'dir'), (stat.S_ISREG, 'reg'), (stat.S_ISLNK, 'lnk'),
         (stat.S_ISCHR, 'chr'), (stat.S_ISBLK, 'blk'), (stat.S_ISFIFO, 'fifo'),
         (stat.S_ISSOCK, 'sock'))


def escape(raw):
    return ''.join(chr(b) if b in SAFE else '\\x%02x' % b for b in raw)


def unescape(text):
    out, i = bytearray(), 0
    while i < len(text):
        if text[i] == '\\':
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(ord(text[i]))
            i += 1
    return bytes(out)


def type_name(mode):
    for test, name in TYPES:
        if test(mode):
            return name
    return 'unknown'


def sha256_file(path):
    h = hashlib.sha256()
    buf = bytearray(4 << 20)
    view = memoryview(buf)
    with open(path, 'rb', buffering=0) as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
    return h.hexdigest()


def xattr_list(path):
    items = []
    for name in os.listxattr(path, follow_symlinks=False):
        value = os.getxattr(path, name, follow_symlinks=False)
        items.append((os.fsencode(name), value))
    items.sort()
    return ','.join('%s:%s' % (escape(n), v.hex()) for n, v in items)


def walk(top):
    """Yield (relpath bytes, lstat) for every entry under top, top first."""
    top = os.fsencode(top)
    yield b'.', os.lstat(top)
    stack = [(top, b'')]
    while stack:
        absdir, reldir = stack.pop()
        with os.scandir(absdir) as it:
            for e in it:
                rel = reldir + e.name
                st = e.stat(follow_symlinks=False)
                yield rel, st
                if stat.S_ISDIR(st.st_mode):
                    stack.append((e.path, rel + b'/'))


def manifest_lines(top):
    top = os.fsencode(top)
    entries = sorted(walk(top), key=lambda e: e[0])
    first = {}
    for rel, st in entries:
        if not stat.S_ISDIR(st.st_mode):
            first.setdefault((st.st_dev, st.st_ino), rel)
    for rel, st in entries:
        path = top if rel == b'.' else os.path.join(top, rel)
        mode = st.st_mode
        sec, nsec = divmod(st.st_mtime_ns, 10**9)
        f = [escape(rel), 'type=' + type_name(mode),
             'mode=%04o' % stat.S_IMODE(mode), 'uid=%d' % st.st_uid,
             'gid=%d' % st.st_gid, 'mtime=%d.%09d' % (sec, nsec)]
        if not stat.S_ISDIR(mode):
            f += ['size=%d' % st.st_size, 'nlink=%d' % st.st_nlink,
                  'link=' + escape(first[(st.st_dev, st.st_ino)])]
        if stat.S_ISREG(mode):
            f.append('sha256=' + sha256_file(path))
        elif stat.S_ISLNK(mode):
            f.append('target=' + escape(os.readlink(path)))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            f.append('rdev=%d:%d' % (os.major(st.st_rdev), os.minor(st.st_rdev)))
        f.append('xattrs=' + xattr_list(path))
        yield ' '.join(f)


def manifest(top):
    """The manifest of directory @top as a list of lines (no newlines)."""
    return list(manifest_lines(top))


def load(arg):
    """A manifest from a directory or from a file holding one."""
    if os.path.isdir(arg):
        return manifest(arg)
    with open(arg, encoding='ascii') as f:
        return f.read().splitlines()


def diff(a, b, limit=20):
    """Lines describing how manifest @b differs from @a (at most @limit)."""
    da = {line.split(' ', 1)[0]: line for line in a}
    db = {line.split(' ', 1)[0]: line for line in b}
    out = []
    for path in sorted(set(da) | set(db), key=unescape):
        if da.get(path) != db.get(path):
            if path in da:
                out.append('- ' + da[path])
            if path in db:
                out.append('+ ' + db[path])
    if len(a) != len(da) or len(b) != len(db):
        out.append('! duplicate paths in a manifest')
    if len(out) > limit:
        out = out[:limit] + ['... and %d more differing lines' % (len(out) - limit)]
    return out


def main(argv):
    if len(argv) == 1 and not argv[0].startswith('-'):
        for line in manifest_lines(argv[0]):
            sys.stdout.write(line + '\n')
        return 0
    if len(argv) == 3 and argv[0] == '--compare':
        lines = diff(load(argv[1]), load(argv[2]))
        for line in lines:
            print(line)
        return 1 if lines else 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
