#!/usr/bin/python3
"""Files of several compression segments (4 MiB each), whose form is decided
before any of their data is placed (lib/builder/place/zfile.c):

- an incompressible file: its segments are held (the earlier ones in a spool
  file) until the end shows no block saved, then it is stored flat (with
  -E fragments it saves its tail, and stays compressed);
- a file incompressible but for its end: held the same way, then kept
  compressed, its held output read back from the spool;
- a compressible file: certain to stay compressed after its first segment,
  then placed as it comes;
- copies of each (-E dedupe holds every file to its end).

Each image must read back as the tree (liberoot's reader, eroot fsck),
leave nothing next to itself, store each file in the form expected, be the
same with 1 and 3 workers, and with -E dedupe be smaller by the copies.
"""
import json
import os
import random
import shutil

import eroottest as E

MIB = 1 << 20
FILES = {
    'random-9m': lambda r: r.randbytes(9 * MIB + 5),
    'random-6m-zero-tail': lambda r: r.randbytes(6 * MIB) + bytes(256 * 1024),
    'text-9m': lambda r: b''.join(b'line %d of a compressible file\n' % i
                                 for i in range(9 * MIB // 30)),
}


def form(name, fragments):
    return 'flat' if name == 'random-9m' and not fragments else 'compressed'


def make_tree(tree):
    rng = random.Random(20261130)
    os.makedirs(os.path.join(tree, 'copies'))
    for name, content in FILES.items():
        data = content(rng)
        for path in (name, os.path.join('copies', name)):
            E.write_file(os.path.join(tree, path), data)
    E.write_file(os.path.join(tree, 'small'), rng.randbytes(5000))


def layout(t, image, path):
    res = E.eroot('stat', '--json', image, path)
    if not E.must(t, res, 'eroot stat %s' % path):
        return ''
    return json.loads(res.out)['datalayout']


def build(t, base, tree, expected, name, *opts):
    """Build, read back and check one image; its bytes, or None."""
    out = os.path.join(base, name)
    os.mkdir(out)
    image = os.path.join(out, 'image.erofs')
    if not E.mkfs(t, image, tree, *opts):
        return None
    t.check(os.listdir(out) == ['image.erofs'], '%s: only the image is left' % name,
            os.listdir(out))
    res, lines = E.image_manifest(image)
    if E.must(t, res, '%s: image-manifest reads the image' % name):
        E.same_manifest(t, expected, lines, '%s: the reader shows the tree' % name)
    E.must(t, E.eroot('fsck', image, timeout=900), '%s: eroot fsck accepts it' % name)
    copies = os.path.isdir(os.path.join(tree, 'copies'))
    for fname in FILES:
        want = form(fname, 'fragments' in ' '.join(opts))
        for path in ('/' + fname,) + (('/copies/' + fname,) if copies else ()):
            got = layout(t, image, path)
            t.check(got.startswith(want), '%s: %s is stored %s' % (name, path, want), got)
    return E.read_file(image)


def main():
    t = E.Checker('zip-held')
    base = E.scratch('zip-held')
    tree = os.path.join(base, 'tree')
    make_tree(tree)
    expected = E.manifest(tree)
    copies = sum(os.path.getsize(os.path.join(tree, 'copies', f)) for f in FILES)

    for algo, extra in (('lz4', []), ('zstd', ['-E', 'ztailpacking']),
                        ('lz4hc', ['-E', 'fragments'])):
        images = {}
        for workers in (1, 3):
            images[workers] = build(t, base, tree, expected,
                                    '%s-w%d' % (algo, workers), '-z', algo,
                                    '--workers=%d' % workers, *extra)
        t.check(images[1] is not None and images[1] == images[3],
                '-z %s %s: the same bytes with 1 and 3 workers' % (algo, ' '.join(extra)))
        shared = build(t, base, tree, expected, '%s-dedupe' % algo, '-z', algo,
                       '-E', ','.join(['dedupe'] + extra[1:]))
        if 'fragments' in extra:
            # -E fragments shares whole copies by itself (as mkfs.erofs
            # does): the tree without them is nearly the same size
            bare = os.path.join(base, 'tree-bare')
            shutil.copytree(tree, bare, symlinks=True, ignore=shutil.ignore_patterns('copies'))
            alone = build(t, base, bare, E.manifest(bare), '%s-bare' % algo, '-z', algo,
                          '--workers=3', *extra)
            if images[1] is not None and alone is not None:
                t.check(len(images[1]) - len(alone) < copies // 50,
                        '-z %s -E fragments: the copies cost next to nothing' % algo,
                        (len(images[1]), len(alone), copies))
            if images[1] is not None and shared is not None:
                t.check(len(shared) <= len(images[1]),
                        '-z %s: -E dedupe with fragments is no larger' % algo,
                        (len(images[1]), len(shared)))
        elif images[1] is not None and shared is not None:
            # the copies' flat file is shared whole, the others' pclusters
            t.check(len(images[1]) - len(shared) > copies // 2,
                    '-z %s: -E dedupe shares the copies' % algo,
                    (len(images[1]), len(shared), copies))
    t.exit()


if __name__ == '__main__':
    main()
