#!/usr/bin/python3
"""eroot merge on Debian's 6.12 and 7.3 kernels under QEMU: a merge of 3
layers (plain with inline tails, lz4hc, lz4hc with ztailpacking; whiteouts
and an opaque directory, test_merge.py's layers) and its inputs go to the
guest as virtio disks; tests/merge-probe.c, /init of an eroot initrd,
mounts the merged image with one device= per input and sends the SHA-256
of every file, then copies the disks into a ramfs and tries file-backed
mounts.  Asserted, on each kernel:
  - block primary with block devices: mounts, and every file's SHA-256
    equals the union built by hand on the host;
  - a regular-file primary with regular files as device= (mount(2)):
    mounts and reads the same (file-backed mounts, 6.12 and later);
  - the other pairings are printed (docs/multidev.md has what they gave).
One boot per kernel, about a minute each of TCG.  SKIP when a kernel or
the QEMU kit cannot be had."""
import hashlib
import lzma
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402
import eroottest as E  # noqa: E402
import mkinitramfs as mk  # noqa: E402
import test_merge  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 300
KINDS = [[], ['-z', 'lz4hc'], ['-z', 'lz4hc', '-E', 'ztailpacking']]


def probe_initrd(t, work, kver, modules_dir, series):
    exe = os.path.join(work, 'merge-probe')
    if not os.path.exists(exe):
        subprocess.run(['cc', '-static', '-O2', '-o', exe,
                        os.path.join(TESTS_DIR, 'merge-probe.c'), '-lcrypto'],
                       check=True, stderr=subprocess.DEVNULL)
    with open(exe, 'rb') as f:
        probe = f.read()
    for base in ('lib/modules', 'usr/lib/modules'):
        ko = os.path.join(modules_dir, base, kver, 'kernel/drivers/block/virtio_blk.ko.xz')
        if os.path.exists(ko):
            break
    with open(ko, 'rb') as f:
        virtio_blk = lzma.decompress(f.read())
    src = os.path.join(work, 'probe-%s.cpio' % series)
    with open(src, 'wb') as f:
        f.write(mk.newc([mk.dirent('merge'), mk.reg('merge/virtio_blk.ko', virtio_blk),
                         mk.reg('init', probe, 0o755)]))
    out = os.path.join(work, 'merge-%s.img' % series)
    res = E.eroot('initrd', '-q', '-k', kver, '--modules-dir', modules_dir, out, src,
                  timeout=600)
    return out if E.must(t, res, '%s: eroot initrd of the probe' % series) else None


def host_sums(tree):
    sums = {}
    for dirpath, _, files in os.walk(tree):
        for n in files:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, 'rb') as f:
                    sums[os.path.relpath(p, tree)] = hashlib.sha256(f.read()).hexdigest()
    return sums


def run_kernel(t, work, k, images, want):
    initrd = probe_initrd(t, work, k.kver, k.modules_dir, k.name)
    if not initrd:
        return
    disks = ()
    for image in images:
        disks += ('-drive', 'file=%s,format=raw,if=virtio,readonly=on' % image)
    res = boot.boot(k.vmlinuz, initrd, append='merge.devices=%d' % (len(images) - 1),
                    qemu=k.qemu, qemu_args=tuple(k.qemu_args) + disks, timeout=TIMEOUT,
                    log_dir=os.path.join(work, 'log-' + k.name))
    print('%s (%s): boot %.1f s, rc %s' % (k.name, k.kver, res.seconds, res.rc), flush=True)
    if not t.check(any(l == 'EROOT-MERGE-DONE' for _, l in res.serial) and not res.timed_out,
                   '%s: the probe ran to its end' % k.name, res.describe()):
        return
    got, tries, errors = {'blk': {}, 'file': {}}, {}, []
    for _, line in res.serial:
        w = line.split()
        if line.startswith('F ') and len(w) == 4:
            got[w[1]][w[2]] = w[3]
        elif line.startswith('T ') and len(w) == 3:
            tries[w[1]] = w[2][3:]
        elif line.startswith('ERR '):
            errors.append(line)
    print('%s: device= pairings (primary-devices): %s' %
          (k.name, ' '.join('%s=%s' % kv for kv in sorted(tries.items()))), flush=True)
    t.check(not errors, '%s: no error in the guest' % k.name, '\n'.join(errors[:20]))
    for kind in ('blk', 'file'):
        mounted = tries.get(kind + '-' + kind) == '0'
        t.check(mounted, '%s: a %s primary with %s devices mounts' % (k.name, kind, kind),
                repr(tries))
        if mounted:
            bad = sorted(p for p in set(want) | set(got[kind])
                         if want.get(p) != got[kind].get(p))
            t.check(not bad, '%s (%s mount): the %d files read in the guest equal the union'
                    % (k.name, kind, len(want)), '\n'.join(bad[:20]))


def main():
    E.require_root()
    t = E.Checker('merge-kernels')
    try:
        kit = boot.fixture('boot-kit')
        k7 = boot.fixture('kernel-7')
    except boot.FixtureError as e:
        E.skip('no QEMU kit or 7.x kernel fixture (boot-kit, kernel-7): %s' % e)
    qargs = tuple(kit['QEMU10_ARGS'].split())
    kernels = [
        boot.Kernel('6.12', kit['BPO_VMLINUZ'], kit['BPO_MODULES_DIR'], kit['BPO_KVER'],
                    kit['QEMU10'], qargs),
        boot.Kernel('7.3', k7['K7_VMLINUZ'], k7['K7_MODULES_DIR'], k7['K7_KVER'],
                    kit['QEMU10'], qargs),
    ]
    work = E.scratch('merge-kernels')
    rnd = random.Random(143)
    trees = []
    for k in range(3):
        trees.append(os.path.join(work, 'layer%d' % k))
        test_merge.make_layer(trees[-1], k, rnd)
    images = [os.path.join(work, 'merged.erofs')]
    for i, (tree, opts) in enumerate(zip(trees, KINDS)):
        images.append(os.path.join(work, 'in%d.erofs' % i))
        E.mkfs(t, images[-1], tree, *opts)
    if not E.must(t, E.eroot('merge', '-q', images[0], *images[1:]), 'eroot merge of 3'):
        t.exit()
    hand = os.path.join(work, 'union')
    test_merge.union(trees, hand)
    want = host_sums(hand)
    print('merged %d bytes over %s bytes of inputs, %d files' %
          (os.path.getsize(images[0]), '+'.join(str(os.path.getsize(i)) for i in images[1:]),
           len(want)), flush=True)
    for k in kernels:
        run_kernel(t, work, k, images, want)
    t.exit()


if __name__ == '__main__':
    main()
