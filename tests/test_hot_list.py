#!/usr/bin/python3
"""eroot initrd --hot-list: the files the list names are stored uncompressed
(eroot stat shows a flat layout) and first in the image, in the list's
order; the others stay compressed as -z says; the image reads back as the
source (eroot fsck, the library's manifest, a kernel mount where this
kernel mounts EROFS).  Paths the image lacks (or that are no regular file)
are a warning with their count; a list with -z none, or one that cannot be
read, is one error line and no output."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eroottest as E  # noqa: E402

KVER = '6.12.0-hot'     # a module tree whose loader modules are all built in
CONFIG = ['EROFS_FS', 'EROFS_FS_ZIP', 'EROFS_FS_BACKED_BY_FILE', 'OVERLAY_FS', 'BLK_DEV_LOOP']
BUILTIN = ['kernel/fs/erofs/erofs.ko', 'kernel/fs/overlayfs/overlay.ko',
           'kernel/drivers/block/loop.ko', 'kernel/crypto/af_alg.ko',
           'kernel/crypto/algif_hash.ko', 'kernel/crypto/sha256_generic.ko']


def make_source(src):
    kdir = os.path.join(src, 'lib', 'modules', KVER)
    os.makedirs(kdir)
    E.write_file(os.path.join(kdir, 'modules.dep'), b'')
    E.write_file(os.path.join(kdir, 'modules.builtin'), '\n'.join(BUILTIN).encode() + b'\n')
    E.write_file(os.path.join(kdir, 'config'), ''.join('CONFIG_%s=y\n' % o for o in CONFIG).encode())
    os.makedirs(os.path.join(src, 'usr', 'bin'))
    os.makedirs(os.path.join(src, 'etc'))
    bodies = {}
    for i in range(1, 5):
        # compressible, and each file's own text, to be found in the image
        body = ('file %d of the hot list test. ' % i).encode() * 1400
        bodies['usr/bin/f%d' % i] = body
        E.write_file(os.path.join(src, 'usr', 'bin', 'f%d' % i), body)
    E.write_file(os.path.join(src, 'etc', 'small'), b'small\n')
    os.symlink('f1', os.path.join(src, 'usr', 'bin', 'link'))
    return bodies


def image_of(t, initrd):
    """The EROFS image inside an eroot initrd (/eroot/root.erofs)."""
    data = E.read_file(initrd)
    name = data.find(b'eroot/root.erofs\0')
    if not t.check(name > 0, 'the initrd holds eroot/root.erofs'):
        return None
    at = (name + 4095) // 4096 * 4096     # data starts on a page
    size = int(data[name - 110 + 54:name - 110 + 62], 16)
    return data[at:at + size]


def layout(image, path):
    res = E.eroot('stat', '--json', image, path)
    if res.rc:
        return 'stat failed: ' + res.err.decode(errors='replace')
    return json.loads(res.out)['datalayout']


def main():
    E.require_root()
    t = E.Checker('hot-list')
    base = E.scratch('hot-list')
    src = os.path.join(base, 'src')
    bodies = make_source(src)
    hot = os.path.join(base, 'hot')
    E.write_file(hot, b'# eroot.profile: test\n/usr/bin/f3\nusr/bin/f1\n/usr/bin/f3\n'
                 b'/nope/missing\n/usr/bin\n/usr/bin/link\n/etc/small\n')
    out = os.path.join(base, 'initrd.img')
    res = E.eroot('initrd', '--stats', '-z', 'lz4hc', '--modules-dir', src, '--hot-list', hot,
                  out, src)
    if not E.must(t, res, 'eroot initrd --hot-list'):
        t.exit()
    t.check(b'hot files 3 uncompressed' in res.out, '--stats counts 3 hot files (f3, f1, small)',
            res.describe())
    t.check(res.err_lines() == ['eroot initrd: warning: 3 paths of %s are no file of the image'
                                % hot], 'one warning counts the 3 paths that are no file',
            res.describe())
    data = image_of(t, out)
    if data is None:
        t.exit()
    image = os.path.join(base, 'root.erofs')
    E.write_file(image, data)
    for path in ('usr/bin/f1', 'usr/bin/f3', 'etc/small'):
        t.check(layout(image, '/' + path).startswith('flat-'), '%s (listed) is stored flat (%s)'
                % (path, layout(image, '/' + path)))
    for path in ('usr/bin/f2', 'usr/bin/f4'):
        t.check(layout(image, '/' + path).startswith('compressed-'),
                '%s (not listed) is compressed (%s)' % (path, layout(image, '/' + path)))
    # first, in the list's order: f3's blocks, then f1's, right after the
    # superblock's block
    f3, f1 = data.find(bodies['usr/bin/f3'][:4096]), data.find(bodies['usr/bin/f1'][:4096])
    t.check(f3 == 4096 and f1 == 4096 + len(bodies['usr/bin/f3']) // 4096 * 4096,
            'the hot files\' data comes first, in the list\'s order (f3 at %d, f1 at %d)'
            % (f3, f1))
    E.must(t, E.eroot('fsck', image), 'eroot fsck of the image')
    res, lines = E.image_manifest(image)
    expected = E.manifest(src)
    if E.must(t, res, 'image-manifest'):
        E.same_manifest(t, expected, lines, 'the image reads back as the source')
    try:
        E.require_kernel_erofs()
    except SystemExit:
        print('SKIP: kernel mount (no EROFS in this kernel)', flush=True)
    else:
        with E.try_mount(t, image, os.path.join(base, 'mnt'), 'kernel mount') as mnt:
            if mnt:
                E.same_manifest(t, expected, E.manifest(mnt),
                                'the kernel reads the image as the source')
    # refusals: one line, no output left behind
    for args, what in ((['-z', 'none', '--hot-list', hot], 'a hot list without compression'),
                       (['--hot-list', os.path.join(base, 'absent')], 'an unreadable list')):
        bad = os.path.join(base, 'bad.img')
        res = E.eroot('initrd', '--modules-dir', src, *args, bad, src)
        E.sane_failure(t, res, what, 1, command='initrd')
        left = [n for n in os.listdir(base) if n.startswith('bad.img')]
        t.check(not left, what + ': nothing left behind', left)
    t.exit()


if __name__ == '__main__':
    main()
