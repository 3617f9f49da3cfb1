#!/usr/bin/python3
"""eroot merge: merges of 2, 3 and 10 layers built with eroot mkfs (plain,
lz4hc, zstd with ztailpacking, fragments, whiteouts and opaque directories)
mounted by the kernel with one device= per input (loop devices) and read
by eroot extract --device, both compared with the union built by hand
(overlay rules applied in Python); eroot fsck passes with --device-dir;
swapped devices are refused; fingerprints (ISHARE_XATTRS) of the inputs
reach the merged image, those of an input without them are computed, and
inputs of two fingerprint names are refused; --copy stands alone; inputs of different block
sizes are refused, leaving no OUT."""
import contextlib
import hashlib
import os
import random
import shutil
import stat

import eroottest as E

OPAQUE = 'trusted.overlay.opaque'
EXIT_CORRUPT = 3


def write(path, size, seed):
    rnd = random.Random(seed)
    # compressible but not trivial: words from a small alphabet
    data = bytes(rnd.choice(b'abcdefgh \n') for _ in range(size))
    with open(path, 'wb') as f:
        f.write(data)


def make_layer(top, k, rnd):
    """Layer @k: files of many sizes, dirs shared with other layers,
    whiteouts of both kinds, an opaque directory, a hard link."""
    os.makedirs(top)
    for d in ('common', 'common/sub', 'own%d' % k, 'opq'):
        os.makedirs(os.path.join(top, d), exist_ok=True)
    for i in range(8):
        size = rnd.choice([0, 1, 100, 4095, 4096, 5000, 9000, 70000, 200000])
        d = rnd.choice(['common', 'common/sub', 'own%d' % k, ''])
        write(os.path.join(top, d, 'f%d' % rnd.randrange(12)), size, rnd.random())
    write(os.path.join(top, 'own%d' % k, 'data'), 30000 + k, k)
    os.link(os.path.join(top, 'own%d' % k, 'data'), os.path.join(top, 'own%d' % k, 'hl'))
    os.symlink('../common', os.path.join(top, 'own%d' % k, 'link'))
    if k:
        # whiteouts of lower layers' entries: an overlayfs one, an OCI one
        free = [n for n in ('f%d' % i for i in range(12))
                if not os.path.lexists(os.path.join(top, 'common', n))]
        os.mknod(os.path.join(top, 'common', rnd.choice(free)), stat.S_IFCHR, 0)
        open(os.path.join(top, '.wh.own%d' % (k - 1)), 'w').close()
        if k % 2:
            os.setxattr(os.path.join(top, 'opq'), OPAQUE, b'y')
    write(os.path.join(top, 'opq', 'k%d' % k), 50 + k, k)
    os.setxattr(os.path.join(top, 'common'), 'user.layer', b'%d' % k)
    os.chmod(top, 0o700 + k)
    os.chown(top, 1000 + k, 2000 + k)
    for dirpath, dirs, files in os.walk(top, topdown=False):
        for n in files + dirs:
            os.utime(os.path.join(dirpath, n), (1600000000 + k, 1600000000 + k),
                     follow_symlinks=False)
        os.utime(dirpath, (1500000000 + k * 1000, 1500000000 + k * 1000))


def is_whiteout(st):
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def union(layers, dest):
    """The overlay of @layers, applied bottom up, with whiteouts."""
    os.makedirs(dest)
    dirattrs = {}
    for src in layers:
        links = {}

        def merge(s, d, rel):
            names = sorted(os.listdir(s))
            opaque = '.wh..wh..opq' in names
            with contextlib.suppress(OSError):
                opaque = opaque or os.getxattr(s, OPAQUE) == b'y'
            if opaque:
                for n in os.listdir(d):
                    remove(os.path.join(d, n))
            for n in names:
                sp, dp = os.path.join(s, n), os.path.join(d, n)
                st = os.lstat(sp)
                if n == '.wh..wh..opq':
                    continue
                if n.startswith('.wh.'):
                    remove(os.path.join(d, n[4:]))
                elif is_whiteout(st):
                    remove(dp)
                elif stat.S_ISDIR(st.st_mode):
                    if not os.path.isdir(dp) or os.path.islink(dp):
                        remove(dp)
                        os.mkdir(dp)
                    merge(sp, dp, os.path.join(rel, n))
                else:
                    remove(dp)
                    key = (st.st_dev, st.st_ino)
                    if key in links:
                        os.link(links[key], dp)
                    else:
                        shutil.copy2(sp, dp, follow_symlinks=False)
                        if not stat.S_ISLNK(st.st_mode):
                            os.chown(dp, st.st_uid, st.st_gid)
                        links[key] = dp
            st = os.lstat(s)
            xattrs = {x: os.getxattr(s, x) for x in os.listxattr(s) if x != OPAQUE}
            dirattrs[rel] = (st, xattrs)
        merge(src, dest, '')
    for rel in sorted(dirattrs, key=len, reverse=True):
        path = os.path.join(dest, rel)
        if not os.path.isdir(path):
            continue
        st, xattrs = dirattrs[rel]
        for x in os.listxattr(path):
            os.removexattr(path, x)
        for x, v in xattrs.items():
            os.setxattr(path, x, v)
        os.chmod(path, stat.S_IMODE(st.st_mode))
        os.chown(path, st.st_uid, st.st_gid)
        os.utime(path, ns=(st.st_mtime_ns, st.st_mtime_ns))


