#!/usr/bin/python3
"""Compression beyond the round trips: the image is byte-identical whatever
the number of workers; eroot info reports the algorithm and a ratio; and
damaged compressed data makes fsck and cat fail cleanly (exit 3, one line,
no crash), never return wrong bytes silently.  Under -E dedupe, files
that share a prefix, a middle stretch or all their bytes share pclusters,
and so do the repeats inside a file:
the image shrinks by what they share, reads back through the kernel, eroot
fsck and the reference fsck.erofs, and stays the same for any workers."""
import json
import os
import random
import shutil

import eroottest as E


def workers_identical(t, tree, base, algo, pcluster, *extra):
    images = []
    for workers in (1, 2, 4):
        image = os.path.join(base, '%s-%d-w%d.erofs' % (algo, pcluster, workers))
        if not E.mkfs(t, image, tree, '-z', algo, '-C', str(pcluster),
                      '--workers=%d' % workers, *extra):
            return
        images.append(E.read_file(image))
    t.check(images[0] == images[1] == images[2],
            '-z %s -C %d %s: same bytes with 1, 2 and 4 workers'
            % (algo, pcluster, ' '.join(extra)))


def info_reports(t, image, algo):
    res = E.eroot('info', '--json', image)
    if not E.must(t, res, 'eroot info --json'):
        return
    info = json.loads(res.out)
    t.check(info['compression'] == [algo], 'info names the algorithm',
            info['compression'])
    t.check(info['compressed_files'] > 0 and info['compression_ratio'] > 1.0,
            'info reports compressed files and a ratio above 1', info)


