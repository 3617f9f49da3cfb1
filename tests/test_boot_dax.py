#!/usr/bin/python3
"""eroot initrd --dax booting stock Debian kernels under QEMU (TCG): the
content image on a DAX device, mounted dax=always by the loader.  The
verdict comes on ttyS1 (tests/boot-init-probe.c as the image's /init).

    test_boot_dax.py KERNEL     6.1|6.12|7.3: virtio-pmem, then memmap=
    test_boot_dax.py failures   a wrong digest, no device (6.12)

virtio-pmem: the image is a read-only memory-backend-file behind a
virtio-pmem-pci device; memmap=: QEMU's generic loader device places the
image at ADDR, as a boot loader would, and the kernel command line says
memmap=SIZE!ADDR, so that nd_e820 makes it /dev/pmem0.  Both reach the
probe on an overlayfs root; the loader said it mounted the device
dax=always, the probe's big uncompressed file comes through DAX (statx's
STATX_ATTR_DAX: the lower mount itself is detached by then, overlayfs
holds its own clone), so does a 15-byte one (the DAX layout stores no
inline tail), and reading all of the big one grows Cached by less than 5%
of its bytes; a 304 KiB text file comes through DAX too, except on 7.3,
whose image is -z lz4hc with a --hot-list of the other files: that one is
compressed, in the page cache.  The loader loads only the provider whose
device it sees: the guest's /proc/modules has virtio_pmem and no nd_e820
in the virtio-pmem boot, nd_e820 and none of virtio_pmem, nd_virtio,
virtio_pci (a module on 6.1) in the memmap= one.  On 6.12 a --layer image sits on top,
mounted from its file, and Debian's initramfs-tools initrd made with --dax
boots the fixture's root disk to its marker.
failures: one byte of the DAX image flipped after the initrd was made
gives one "eroot: verifying /dev/pmem0 failed" line; no device attached
gives one "eroot: finding the DAX image failed" line after eroot.dax.wait
(default 5 s), as does a device of zeros (naming what it lacks, after
eroot.dax.wait=1); the image on an NVMe disk named by eroot.dax=, which EROFS
mounts without DAX, gives one "eroot: mounting the DAX image failed" line;
none hangs.
"""
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402
import eroottest as et  # noqa: E402
import mkinitramfs as mk  # noqa: E402
import test_boot as tb  # noqa: E402

TIMEOUT = 240
# memmap=: where the generic loader device puts the image.  512 MiB, in a
# 1 GiB guest: above the kernel (16 MiB; KASLR avoids memmap= ranges) and
# below the initrd, which QEMU puts at the top of low memory.
MEMMAP_ADDR = 0x20000000
# A file of the image served by DAX: uncompressed, a whole number of blocks
# (no inline tail), random (no holes).
BIG_BYTES = 24 << 20
CACHED_GROWTH_MAX = 0.05      # of the bytes read


def big_data():
    return random.Random(13).randbytes(BIG_BYTES)


def dax_initrd(t, work, kernel, *args):
    """The probe initramfs (its /init, /etc/probe-own, /etc/probe-dax-big)
    made into an eroot initrd with --dax: (initrd, image) or None."""
    src = os.path.join(work, 'dax-src.cpio')
    entries = [mk.dirent('etc'), mk.reg('etc/probe-own', b'from-the-image\n'),
               mk.reg('etc/probe-dax-big', big_data()),
               mk.reg('etc/probe-cold', b'compressible text, ' * 16384),
               mk.reg('init', tb.probe_binary(work), 0o755)]
    with open(src, 'wb') as f:
        f.write(mk.newc(entries))
    out = os.path.join(work, 'dax-%s.img' % kernel.name)
    image = os.path.join(work, 'dax-%s.erofs' % kernel.name)
    res = et.eroot('initrd', '--dax', image, '-k', kernel.kver, '--modules-dir',
                   kernel.modules_dir, *args, out, src, timeout=600)
    if not et.must(t, res, 'eroot initrd --dax (%s)' % kernel.name):
        return None
    size = os.path.getsize(image)
    t.check(size % (2 << 20) == 0, '%s: the DAX image is a multiple of 2 MiB (%d)' %
            (kernel.name, size))
    t.check(('memmap=%dM!' % (size >> 20)).encode() in res.out,
            '%s: eroot initrd says how to attach it (memmap=%dM!ADDR)' % (kernel.name,
                                                                        size >> 20),
            res.describe())
    with open(out, 'rb') as f:
        data = f.read()
    t.check(b'eroot/root.erofs' not in data and b'\ndax-image ' in data,
            '%s: the initrd holds no content image, its configuration a dax-image line'
            % kernel.name)
    return out, image