@contextlib.contextmanager
def loops(paths):
    devs = []
    try:
        for p in paths:
            res = E.run(['losetup', '-f', '--show', '-r', p])
            if res.rc:
                raise RuntimeError(res.describe())
            devs.append(res.out.decode().strip())
        yield devs
    finally:
        for d in devs:
            E.run(['losetup', '-d', d])


def device_args(devices):
    return [a for d in devices for a in ('--device', d)]


def check_reader(t, name, out, imgs, hand, work):
    """eroot's reader: the union through --device, fsck through
    --device-dir, a swapped pair refused."""
    dest = os.path.join(work, name + '-extract')
    res = E.eroot('extract', *device_args(imgs), out, dest, timeout=600)
    if E.must(t, res, '%s: eroot extract --device' % name):
        E.same_manifest(t, E.manifest(hand), E.manifest(dest),
                        '%s: eroot reads the union built by hand' % name)
    shutil.rmtree(dest, ignore_errors=True)
    E.must(t, E.eroot('fsck', '--device-dir', os.path.dirname(imgs[0]), out, timeout=600),
           '%s: eroot fsck --device-dir' % name)
    swapped = imgs[:-2] + [imgs[-1], imgs[-2]]
    res = E.eroot('fsck', *device_args(swapped), out)
    E.sane_failure(t, res, '%s: the last two devices swapped: refused' % name,
                   EXIT_CORRUPT, command='fsck')
    # (too short for its slot, or the wrong bytes: either names the device)
    t.check(('device %d: ' % (len(imgs) - 1)).encode() in res.err,
            '%s: the refusal names the device' % name, res.err)


def check_merge(t, work, name, layers, mkfs_opts, expect_copied=None):
    imgs = []
    inputs = os.path.join(work, name + '-inputs')   # for --device-dir
    os.makedirs(inputs)
    for i, (src, opts) in enumerate(zip(layers, mkfs_opts)):
        img = os.path.join(inputs, '%s-%d.erofs' % (name, i))
        E.mkfs(t, img, src, *opts)
        imgs.append(img)
    out = os.path.join(work, name + '.erofs')
    res = E.eroot('merge', out, *imgs)
    if not E.must(t, res, '%s: eroot merge of %d images' % (name, len(imgs))):
        return
    said = res.out.decode()
    if expect_copied is not None:
        copied = int(said.split(' files copied')[0].rsplit(' ', 1)[1])
        t.check(expect_copied(copied), '%s: copied files as expected' % name, said)
    hand = os.path.join(work, name + '-union')
    union(layers, hand)
    mnt = os.path.join(work, name + '-mnt')
    os.makedirs(mnt)
    with loops([out] + imgs) as devs:
        opts = 'ro,' + ','.join('device=' + d for d in devs[1:])
        r = E.run(['mount', '-t', 'erofs', '-o', opts, devs[0], mnt])
        if not t.check(r.rc == 0, '%s: the kernel mounts it with %d devices' % (name, len(imgs)),
                       r.describe()):
            return
        try:
            E.same_manifest(t, E.manifest(hand), E.manifest(mnt),
                            '%s: the kernel reads the union built by hand' % name)
            st, top = os.stat(mnt), os.stat(layers[-1])
            t.check((st.st_mode, st.st_uid, st.st_mtime) ==
                    (top.st_mode, top.st_uid, top.st_mtime),
                    '%s: the root\'s mode, owner and mtime are the top layer\'s' % name)
        finally:
            E.run(['umount', mnt])
    check_reader(t, name, out, imgs, hand, work)
    return out, imgs


def fingerprints(image, device_dir=None):
    """{path: fingerprint field or None} of @image's manifest."""
    cmd = [E.IMAGE_MANIFEST or E.env_path('IMAGE_MANIFEST'), '--fingerprints', image]
    if device_dir:
        cmd.insert(1, '--device-dir=' + device_dir)
    res = E.run(cmd)
    if res.rc:
        raise RuntimeError(res.describe())
    return {p: f.get('fingerprint') for p, f in map(E.parse_line, res.out.decode().splitlines())}


