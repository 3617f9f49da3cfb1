#!/usr/bin/python3
"""-E fragments as a packer (issue 12): files no larger than a pcluster go
whole into the packed inode, larger ones their final extent; an identical
piece is stored once; the pieces are sorted by name before the packed inode
is compressed.

A tree of small files of many kinds, identical small files, files of
exactly -C - 1, -C and -C + 1 bytes (text and random), empty files and
large files is built with lz4hc, zstd, lzma and deflate under fragments
(with ztailpacking and -C 131072, at 1 KiB blocks, with dedupe).  Each
image must be the same with 1 and 3 workers, mount in the kernel and show
the tree, pass eroot fsck and the reference fsck.erofs (Debian sid's
erofs-utils, tests/fixtures/reference-mkfs) with --extract giving the same
file contents; and its inodes must show the layout: small files whole in
the packed inode (the 63-bit offset form), the identical ones at one
offset, the -C + 1 random file with a final-extent fragment, the packed
inode smaller than the small files together.
"""
import hashlib
import os
import random
import shutil
import struct

import eroottest as E
import test_reference as R

ADVISE_FRAGMENT = 0x0020   # Z_EROFS_ADVISE_FRAGMENT_PCLUSTER
SAME_COPIES = 40
SAME_SIZE = 3000

# name, options, pcluster bytes
CASES = (
    ('lz4hc', ['-z', 'lz4hc', '-E', 'fragments'], 4096),
    ('lz4hc-C128K-ztail', ['-z', 'lz4hc,12', '-C', '131072', '-E', 'ztailpacking,fragments'],
     131072),
    ('zstd-C128K-ztail', ['-z', 'zstd', '-C', '131072', '-E', 'ztailpacking,fragments'],
     131072),
    ('lzma-C128K-ztail', ['-z', 'lzma', '-C', '131072', '-E', 'ztailpacking,fragments'],
     131072),
    ('deflate-b1024-dedupe', ['-b', '1024', '-z', 'deflate', '-C', '8192',
                              '-E', 'fragments,dedupe'], 8192),
)


