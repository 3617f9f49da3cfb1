#!/usr/bin/python3
"""Page-cache sharing (Linux 7.0 inode_share) on the 7.3 kernel under QEMU.

Two fingerprinted images of mostly the same files (a generated tree, and a
copy with files changed, added and removed) go to the guest as virtio disks;
tests/share-probe.c, /init of an eroot initrd made with --fingerprint and
--share-domain, mounts both in one domain, in two domains and without
inode_share, reads every file of both and reports how much Cached grew,
how much of the second image was resident before it was read (mincore) and
the SHA-256 of every file it read.  Asserted:
  - every file read in the guest equals its source (the SHA-256 lists);
  - both mounts kept inode_share in the share modes (the kernel drops it
    for an image without fingerprints);
  - one domain: reading the second image grew Cached by about its unique
    bytes, and the files it shares with the first were resident before it
    was read; two domains and no sharing: it grew by all of its bytes,
    nothing of it was resident;
  - the loader mounted its own image with the domain (its eroot.debug line).
Expected figures are page-rounded file sizes (4 KiB pages: a tail of a few
bytes takes a page).  Tolerance: 5 % + 1 MiB, for what else moves Cached
while files are read (directories' pages, readahead of the kernel's own
files, the probe's): a share mode off by the shared bytes (8+ MiB here)
cannot pass.  One boot, about 60-90 s of TCG.  SKIP when the 7.3 kernel or
the reference mkfs.erofs fixture cannot be had.
"""
import hashlib
import lzma
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402
import eroottest as et  # noqa: E402
import mkinitramfs as mk  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
PAGE = 4096
TIMEOUT = 300
SLACK_KB = 1024
SLACK_FRACTION = 0.05


# ------------------------------------------------------------ the trees

def tree_a(rng):
    """{relative path: bytes}: 48 random files from 100 bytes to 1.5 MiB
    (no two alike: duplicates inside one image would share too)."""
    files = {}
    for i in range(48):
        size = rng.choice((100, 3000, 4096, 5000, 65536, 200000, 700001, 1500000))
        files['d%d/f%02d.bin' % (i % 4, i)] = rng.randbytes(size + i)
    return files


def tree_b(a, rng):
    """A with 6 files changed (one byte or a tail), 4 added, 3 removed."""
    b = dict(a)
    names = sorted(a)
    for name in names[:6]:
        data = bytearray(b[name])
        data[len(data) // 2] ^= 0x55
        b[name] = bytes(data)
    for name in names[6:9]:
        del b[name]
    for i in range(4):
        b['new/n%d.bin' % i] = rng.randbytes(300000 + i)
    return b


def write_tree(root, files):
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)