def check_fingerprints(t, work, trees):
    """Two fingerprinted inputs (plain, lz4hc): the merged image has their
    values; a third without them (zstd, inline tails): computed."""
    name = 'fp'
    got = check_merge(t, work, name, trees,
                      [['--fingerprint'], ['--fingerprint', '-z', 'lz4hc'],
                       ['-z', 'zstd', '-E', 'ztailpacking']])
    if not got:
        return
    out, imgs = got
    merged = fingerprints(out, os.path.dirname(imgs[0]))
    inputs = {}
    for img in imgs[:2]:
        inputs.update(fingerprints(img))
    files = [p for p, f in merged.items() if f]
    t.check(len(files) > 10, 'fp: %d files with a fingerprint' % len(files))
    hand = os.path.join(work, name + '-union')
    wrong = []
    for p in files:
        with open(os.path.join(hand, p), 'rb') as f:
            want = 'erofs.fingerprint.v1:' + (b'sha256:' + hashlib.sha256(f.read()).digest()).hex()
        if merged[p] != want:
            wrong.append('%s: %s, content %s' % (p, merged[p], want))
    t.check(not wrong, 'fp: every fingerprint is its content\'s SHA-256', '\n'.join(wrong))
    kept = [p for p in files if inputs.get(p) == merged[p]]
    t.check(kept, 'fp: %d fingerprints as the inputs have them' % len(kept))
    plain = [p for p in merged if not merged[p] and os.path.isfile(os.path.join(hand, p)) and
             not os.path.islink(os.path.join(hand, p)) and
             os.path.getsize(os.path.join(hand, p))]
    t.check(not plain, 'fp: no file with data lacks one', ' '.join(plain))
    E.must(t, E.eroot('fsck', *device_args(imgs), out, timeout=600),
           'fp: eroot fsck --device checks the fingerprints')
    other = os.path.join(work, 'fp-other.erofs')
    E.mkfs(t, other, trees[2], '--fingerprint=trusted.other.v1')
    bad = os.path.join(work, 'fp-bad.erofs')
    res = E.eroot('merge', bad, imgs[0], other)
    E.sane_failure(t, res, 'fp: inputs of two fingerprint names: refused', 2,
                   command='merge')
    t.check(b'fingerprint name' in res.err and not os.path.exists(bad),
            'fp: the refusal names the fingerprint, and leaves no OUT', res.err)


def main():
    t = E.Checker('merge')
    E.require_root()
    E.require_kernel_erofs()
    work = E.scratch('merge')
    rnd = random.Random(14)
    trees = []
    for k in range(10):
        trees.append(os.path.join(work, 'layer%d' % k))
        make_layer(trees[-1], k, rnd)

    check_merge(t, work, 'two', trees[:2], [[], ['-z', 'lz4hc']],
                expect_copied=lambda c: c == 0)
    check_merge(t, work, 'three', trees[:3],
                [['-z', 'zstd', '-E', 'ztailpacking'], [], ['-z', 'lz4hc', '-C', '16384']])
    kinds = [[], ['-z', 'lz4hc'], ['-z', 'zstd', '-E', 'ztailpacking'], ['-b', '4096'],
             ['-z', 'lz4', '-E', 'fragments'], ['-z', 'lzma'], ['-z', 'deflate', '-C', '16384'],
             [], ['-z', 'lz4hc', '-E', 'ztailpacking'], ['-z', 'zstd', '-C', '65536']]
    ten = check_merge(t, work, 'ten', trees, kinds)

    # fragments cannot be referred to: copied, and said so
    check_merge(t, work, 'fragments', trees[3:5], [['-z', 'lz4', '-E', 'all-fragments'], []],
                expect_copied=lambda c: c > 0)

    check_fingerprints(t, work, trees[4:7])

    # --copy: one image that stands alone
    if ten:
        alone = os.path.join(work, 'alone.erofs')
        if E.must(t, E.eroot('merge', '-q', '--copy', alone, *ten[1]), 'eroot merge --copy'):
            hand = os.path.join(work, 'ten-union')
            with E.try_mount(t, alone, os.path.join(work, 'alone-mnt'),
                             '--copy: mounts with no device') as m:
                if m:
                    E.same_manifest(t, E.manifest(hand), E.manifest(m),
                                    '--copy: the kernel reads the union')
            E.must(t, E.eroot('fsck', alone), '--copy: eroot fsck with no device')

    # inputs of two block sizes: refused, and no OUT
    small = os.path.join(work, 'b1024.erofs')
    E.mkfs(t, small, trees[0], '-b', '1024')
    out = os.path.join(work, 'mixed.erofs')
    res = E.eroot('merge', out, os.path.join(work, 'two-inputs', 'two-0.erofs'), small)
    E.sane_failure(t, res, 'a merge of 4096- and 1024-byte blocks', 2)
    t.check('block size' in res.err.decode(), 'the refusal names the block size',
            res.err.decode())
    t.check(not os.path.exists(out), 'a failed merge leaves no OUT')
    t.exit()


if __name__ == '__main__':
    main()