def make_tree(tree):
    rng = random.Random(12)
    words = [''.join(rng.choice('etaoinshrdlucm') for _ in range(rng.randint(2, 9)))
             for _ in range(400)]

    def text(n):
        out = ' '.join(rng.choice(words) for _ in range(n // 3 + 2)).encode()
        return out[:n]

    small = os.path.join(tree, 'small')
    os.makedirs(small)
    exts = ('txt', 'html', 'conf', 'py', '')
    for i in range(300):
        ext = exts[i % len(exts)]
        name = 'f%03d' % i + ('.' + ext if ext else '')
        size = rng.randint(1, 9000)
        # a unique start: only the copies below are identical
        data = b'%d' % i + (text(size) if i % 7 else rng.randbytes(size))
        E.write_file(os.path.join(small, name), data)
    same = os.path.join(tree, 'same')
    os.makedirs(same)
    blob = rng.randbytes(SAME_SIZE)
    for i in range(SAME_COPIES):
        E.write_file(os.path.join(same, 'copy-%02d.bin' % i), blob)
    sizes = os.path.join(tree, 'sizes')
    os.makedirs(sizes)
    for c in (1024, 4096, 8192, 131072):
        for n in (c - 1, c, c + 1, 2 * c + 1):
            E.write_file(os.path.join(sizes, 'text-%d' % n), text(n))
            E.write_file(os.path.join(sizes, 'random-%d' % n), rng.randbytes(n))
    empty = os.path.join(tree, 'empty')
    os.makedirs(empty)
    for i in range(5):
        E.write_file(os.path.join(empty, 'e%d' % i), b'')
    big = os.path.join(tree, 'big')
    os.makedirs(big)
    E.write_file(os.path.join(big, 'text'), text(3 << 20))
    E.write_file(os.path.join(big, 'random-then-text'), rng.randbytes(2 << 20) + text(5000))
    os.utime(tree, (0, 0))


def contents(root):
    """{relative path: SHA-256 of the file, or 'dir'} under @root."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.relpath(os.path.join(d, name), root)] = 'dir'
        for name in files:
            path = os.path.join(d, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def map_header(img, ino):
    """The 8-byte map header of a compressed inode."""
    at = ino.off + ((ino.isize + 7) & ~7)
    return img.data[at:at + 8]


def check_layout(t, name, image, tree, pcluster):
    img = E.Erofs(E.read_file(image))
    packed_nid = struct.unpack_from('<Q', img.data, 1024 + 96)[0]
    inodes = {p.decode(): ino for p, ino, _ in img.walk()}
    whole_ok, same_offsets, small_total, regular_total = [], set(), 0, 0
    for path, ino in inodes.items():
        if (ino.mode & 0o170000) == 0o100000:
            regular_total += ino.size
        if (ino.mode & 0o170000) != 0o100000 or not ino.size or ino.size > pcluster:
            continue
        small_total += ino.size
        head = struct.unpack('<Q', map_header(img, ino))[0]
        whole_ok.append(ino.layout in (1, 3) and head >> 63 == 1)
        if path.startswith('/same/'):
            same_offsets.add(head)
    small_total -= (SAME_COPIES - 1) * SAME_SIZE
    t.check(whole_ok and all(whole_ok),
            '%s: every file of at most -C bytes is whole in the packed inode' % name,
            '%d of %d' % (whole_ok.count(True), len(whole_ok)))
    t.check(len(same_offsets) == 1,
            '%s: %d identical small files share one fragment' % (name, SAME_COPIES),
            sorted(same_offsets)[:5])
    packed = img.inode(packed_nid)
    t.check(small_total <= packed.size < regular_total - (SAME_COPIES - 1) * SAME_SIZE,
            '%s: the packed inode (%d bytes) holds the small files (%d bytes), '
            'identical ones once' % (name, packed.size, small_total))
    ino = inodes.get('/sizes/random-%d' % (pcluster + 1))
    if ino:
        h = map_header(img, ino)
        advise = struct.unpack_from('<H', h, 4)[0]
        t.check(ino.layout in (1, 3) and struct.unpack('<Q', h)[0] >> 63 == 0 and
                advise & ADVISE_FRAGMENT,
                '%s: the -C + 1 random file keeps its final extent as a fragment' % name,
                (ino.layout, h.hex()))


def reference_fsck(t, name, root, image, work, work_in_root, expected):
    inside = os.path.join(work, 'image.erofs')
    shutil.copyfile(image, inside)
    out = os.path.join(work, 'extract')
    res = E.run(['env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C',
                 'chroot', root, 'fsck.erofs', '--extract=' + work_in_root + '/extract',
                 work_in_root + '/image.erofs'], timeout=600)
    if E.must(t, res, '%s: fsck.erofs 1.9.4 --extract accepts the image' % name):
        got = contents(out)
        t.check(got == expected, '%s: fsck.erofs extracts the same contents' % name,
                sorted(set(got.items()) ^ set(expected.items()))[:5])
    shutil.rmtree(out, ignore_errors=True)
    os.unlink(inside)


def main():
    E.require_root()
    E.require_kernel_erofs()
    t = E.Checker('fragments')
    base = E.scratch('fragments')
    root = R.reference_root()
    work_in_root = '/tmp/eroot-fragments-%d' % os.getpid()
    work = root + work_in_root
    os.makedirs(work)
    try:
        tree = os.path.join(base, 'tree')
        make_tree(tree)
        expected = E.manifest(tree)
        expected_contents = contents(tree)
        mnt = os.path.join(base, 'mnt')
        for name, opts, pcluster in CASES:
            images = []
            for workers in (1, 3):
                image = os.path.join(base, '%s-w%d.erofs' % (name, workers))
                if E.mkfs(t, image, tree, '--workers=%d' % workers, *opts,
                          what='eroot mkfs %s --workers=%d' % (name, workers)):
                    images.append(image)
            if len(images) != 2:
                continue
            image = images[0]
            t.check(E.read_file(images[0]) == E.read_file(images[1]),
                    '%s: the same bytes with 1 and 3 workers' % name)
            print('%s: %d bytes' % (name, os.path.getsize(image)), flush=True)
            with E.try_mount(t, image, mnt, name + ': kernel mounts') as m:
                if m:
                    E.same_manifest(t, expected, E.manifest(mnt),
                                    name + ': kernel mount shows the tree')
            E.must(t, E.eroot('fsck', '-q', image, timeout=600), name + ': eroot fsck')
            check_layout(t, name, image, tree, pcluster)
            reference_fsck(t, name, root, image, work, work_in_root, expected_contents)
            for image in images:
                os.unlink(image)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.exit()


if __name__ == '__main__':
    main()