def pmem_args(image):
    return ('-object', 'memory-backend-file,id=pm0,share=off,readonly=on,mem-path=%s,size=%d'
            % (image, os.path.getsize(image)), '-device', 'virtio-pmem-pci,memdev=pm0')


def memmap_args(image):
    return ('-device', 'loader,file=%s,addr=0x%x,force-raw=on' % (image, MEMMAP_ADDR))


def dax_ok(t, res, what, want_layer=False, compressed=False):
    tb.loader_ok(t, res, what)
    t.check('mounted dax=always' in res.console, what + ': the loader mounted /dev/pmem0 '
            'dax=always', res.describe())
    f = res.fields
    # daxown: a 15-byte file, which the DAX layout stores flat, not inline;
    # daxcold: 304 KiB of text, compressed (not DAX) when the image is
    for key, want in (('pid', 1), ('overlay', 1), ('own', 'from-the-image'), ('dax', 1),
                      ('daxread', BIG_BYTES), ('daxown', 1),
                      ('daxcold', 0 if compressed else 1)) + (
                          (('layer', 'from-the-layer'),) if want_layer else ()):
        t.check(f.get(key) == want, '%s: %s=%s' % (what, key, want), res.verdict or
                res.describe())
    grow = f.get('cachedgrow')
    t.check(isinstance(grow, int) and grow * 1024 < CACHED_GROWTH_MAX * BIG_BYTES,
            '%s: reading %d bytes grew Cached by %s kB, under 5%%' % (what, BIG_BYTES, grow),
            res.verdict or res.describe())
    print('%s: %s' % (what, res.summary()), flush=True)


def one_provider(t, res, what, want, unwanted):
    """The loader saw which device there is and loaded that provider's
    modules alone: by the guest's /proc/modules (the probe's modules=)."""
    mods = str(res.fields.get('modules', '')).split(',')
    t.check(want in mods and not [m for m in unwanted if m in mods],
            '%s: %s loaded, none of %s' % (what, want, ', '.join(unwanted)),
            res.verdict or res.describe())
    t.check(re.search(r'eroot: \[[0-9.]+\] DAX providers: .*seen, not loading', res.console),
            what + ': the loader says which provider it saw', res.describe())


def kernel_named(name):
    for k in boot.kernels():
        if k.name == name:
            return k
    raise boot.FixtureError('no kernel %s among the fixtures' % name)


def boots(t, work, name):
    kernel = kernel_named(name)
    args = ()
    if name == '6.12':   # a layer over the DAX image, mounted from its file
        layer = tb.layer_image(t, work, (('probe-layer', 'from-the-layer\n'),))
        if not layer:
            return
        args = ('--layer', layer)
    if name == '7.3':    # hot files through DAX, the cold one compressed
        hot = os.path.join(work, 'hot-list')
        with open(hot, 'w') as f:
            f.write('/init\n/etc/probe-own\n/etc/probe-dax-big\n')
        args = ('-z', 'lz4hc', '--hot-list', hot)
    compressed = name == '7.3'
    made = dax_initrd(t, work, kernel, *args)
    if not made:
        return
    out, image = made
    opts = dict(qemu=kernel.qemu, timeout=TIMEOUT)
    res = boot.boot(kernel.vmlinuz, out, append='eroot.debug', memory='1G,slots=2,maxmem=4G',
                    qemu_args=kernel.qemu_args + pmem_args(image), **opts)
    dax_ok(t, res, '%s virtio-pmem' % name, want_layer=name == '6.12', compressed=compressed)
    one_provider(t, res, '%s virtio-pmem' % name, 'virtio_pmem', ('nd_e820',))
    size = os.path.getsize(image)
    res = boot.boot(kernel.vmlinuz, out, memory='1G',
                    append='eroot.debug memmap=%dM!0x%x' % (size >> 20, MEMMAP_ADDR),
                    qemu_args=kernel.qemu_args + memmap_args(image), **opts)
    dax_ok(t, res, '%s memmap=' % name, want_layer=name == '6.12', compressed=compressed)
    one_provider(t, res, '%s memmap=' % name, 'nd_e820',
                 ('virtio_pmem', 'nd_virtio', 'virtio_pci'))
    memmap_placed(t, res, '%s memmap=' % name, size)
    if name == '6.12':
        real_root(t, work)


