#!/usr/bin/python3
"""The compression pipeline sized by bytes (lib/builder/place/zpipe.c): a
tree with a flood of small files (a segment each) and big files of several
4 MiB segments, incompressible and compressible, built with 1 to 4 workers
and rings from the smallest allowed (--pipeline-mib=1: 3 segments) to one
larger than the whole input.

Each image must be the same bytes, read back as the tree (the kernel,
liberoot's reader, eroot fsck), and the summary must report the peak of
the pipeline's buffers, within what its budget allows: the workers' own
buffers, the output of the input in flight, and a little per segment.
"""
import os
import random
import re

import eroottest as E

MIB = 1 << 20
SEG = 4 * MIB
PCLUSTER = 65536
BLOCK = 4096
SMALL_FILES = 3000
SETTINGS = (            # (workers, --pipeline-mib or None)
    (1, None), (3, 1), (2, None), (4, 1024),
)


def make_tree(tree):
    rng = random.Random(20261130)
    os.makedirs(os.path.join(tree, 'big'))
    for d in range(50):
        os.makedirs(os.path.join(tree, 'small', '%02d' % d))
    for i in range(3):
        E.write_file(os.path.join(tree, 'big', 'random-%d' % i),
                     rng.randbytes(9 * MIB + 4097 * i))
    E.write_file(os.path.join(tree, 'big', 'text'),
                 b''.join(b'line %d of a compressible file\n' % i
                          for i in range(9 * MIB // 30)))
    words = [b'erofs', b'pcluster', b'segment', b'ring', b'worker', b'budget']
    for i in range(SMALL_FILES):
        data = b' '.join(rng.choice(words) for _ in range(rng.randrange(1, 1500)))
        E.write_file(os.path.join(tree, 'small', '%02d' % (i % 50), '%d' % i), data)


def peak_of(t, name, out):
    m = re.search(rb'compression buffers peak (\d+) bytes', out)
    t.check(m is not None, '%s: the summary reports the pipeline peak' % name, out)
    return int(m.group(1)) if m else None


def bound(workers, mib):
    """What the pipeline may hold: each worker's (and the writer's) input
    and pcluster buffers, the output of the input in flight, and per
    segment a block of slack, its tail and its extents."""
    budget = max((mib or 64) * MIB, 3 * SEG)
    segments = budget // (64 * 1024)
    return ((workers + 1) * (SEG + PCLUSTER) + budget +
            segments * 2 * BLOCK + 2 * (budget // BLOCK + segments) * 24)


def main():
    t = E.Checker('zpipe')
    base = E.scratch('zpipe')
    tree = os.path.join(base, 'tree')
    make_tree(tree)
    expected = E.manifest(tree)
    images = {}
    for workers, mib in SETTINGS:
        name = 'w%d-%s' % (workers, mib or 'default')
        image = os.path.join(base, name + '.erofs')
        args = ['-z', 'lz4hc', '-C', str(PCLUSTER), '--workers=%d' % workers]
        args += ['--pipeline-mib=%d' % mib] if mib else []
        res = E.eroot('mkfs', *args, image, tree, timeout=900)
        if not E.must(t, res, '%s: eroot mkfs' % name):
            continue
        peak = peak_of(t, name, res.out)
        print('%s: peak %s bytes, bound %d' % (name, peak, bound(workers, mib)))
        if peak is not None:
            t.check(0 < peak <= bound(workers, mib),
                    '%s: the peak is within the budget' % name,
                    (peak, bound(workers, mib)))
        images[name] = E.read_file(image)
        res, lines = E.image_manifest(image)
        if E.must(t, res, '%s: image-manifest reads the image' % name):
            E.same_manifest(t, expected, lines, '%s: the reader shows the tree' % name)
        E.must(t, E.eroot('fsck', image, timeout=900), '%s: eroot fsck accepts it' % name)
        if name == 'w3-1':
            mnt = os.path.join(base, 'mnt')
            with E.try_mount(t, image, mnt, '%s: the kernel mounts it' % name) as m:
                if m:
                    E.same_manifest(t, expected, E.manifest(m),
                                    '%s: the kernel shows the tree' % name)
        os.unlink(image)
    first = images.get('w1-default')
    for name, data in images.items():
        t.check(first is not None and data == first,
                '%s: the same bytes as 1 worker with the default ring' % name)
    res = E.eroot('mkfs', '--pipeline-mib=0', os.path.join(base, 'x.erofs'), tree)
    t.check(res.rc == 2 and res.err.startswith(
                b"eroot mkfs: invalid value for --pipeline-mib=0: '0'\n") and
            not os.path.exists(os.path.join(base, 'x.erofs')),
            '--pipeline-mib=0 is refused, named', res.describe())
    t.exit()


if __name__ == '__main__':
    main()