def pages_kb(data):
    return -(-len(data) // PAGE) * PAGE // 1024


def expected(a, b):
    """kB Cached should grow by reading b after a: sharing, and not."""
    seen = {hashlib.sha256(d).digest() for d in a.values()}
    unique = sum(pages_kb(d) for d in b.values() if hashlib.sha256(d).digest() not in seen)
    shared = sum(pages_kb(d) for d in b.values() if hashlib.sha256(d).digest() in seen)
    return unique, shared, sum(pages_kb(d) for d in b.values())


# ------------------------------------------------------------ the images

def reference_image(tree, image):
    """The reference tool's fingerprinted image (mkfs.erofs 1.9.4 in the
    sid chroot, tests/fixtures/reference-mkfs): @tree is copied into it."""
    root = boot.fixture('reference-mkfs')['MKFS_EROFS_ROOT']
    inside = '/tmp/eroot-share-%d' % os.getpid()
    try:
        shutil.copytree(tree, root + inside + '/tree')
        res = et.run(['env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C',
                      'chroot', root, 'mkfs.erofs', '--quiet', '--xattr-inode-digest',
                      inside + '/image.erofs', inside + '/tree'], timeout=600)
        if res.rc == 0:
            shutil.move(root + inside + '/image.erofs', image)
        return res
    finally:
        shutil.rmtree(root + inside, ignore_errors=True)


def eroot_image(tree, image):
    return et.eroot('mkfs', '--fingerprint', '-q', image, tree, timeout=600)


# eroot's own fingerprinted images (reference_image() stays for comparison).
build_image = eroot_image


# ------------------------------------------------------------ the guest

def probe_initrd(t, work, kver, modules_dir):
    """An eroot initrd (--fingerprint, --share-domain boot) of the probe as
    /init with virtio_blk.ko beside it."""
    exe = os.path.join(work, 'share-probe')
    subprocess.run(['cc', '-static', '-O2', '-o', exe, os.path.join(TESTS_DIR, 'share-probe.c'),
                    '-lcrypto'], check=True, stderr=subprocess.DEVNULL)
    with open(exe, 'rb') as f:
        probe = f.read()
    ko = os.path.join(modules_dir, 'lib/modules', kver, 'kernel/drivers/block/virtio_blk.ko.xz')
    if not os.path.exists(ko):
        ko = os.path.join(modules_dir, 'usr/lib/modules', kver,
                          'kernel/drivers/block/virtio_blk.ko.xz')
    with open(ko, 'rb') as f:
        virtio_blk = lzma.decompress(f.read())
    src = os.path.join(work, 'probe.cpio')
    with open(src, 'wb') as f:
        f.write(mk.newc([mk.dirent('share'), mk.reg('share/virtio_blk.ko', virtio_blk),
                         mk.reg('init', probe, 0o755)]))
    out = os.path.join(work, 'share-eroot.img')
    res = et.eroot('initrd', '-q', '--fingerprint', '--share-domain', 'boot', '-k', kver,
                   '--modules-dir', modules_dir, out, src, timeout=600)
    return out if et.must(t, res, 'eroot initrd --fingerprint --share-domain boot') else None


def disks(*images):
    args = ()
    for image in images:
        args += ('-drive', 'file=%s,format=raw,if=virtio,readonly=on' % image)
    return args


def guest_report(res):
    """{'a'|'b': {path: hex}}, [{mode fields}], [ERR lines] from ttyS1."""
    files = {'a': {}, 'b': {}}
    rounds, errors = [], []
    for _, line in res.serial:
        words = line.split()
        if line.startswith('F ') and len(words) == 4:
            files[words[1]][words[2]] = words[3]
        elif line.startswith('M '):
            rounds.append(boot._fields('M ' + line[2:]))
        elif line.startswith('ERR '):
            errors.append(line)
    return files, rounds, errors


def near(got, want):
    return abs(got - want) <= SLACK_KB + SLACK_FRACTION * want


def check_rounds(t, rounds, first, unique, shared, total):
    by_mode = {r['mode']: r for r in rounds}
    for r in rounds:
        t.check(near(r['a'], first), '%s: reading the first image grew Cached by its %d kB '
                '(got %d kB)' % (r['mode'], first, r['a']), repr(r))
    t.check(sorted(by_mode) == ['none', 'other', 'same'], 'a report for each mode',
            repr(rounds))
    same, other, none = by_mode.get('same'), by_mode.get('other'), by_mode.get('none')
    if same:
        t.check(same['kepta'] == 1 and same['keptb'] == 1,
                'one domain: both mounts kept inode_share', repr(same))
        t.check(near(same['b'], unique),
                'one domain: reading the second image grew Cached by its unique %d kB '
                '(got %d kB; without sharing %d kB)' % (unique, same['b'], total), repr(same))
        t.check(near(same['preres'], shared),
                'one domain: its %d kB shared with the first were resident before it was '
                'read (mincore: %d kB)' % (shared, same['preres']), repr(same))
    for r, what in ((other, 'two domains'), (none, 'no inode_share')):
        if not r:
            continue
        t.check(near(r['b'], total), '%s: reading the second image grew Cached by all its %d '
                'kB (got %d kB)' % (what, total, r['b']), repr(r))
        t.check(r['preres'] <= SLACK_KB, '%s: nothing of it resident before (%d kB)' %
                (what, r['preres']), repr(r))
    if same and none:
        t.check(none['total'] - same['total'] >= shared * (1 - SLACK_FRACTION) - SLACK_KB,
                'sharing saved about the shared %d kB (%d kB with sharing, %d without)' %
                (shared, same['total'], none['total']))


def loader_shares(t, res):
    """The loader mounted its image with inode_share,domain_id=boot: the
    kernel took it, and kept it where the image has fingerprints (eroot
    initrd --fingerprint, once the builder writes them)."""
    lines = [l for l in res.console.splitlines() if 'root.erofs: ' in l and 'shar' in l]
    t.check(len(lines) == 1 and 'refused' not in res.console,
            'the loader mounted its image in the domain "boot"', res.describe())
    print('loader: %s' % (lines[0] if lines else '(no line)'), flush=True)
    mkfs_help = et.eroot('mkfs', '--help')
    if b'--fingerprint' in mkfs_help.out:
        t.check(lines and 'sharing its page cache' in lines[0],
                'the image of eroot initrd --fingerprint has fingerprints: the kernel kept '
                'inode_share', '\n'.join(lines))


def main():
    et.require_root()
    t = et.Checker('share')
    work = et.scratch('share')
    try:
        k7 = boot.fixture('kernel-7')
        kit = boot.fixture('boot-kit')
    except boot.FixtureError as e:
        et.skip('no 7.x kernel fixture (tests/fixtures/kernel-7): %s' % e)
    try:
        boot.fixture('reference-mkfs')
    except boot.FixtureError as e:
        if build_image is reference_image:
            et.skip('no reference mkfs.erofs to fingerprint the images: %s' % e)
    rng = random.Random(14)
    a = tree_a(rng)
    b = tree_b(a, rng)
    images = []
    for name, files in (('a', a), ('b', b)):
        tree = os.path.join(work, 'tree-' + name)
        write_tree(tree, files)
        image = os.path.join(work, name + '.erofs')
        if not et.must(t, build_image(tree, image), 'fingerprinted image ' + name):
            t.exit()
        images.append(image)
    unique, shared, total = expected(a, b)
    print('second image: %d kB, %d kB of it shared with the first, %d kB its own' %
          (total, shared, unique), flush=True)
    initrd = probe_initrd(t, work, k7['K7_KVER'], k7['K7_MODULES_DIR'])
    if not initrd:
        t.exit()
    res = boot.boot(k7['K7_VMLINUZ'], initrd, append='eroot.debug', qemu=kit['QEMU10'],
                    qemu_args=tuple(kit['QEMU10_ARGS'].split()) + disks(*images),
                    timeout=TIMEOUT, log_dir=os.path.join(work, 'log'))
    print('boot: %.1f s, rc %s' % (res.seconds, res.rc), flush=True)
    done = any(line == 'EROOT-SHARE-DONE' for _, line in res.serial)
    if not t.check(done and not res.timed_out, 'the probe ran to its end', res.describe()):
        t.exit()
    files, rounds, errors = guest_report(res)
    t.check(not errors, 'no error in the guest', '\n'.join(errors[:20]))
    for name, src in (('a', a), ('b', b)):
        want = {rel: hashlib.sha256(d).hexdigest() for rel, d in src.items()}
        bad = sorted(p for p in set(want) | set(files[name]) if want.get(p) != files[name].get(p))
        t.check(not bad, 'image %s: the %d files read in the guest equal their sources' %
                (name, len(want)), '\n'.join(bad[:20]))
    for r in rounds:
        print('guest: ' + ' '.join('%s=%s' % kv for kv in r.items()), flush=True)
    check_rounds(t, rounds, sum(pages_kb(d) for d in a.values()), unique, shared, total)
    loader_shares(t, res)
    t.exit()


if __name__ == '__main__':
    main()
