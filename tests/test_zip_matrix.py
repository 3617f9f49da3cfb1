#!/usr/bin/python3
"""Every algorithm under every layout, through the kernel: one small tree
(incompressible and repetitive data, files of exactly one cluster, sparse
and all-zero files, many small files) built with each of lz4, lz4hc, lzma,
deflate and zstd, and each of: default, -C 64K, -C 1M, ztailpacking,
fragments, ztailpacking with fragments at -C 128K, all-fragments, dedupe
(also with -C 64K, ztailpacking and fragments).  Each image must mount and
show the tree, and pass eroot fsck."""
import os

import eroottest as E

ALGORITHMS = ('lz4', 'lz4hc', 'lzma', 'deflate', 'zstd')
LAYOUTS = (
    ('default', []),
    ('C64K', ['-C', '65536']),
    ('C1M', ['-C', '1048576']),
    ('ztailpacking', ['-E', 'ztailpacking']),
    ('fragments', ['-E', 'fragments']),
    ('ztail-fragments-C128K', ['-C', '131072', '-E', 'ztailpacking,fragments']),
    ('all-fragments', ['-E', 'all-fragments']),
    ('dedupe', ['-E', 'dedupe']),
    ('C64K-ztailpacking-fragments-dedupe', ['-C', '65536', '-E', 'ztailpacking,fragments,dedupe']),
)


def add_edge_files(tree):
    """Sizes around one cluster, all-zero (not sparse) and duplicated data."""
    extra = os.path.join(tree, 'zip-edges')
    os.mkdir(extra)
    text = b''.join(b'line %d of repetitive text\n' % i for i in range(4000))
    for size in (4095, 4096, 4097, 65536, 65537, 131072, 131073, 1 << 20):
        E.write_file(os.path.join(extra, 'text-%d' % size), (text * 10)[:size])
        E.write_file(os.path.join(extra, 'random-%d' % size), os.urandom(size))
    E.write_file(os.path.join(extra, 'zeros'), bytes(300000))
    E.write_file(os.path.join(extra, 'copy-a'), text)
    E.write_file(os.path.join(extra, 'copy-b'), text)
    small = os.urandom(1500)    # identical small files: one fragment
    for i in range(4):
        E.write_file(os.path.join(extra, 'small-copy-%d' % i), small)
    E.write_file(os.path.join(extra, 'empty'), b'')
    # a shared prefix: pclusters shared under dedupe, full indexes
    E.write_file(os.path.join(extra, 'prefix-a'), text[:150000] + os.urandom(5000))
    E.write_file(os.path.join(extra, 'prefix-b'), text[:150000] + text[:7000])
    os.utime(extra, (0, 0))


def main():
    E.require_root()
    E.require_kernel_erofs()
    t = E.Checker('zip-matrix')
    base = E.scratch('zip-matrix')
    tree = os.path.join(base, 'tree')
    E.gentree(tree, 'random', 21, False)
    add_edge_files(tree)
    expected = E.manifest(tree)
    image = os.path.join(base, 'image.erofs')
    mnt = os.path.join(base, 'mnt')
    for algo in ALGORITHMS:
        for name, opts in LAYOUTS:
            what = '-z %s %s' % (algo, name)
            if os.path.exists(image):
                os.unlink(image)
            if not E.mkfs(t, image, tree, '-z', algo, *opts, what='eroot mkfs ' + what):
                continue
            with E.try_mount(t, image, mnt, what + ': kernel mounts') as m:
                if m:
                    E.same_manifest(t, expected, E.manifest(mnt),
                                    what + ': kernel mount shows the tree')
            E.must(t, E.eroot('fsck', '-q', image, timeout=600), what + ': eroot fsck')
    t.exit()


if __name__ == '__main__':
    main()