def real_root(t, work):
    """Debian's own initramfs-tools initrd for 6.12 with --dax: its init
    runs on the DAX image and switches to the fixture's root disk."""
    root, vmlinuz, initrd, qemu, qargs = tb.kernel_of('initramfs-tools', '6.12')
    disk = boot.root_disk(root, os.path.join(work, 'root.img'))
    out, image = os.path.join(work, 'real.img'), os.path.join(work, 'real.dax')
    if not tb.eroot_initrd(t, out, initrd, '--dax', image, '--modules-dir', root):
        return
    res = boot.boot(vmlinuz, out, disk=disk, append='eroot.debug', qemu=qemu, timeout=TIMEOUT,
                    memory='1G,slots=2,maxmem=4G', qemu_args=qargs + pmem_args(image))
    tb.loader_ok(t, res, 'initramfs-tools 6.12 --dax')
    t.check('mounted dax=always' in res.console, 'initramfs-tools 6.12 --dax: the image '
            'mounted dax=always', res.describe())
    print('initramfs-tools 6.12 --dax: %s' % res.summary(), flush=True)


def memmap_placed(t, res, what, size):
    """The kernel took the range as persistent memory (e820 type 12) and
    QEMU put the initrd elsewhere."""
    t.check(re.search(r'user: \[mem 0x0*%x-0x0*%x\] +persistent.*\(type 12\)' %
                      (MEMMAP_ADDR, MEMMAP_ADDR + size - 1), res.console),
            what + ': the e820 map has the range as persistent memory (type 12)',
            res.describe())
    m = re.search(r'RAMDISK: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]', res.console)
    t.check(m and (int(m.group(1), 16) >= MEMMAP_ADDR + size or
                   int(m.group(2), 16) < MEMMAP_ADDR),
            what + ': the initrd does not overlap the range (%s)' % (m and m.group(0)),
            res.describe())


def failures(t, work):
    kernel = kernel_named('6.12')
    made = dax_initrd(t, work, kernel)
    if not made:
        return
    out, image = made
    opts = dict(qemu=kernel.qemu, timeout=TIMEOUT, memory='1G,slots=2,maxmem=4G')
    broken = os.path.join(work, 'broken.erofs')
    with open(image, 'rb') as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0x55
    with open(broken, 'wb') as f:
        f.write(data)
    res = boot.boot(kernel.vmlinuz, out, qemu_args=kernel.qemu_args + pmem_args(broken), **opts)
    tb.expect_failure(t, 'a changed byte of the DAX image', res,
                      'eroot: verifying /dev/pmem0 failed: sha256 ')
    res = boot.boot(kernel.vmlinuz, out, qemu_args=kernel.qemu_args, **opts)
    tb.expect_failure(t, 'no DAX device', res, 'eroot: finding the DAX image failed: ')
    lines = [l for l in res.console.splitlines() if l.startswith('eroot: ')]
    t.check(len(lines) == 1 and 'after 5 s' in lines[0],
            'no DAX device: one line, after the default wait of 5 s', '\n'.join(lines))
    print('no device: %s' % res.summary(), flush=True)
    # a device of the right size holding no image, and a shorter wait
    zeros = os.path.join(work, 'zeros.img')
    with open(zeros, 'wb') as f:
        f.truncate(os.path.getsize(image))
    res = boot.boot(kernel.vmlinuz, out, append='eroot.dax.wait=1',
                    qemu_args=kernel.qemu_args + pmem_args(zeros), **opts)
    tb.expect_failure(t, 'a device without the image', res,
                      'eroot: finding the DAX image failed: no /dev/pmem* holds its %d bytes '
                      'after 1 s (/dev/pmem0: no EROFS superblock;' % os.path.getsize(image))
    # the image on a device that has no DAX (NVMe, built into 6.12's cloud
    # kernel), named by eroot.dax=: EROFS mounts it without DAX, with a
    # warning only; the loader refuses that
    nvme = ('-drive', 'file=%s,if=none,id=d0,format=raw,readonly=on' % image,
            '-device', 'nvme,drive=d0,serial=eroot')
    res = boot.boot(kernel.vmlinuz, out, append='eroot.dax=nvme0n1',
                    qemu_args=kernel.qemu_args + nvme, **opts)
    tb.expect_failure(t, 'a device without DAX', res, 'eroot: mounting the DAX image failed: '
                      '/dev/nvme0n1: the kernel refused DAX')


def main():
    args = sys.argv[1:]
    if args not in (['6.1'], ['6.12'], ['7.3'], ['failures']):
        sys.exit(__doc__)
    et.require_root()
    t = et.Checker('boot-dax-' + args[0])
    work = et.scratch('boot-dax-' + args[0])
    try:
        if args[0] == 'failures':
            failures(t, work)
        else:
            boots(t, work, args[0])
    except boot.FixtureError as e:
        t.check(False, 'fixtures', str(e))
    t.exit()


if __name__ == '__main__':
    main()
