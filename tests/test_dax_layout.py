#!/usr/bin/python3
"""eroot mkfs --dax: the DAX layout.  Every regular file stored uncompressed
is flat-plain (the only layout the kernel serves with DAX on every kernel
since 5.15): small files that would sit inline, sparse files that would be
chunk-based, hard links, empty files; with -z and a hot list, the listed
files are flat-plain and the others compressed.  The image is a multiple of
2 MiB, equal to the superblock's block count, the same bytes for any
--workers, passes eroot fsck, and reads back as its source through the
library and a kernel mount (file-backed: no DAX on this host; the boot
tests attach pmem in QEMU).  Without --dax the same tree has inline and
chunk-based files, so the checks can fail.  --dax with blocks other than
4096 is one error line and no output."""
import json
import os

import eroottest as E

DAX_ALIGN = 2 << 20
# files of gentree's edge tree and the layout they would take without --dax
SMALL = ('files/one', 'files/bs2048-plus1', 'hard/five', 'hard/b/c/five-2')
SPARSE = ('files/sparse-1m', 'files/sparse-hole-only')
PLAIN_ANYWAY = ('files/empty', 'hard/b/empty-2', 'files/bs4096-exact', 'files/random-3m')
HOT = ('files/one', 'files/sparse-1m', 'files/repetitive-2m', 'hard/a/triple')


def layout(image, path):
    res = E.eroot('stat', '--json', image, '/' + path)
    if res.rc:
        return 'stat failed: ' + res.err.decode(errors='replace').strip()
    return json.loads(res.out)['datalayout']


def info(t, image):
    res = E.eroot('info', '--json', image)
    if not E.must(t, res, 'eroot info --json %s' % os.path.basename(image)):
        return {}
    return json.loads(res.out)


def check_size(t, image, what):
    size = os.path.getsize(image)
    t.check(size % DAX_ALIGN == 0, '%s: image size %d is a multiple of 2 MiB' % (what, size))
    blocks = info(t, image).get('blocks', 0)
    t.check(blocks * 4096 == size, '%s: the superblock counts the padding (%d blocks, %d bytes)'
            % (what, blocks, size))


def reads_back(t, base, image, src, expected, what):
    E.must(t, E.eroot('fsck', image), '%s: eroot fsck' % what)
    res, lines = E.image_manifest(image)
    if E.must(t, res, '%s: image-manifest' % what):
        E.same_manifest(t, expected, lines, '%s: the library reads the source back' % what)
    with E.try_mount(t, image, os.path.join(base, 'mnt'), '%s: kernel mount' % what) as mnt:
        if mnt:
            E.same_manifest(t, expected, E.manifest(mnt),
                            '%s: the kernel reads the source back' % what)
            diff = E.run(['diff', '-r', '--no-dereference', os.path.join(src, 'files'),
                          os.path.join(mnt, 'files')])
            t.check(diff.rc == 0, '%s: diff -r of files/ (small, sparse, empty) finds nothing'
                    % what, diff.describe())


def plain_image(t, base, src, expected):
    image = os.path.join(base, 'dax.erofs')
    if not E.mkfs(t, image, src, '--dax'):
        return
    layouts = info(t, image).get('file_layouts', {})
    t.check(list(layouts) == ['flat-plain'], 'every regular file is flat-plain (%s)' % layouts)
    for path in SMALL + SPARSE + PLAIN_ANYWAY:
        got = layout(image, path)
        t.check(got == 'flat-plain', '%s is flat-plain (%s)' % (path, got))
    check_size(t, image, '--dax')
    reads_back(t, base, image, src, expected, '--dax')

    # the same tree without --dax: the layouts --dax avoids are there
    image = os.path.join(base, 'plain.erofs')
    if not E.mkfs(t, image, src):
        return
    layouts = info(t, image).get('file_layouts', {})
    t.check(layouts.get('flat-inline', 0) > 0 and layouts.get('chunk-based', 0) > 0,
            'without --dax, files are inline and chunk-based (%s)' % layouts)
    for path in SMALL:
        got = layout(image, path)
        t.check(got == 'flat-inline', 'without --dax, %s is flat-inline (%s)' % (path, got))
    for path in SPARSE:
        got = layout(image, path)
        t.check(got == 'chunk-based', 'without --dax, %s is chunk-based (%s)' % (path, got))


def hot_image(t, base, src, expected):
    hot = os.path.join(base, 'hot')
    E.write_file(hot, ''.join('/%s\n' % p for p in HOT).encode())
    images = []
    for workers in (1, 3):
        image = os.path.join(base, 'hot-%d.erofs' % workers)
        if not E.mkfs(t, image, src, '-z', 'lz4hc', '--hot-list', hot, '--dax',
                      '--workers=%d' % workers):
            return
        images.append(image)
    t.check(E.read_file(images[0]) == E.read_file(images[1]),
            '-z lz4hc --hot-list --dax: the same bytes with 1 and 3 workers')
    image = images[0]
    layouts = info(t, image).get('file_layouts', {})
    t.check(set(layouts) == {'flat-plain', 'compressed-compact'},
            '-z lz4hc --dax: files are flat-plain or compressed, none inline nor chunk-based '
            '(%s)' % layouts)
    for path in HOT:
        got = layout(image, path)
        t.check(got == 'flat-plain', 'hot %s is flat-plain (%s)' % (path, got))
    for path in ('files/zeros-128k', 'files/sparse-hole-only'):
        got = layout(image, path)
        t.check(got.startswith('compressed-'), 'cold %s is compressed (%s)' % (path, got))
    check_size(t, image, '-z lz4hc --hot-list --dax')
    reads_back(t, base, image, src, expected, '-z lz4hc --hot-list --dax')


def refusal(t, base, src):
    bad = os.path.join(base, 'bad.erofs')
    res = E.eroot('mkfs', '-q', '--dax', '-b', '2048', bad, src)
    E.sane_failure(t, res, '--dax -b 2048', 2, command='mkfs')
    left = [n for n in os.listdir(base) if n.startswith('bad.erofs')]
    t.check(not left, '--dax -b 2048: nothing left behind', left)


def main():
    E.require_root()
    E.require_kernel_erofs()
    t = E.Checker('dax-layout')
    base = E.scratch('dax-layout')
    src = os.path.join(base, 'src')
    E.gentree(src, 'edge')
    expected = E.manifest(src)
    plain_image(t, base, src, expected)
    hot_image(t, base, src, expected)
    refusal(t, base, src)
    t.exit()


if __name__ == '__main__':
    main()
