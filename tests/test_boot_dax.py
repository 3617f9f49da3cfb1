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
holds its own clone) and reading all of it grows Cached by less than 5% of
its bytes.  On 6.12 a --layer image sits on top, mounted from its file.
failures: one byte of the DAX image flipped after the initrd was made
gives one "eroot: verifying /dev/pmem0 failed" line; no device attached
gives one "eroot: finding the DAX image failed" line after eroot.dax.wait
(default 5 s); neither hangs.
"""
import os
import random
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


def dax_ok(t, res, what, want_layer=False):
    tb.loader_ok(t, res, what)
    t.check('mounted dax=always' in res.console, what + ': the loader mounted /dev/pmem0 '
            'dax=always', res.describe())
    f = res.fields
    for key, want in (('pid', 1), ('overlay', 1), ('own', 'from-the-image'), ('dax', 1),
                      ('daxread', BIG_BYTES)) + ((('layer', 'from-the-layer'),)
                                                 if want_layer else ()):
        t.check(f.get(key) == want, '%s: %s=%s' % (what, key, want), res.verdict or
                res.describe())
    grow = f.get('cachedgrow')
    t.check(isinstance(grow, int) and grow * 1024 < CACHED_GROWTH_MAX * BIG_BYTES,
            '%s: reading %d bytes grew Cached by %s kB, under 5%%' % (what, BIG_BYTES, grow),
            res.verdict or res.describe())
    print('%s: %s' % (what, res.summary()), flush=True)


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
    made = dax_initrd(t, work, kernel, *args)
    if not made:
        return
    out, image = made
    opts = dict(qemu=kernel.qemu, timeout=TIMEOUT)
    res = boot.boot(kernel.vmlinuz, out, append='eroot.debug', memory='1G,slots=2,maxmem=4G',
                    qemu_args=kernel.qemu_args + pmem_args(image), **opts)
    dax_ok(t, res, '%s virtio-pmem' % name, want_layer=bool(args))
    size = os.path.getsize(image)
    res = boot.boot(kernel.vmlinuz, out, memory='1G',
                    append='eroot.debug memmap=%dM!0x%x' % (size >> 20, MEMMAP_ADDR),
                    qemu_args=kernel.qemu_args + memmap_args(image), **opts)
    dax_ok(t, res, '%s memmap=' % name, want_layer=bool(args))
    t.check('nd_e820' in res.console or 'memmap' in res.console or res.ok,
            '%s memmap=: the range became /dev/pmem0' % name, res.describe())


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