def damaged_data(t, tree, base):
    """Flip bytes inside compressed pclusters: fsck must find it."""
    image = os.path.join(base, 'damage.erofs')
    if not E.mkfs(t, image, tree, '-z', 'lz4hc'):
        return
    data = bytearray(E.read_file(image))
    info = json.loads(E.eroot('info', '--json', image).out)
    bs = info['block_size']
    meta = info['meta_blkaddr']
    caught = 0
    # data blocks lie between block 1 and the metadata area
    for k, blk in enumerate(range(1, meta, max(1, (meta - 1) // 12))):
        bad = bytearray(data)
        for off in range(blk * bs + bs // 2, blk * bs + bs, 97):
            bad[off] ^= 0x5A
        path = os.path.join(base, 'damaged-%d.erofs' % k)
        E.write_file(path, bytes(bad))
        res = E.eroot('fsck', path, timeout=300)
        t.check(res.rc in (0, 3) and not res.sanitizer() and not res.timed_out,
                'fsck on damaged block %d exits 0 or 3 cleanly' % blk,
                (res.rc, res.err[-300:]))
        if res.rc == 3:
            caught += 1
            t.check(res.err.startswith(b'eroot fsck: '),
                    'damage report is an "eroot fsck:" line', res.err[:200])
        os.unlink(path)
    t.check(caught > 0, 'fsck catches damaged compressed data', caught)


def text(rng, size):
    words = [bytes(rng.choice(b'abcdefghijklmnopqrstuvwxyz ') for _ in range(rng.randint(2, 9)))
             for _ in range(2000)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b' '
    return bytes(out[:size])


def shared_tree(tree, extra, big):
    """First copies in @tree/first, second copies in @tree/second, and in
    @extra what of the second copies may not share; returns the number of
    pairs."""
    rng = random.Random(12)
    first, second = os.path.join(tree, 'first'), os.path.join(tree, 'second')
    for d in (first, second, extra):
        os.makedirs(d)
    prefix, middle, equal = text(rng, 1536 << 10), text(rng, 1 << 20), text(rng, 300000)
    files = {
        'prefix': (prefix + rng.randbytes(100000), prefix + rng.randbytes(50000)),
        # shared only where both copies cut their pclusters alike, which a
        # different start shifts (by chance, by codec): read back, not sized
        'middle': (rng.randbytes(8192) + middle + rng.randbytes(30000),
                   rng.randbytes(8192) + middle + rng.randbytes(30001)),
        'equal': (equal, equal),
    }
    if big:     # past a 4 MiB segment
        long = text(rng, 9 << 19)
        files['long'] = (long + b'first end', long + b'second end')
    for name, (a, b) in files.items():
        E.write_file(os.path.join(first, name), a)
        E.write_file(os.path.join(second, name), b)
        same = 0
        while same < min(len(a), len(b)) and a[same] == b[same]:
            same += 1
        E.write_file(os.path.join(extra, name), b[same:] if name != 'middle' else b)
    for d in (first, second, tree, extra):
        os.utime(d, (0, 0))
    return len(files)


def reference_fsck(t, image, what):
    """fsck.erofs 1.9.4 (the sid chroot of the reference tests) extracts
    @image to the tree it came from; a note when the chroot is missing."""
    try:
        import test_reference
        root = test_reference.reference_root()
    except SystemExit as e:
        print('note: no reference fsck.erofs: %s' % e, flush=True)
        return None
    work = os.path.join(root, 'tmp', 'eroot-zip-%d' % os.getpid())
    os.makedirs(work, exist_ok=True)
    try:
        shutil.copyfile(image, os.path.join(work, 'image.erofs'))
        inside = work[len(root):]
        res = E.run(['env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C',
                     'chroot', root, 'fsck.erofs', '--extract=' + inside + '/out',
                     inside + '/image.erofs'], timeout=600)
        E.must(t, res, what + ': fsck.erofs 1.9.4 --extract')
        return E.manifest(os.path.join(work, 'out')) if res.rc == 0 else None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def reads_back(t, image, expected, base, what):
    """The kernel, eroot fsck and fsck.erofs 1.9.4 read @expected back."""
    with E.try_mount(t, image, os.path.join(base, 'mnt'), what + ': kernel mounts') as m:
        if m:
            E.same_manifest(t, expected, E.manifest(m), what + ': kernel shows the tree')
    E.must(t, E.eroot('fsck', '-q', image, timeout=600), what + ': eroot fsck')
    out = reference_fsck(t, image, what)
    if out is not None:
        E.same_manifest(t, expected, out, what + ': fsck.erofs extracts the tree')


def shared_pclusters(t, base):
    configs = (
        ('lz4hc', ['-E', 'dedupe'], True),
        ('lz4', ['-C', '65536', '-E', 'ztailpacking,dedupe'], False),
        ('zstd', ['-C', '131072', '-E', 'ztailpacking,fragments,dedupe'], False),
        ('lzma', ['-C', '16384', '-E', 'fragments,dedupe'], False),
        ('deflate', ['-b', '1024', '-C', '8192', '-E', 'dedupe'], False),
    )
    for big in (True, False):
        tree = os.path.join(base, 'shared-%d' % big)
        extra = os.path.join(base, 'unshared-%d' % big)
        nfiles = shared_tree(tree, extra, big)
        expected = E.manifest(tree)
        for algo, opts, with_big in configs:
            if with_big != big:
                continue
            what = '-z %s %s' % (algo, ' '.join(opts))
            image = os.path.join(base, 'shared.erofs')
            alone = os.path.join(base, 'shared-first.erofs')
            rest = os.path.join(base, 'shared-rest.erofs')
            if not (E.mkfs(t, image, tree, '-z', algo, *opts, '--workers=3') and
                    E.mkfs(t, alone, os.path.join(tree, 'first'), '-z', algo, *opts) and
                    E.mkfs(t, rest, extra, '-z', algo, *opts)):
                continue
            pcluster = int(opts[opts.index('-C') + 1]) if '-C' in opts else 4096
            # what the second copies may add: what they do not share (an
            # image of its own), a pcluster each where they part
            bound = os.path.getsize(alone) + os.path.getsize(rest) + \
                nfiles * (pcluster + 4096)
            print('%s: %d bytes, bound %d' % (what, os.path.getsize(image), bound), flush=True)
            t.check(os.path.getsize(image) <= bound,
                    what + ': second copies share the first ones\' pclusters',
                    (os.path.getsize(image), bound))
            reads_back(t, image, expected, base, what)
            E.mkfs(t, alone, tree, '-z', algo, *opts, '--workers=1')
            t.check(E.read_file(alone) == E.read_file(image),
                    what + ': same bytes with 1 and 3 workers')


def self_shared(t, base):
    """A file that repeats itself: incompressible blocks are plain
    pclusters, one per block, so the repeat shares the first copy's."""
    tree = os.path.join(base, 'self')
    os.makedirs(tree)
    once = random.Random(13).randbytes(256 << 10)
    E.write_file(os.path.join(tree, 'twice'), once + once + b'end')
    os.utime(tree, (0, 0))
    expected = E.manifest(tree)
    for args, extended in ((['-z', 'lz4hc'], []), (['-z', 'zstd', '-C', '65536'], ['ztailpacking'])):
        what = '%s -E %s, a file repeating itself' % (' '.join(args), ','.join(extended + ['dedupe']))
        plain, image = os.path.join(base, 'self.erofs'), os.path.join(base, 'self-dedupe.erofs')
        if not (E.mkfs(t, plain, tree, *args, *(['-E', extended[0]] if extended else [])) and
                E.mkfs(t, image, tree, *args, '-E', ','.join(extended + ['dedupe']))):
            continue
        t.check(os.path.getsize(image) <= os.path.getsize(plain) - (200 << 10),
                what + ': the repeat shares pclusters',
                (os.path.getsize(image), os.path.getsize(plain)))
        reads_back(t, image, expected, base, what)


def main():
    E.require_root()
    t = E.Checker('zip')
    base = E.scratch('zip')
    tree = os.path.join(base, 'tree')
    E.gentree(tree, 'random', 11, False)
    for algo, pcluster in (('lz4hc', 4096), ('zstd', 65536), ('lzma', 16384)):
        workers_identical(t, tree, base, algo, pcluster)
    workers_identical(t, tree, base, 'lz4hc', 4096, '-E', 'fragments,dedupe')
    workers_identical(t, tree, base, 'deflate', 8192, '-E', 'ztailpacking')
    workers_identical(t, tree, base, 'zstd', 4096, '-E', 'all-fragments')
    workers_identical(t, tree, base, 'lzma', 131072, '-E', 'ztailpacking,fragments')
    image = os.path.join(base, 'info.erofs')
    if E.mkfs(t, image, tree, '-z', 'deflate'):
        info_reports(t, image, 'deflate')
    damaged_data(t, tree, base)
    shared_pclusters(t, base)
    self_shared(t, base)
    t.exit()


if __name__ == '__main__':
    main()
