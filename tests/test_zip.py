#!/usr/bin/python3
"""Compression beyond the round trips: the image is byte-identical whatever
the number of workers; eroot info reports the algorithm and a ratio; and
damaged compressed data makes fsck and cat fail cleanly (exit 3, one line,
no crash), never return wrong bytes silently."""
import json
import os

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
    t.exit()


if __name__ == '__main__':
    main()
