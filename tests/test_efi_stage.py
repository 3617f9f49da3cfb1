#!/usr/bin/python3
"""The UEFI stage (tools/eroot-efi) under OVMF, QEMU TCG.

    test_efi_stage.py

An ESP (a FAT image: mkfs.vfat + mcopy) holds the stage as
\\EFI\\BOOT\\BOOTX64.EFI, its eroot.conf, the debian-root fixture's 6.1
kernel (an EFI-stub PE; bookworm's QEMU), an EROFS image and an initrd.
OVMF boots the stage, which places the image in reserved pages, appends
memmap=SIZE!ADDR and initrd= and starts the kernel's stub.
  placed: the initrd's /init (tests/efi-probe.c) finds memmap= on the
    command line, loads libnvdimm, nd_e820 and nd_pmem from the fixture's
    modules, and reads /dev/pmem0: its size and FNV-1a must be the padded
    image's, and its verdict arrives on ttyS1.
  missing-image: eroot.conf names an image the ESP lacks: one line
    "eroot-efi: opening ... failed: Not Found", then the firmware goes on
    with its next boot option (its "BdsDxe: failed to start" line): no hang.
Needs root (the fixture); SKIP when the stage was not built (no gnu-efi),
or OVMF, mtools or dosfstools are missing: scripts/install-deps installs
them, so CI runs it.
"""
import os
import random
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402
import eroottest as et  # noqa: E402
import mkinitramfs  # noqa: E402

OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd'
OVMF_VARS = '/usr/share/OVMF/OVMF_VARS.fd'
ALIGN = 2 << 20
TIMEOUT = 300
# The probe's modules, dependencies first (the 6.1 fixture's modules.dep).
PROBE_MODULES = ['kernel/drivers/nvdimm/libnvdimm.ko', 'kernel/drivers/nvdimm/nd_btt.ko',
                 'kernel/drivers/nvdimm/nd_pmem.ko', 'kernel/drivers/nvdimm/nd_e820.ko']


def requirements():
    stage = os.environ.get('EROOT_EFI', '')
    if not stage or not os.path.exists(stage):
        et.skip('eroot-efi.efi was not built: gnu-efi is missing (scripts/install-deps '
                'installs it), or -Defi=disabled')
    for path in (OVMF_CODE, OVMF_VARS):
        if not os.path.exists(path):
            et.skip('%s is missing: install the Debian package ovmf' % path)
    for tool, pkg in (('mkfs.vfat', 'dosfstools'), ('mcopy', 'mtools'), ('cc', 'gcc')):
        if not shutil.which(tool):
            et.skip('%s is missing: install the Debian package %s' % (tool, pkg))
    et.require_root()
    return stage


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def content_image(t, work):
    """An EROFS image of a few MiB of random files (not a multiple of 2 MiB:
    the stage pads it)."""
    src = os.path.join(work, 'content')
    os.makedirs(src)
    rng = random.Random(13)
    for i in range(12):
        with open(os.path.join(src, 'file%02d' % i), 'wb') as f:
            f.write(rng.randbytes(rng.randrange(100000, 600000)))
    image = os.path.join(work, 'root.img')
    if not et.must(t, et.eroot('mkfs', '-q', image, src), 'eroot mkfs of the content'):
        return None
    return image


def probe_initrd(t, work, kernel, image):
    """The probe as /init, the pmem modules, and what it must find."""
    init = os.path.join(work, 'efi-probe')
    res = et.run(['cc', '-static', '-Os', '-o', init, os.path.join(et.TESTS_DIR, 'efi-probe.c')])
    if not et.must(t, res, 'cc -static efi-probe.c'):
        return None
    with open(image, 'rb') as f:
        data = f.read()
    padded = data + bytes(-len(data) % ALIGN)
    entries = [mkinitramfs.dirent('probe')]
    with open(init, 'rb') as f:
        entries.append(mkinitramfs.reg('init', f.read(), perm=0o755))
    names = []
    for rel in PROBE_MODULES:
        path = os.path.join(kernel.modules_dir, 'lib/modules', kernel.kver, rel)
        with open(path, 'rb') as f:
            entries.append(mkinitramfs.reg('probe/' + os.path.basename(rel), f.read()))
        names.append('/probe/' + os.path.basename(rel))
    entries.append(mkinitramfs.reg('probe/modules', ''.join(n + '\n' for n in names).encode()))
    entries.append(mkinitramfs.reg('probe/expect', b'%d %x\n' % (len(padded), fnv1a64(padded))))
    initrd = os.path.join(work, 'probe.cpio')
    with open(initrd, 'wb') as f:
        f.write(mkinitramfs.newc(entries))
    return initrd, len(padded), fnv1a64(padded)


def make_esp(t, path, files):
    """A FAT image holding @files ({ESP path: host file}; None: text)."""
    total = sum(os.path.getsize(src) for src in files.values() if os.path.isfile(src))
    kib = (total * 11 // 10 >> 10) + 16384
    res = et.run(['mkfs.vfat', '-C', '-n', 'EROOTESP', path, str(kib)])
    if not et.must(t, res, 'mkfs.vfat the ESP'):
        return False
    dirs = sorted({os.path.dirname(p) for p in files} - {'/'})
    made = set()
    for d in dirs:
        parts = d.strip('/').split('/')
        for i in range(1, len(parts) + 1):
            sub = '/'.join(parts[:i])
            if sub not in made:
                made.add(sub)
                if not et.must(t, et.run(['mmd', '-i', path, '::/' + sub]), 'mmd ' + sub):
                    return False
    for dst, src in files.items():
        if not et.must(t, et.run(['mcopy', '-i', path, src, '::' + dst]), 'mcopy ' + dst):
            return False
    return True


def efi_boot(work, name, kernel, esp, until=None, timeout=TIMEOUT):
    vars_copy = os.path.join(work, name + '-vars.fd')
    shutil.copyfile(OVMF_VARS, vars_copy)
    args = ['-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=' + OVMF_CODE,
            '-drive', 'if=pflash,format=raw,unit=1,file=' + vars_copy,
            '-drive', 'file=%s,format=raw,if=virtio,readonly=on' % esp]
    return boot.boot(None, None, qemu=kernel.qemu, qemu_args=list(kernel.qemu_args) + args,
                     timeout=timeout, until=until, log_dir=os.path.join(work, 'boot-' + name))


def conf(path, lines):
    with open(path, 'w') as f:
        f.write('# written by test_efi_stage.py\n' + ''.join(l + '\n' for l in lines))
    return path


def stage_lines(res):
    return [line[line.index('eroot-efi: '):] for _, line in res.lines if 'eroot-efi: ' in line]


def placed(t, work, stage, kernel):
    image = content_image(t, work)
    made = image and probe_initrd(t, work, kernel, image)
    if not made:
        return
    initrd, size, fnv = made
    # image= relative to the stage's directory, initrd= with '/'
    settings = conf(os.path.join(work, 'eroot.conf'), [
        'kernel=\\EFI\\eroot\\vmlinuz', 'image=root.img', 'initrd=/EFI/eroot/initrd.img',
        'cmdline=console=ttyS0 panic=-1'])
    esp = os.path.join(work, 'esp-placed.img')
    if not make_esp(t, esp, {'/EFI/BOOT/BOOTX64.EFI': stage, '/EFI/BOOT/eroot.conf': settings,
                             '/EFI/BOOT/root.img': image, '/EFI/eroot/vmlinuz': kernel.vmlinuz,
                             '/EFI/eroot/initrd.img': initrd}):
        return
    res = efi_boot(work, 'placed', kernel, esp)
    what = 'stage + %s + probe' % kernel.kver
    print('%s: %s' % (what, res.summary()), flush=True)
    lines = stage_lines(res)
    starting = [l for l in lines if ' starting ' in l]
    t.check(len(lines) == 1 and starting, what + ': the stage prints one line, "starting"',
            res.describe())
    t.check(not res.timed_out and res.rc == 0, what + ': QEMU ended by itself, exit 0',
            res.describe())
    t.check('Kernel panic' not in res.console, what + ': no kernel panic', res.describe())
    if not t.check(res.ok and res.fields.get('probe') == 'efi',
                   what + ': the probe\'s verdict %s on ttyS1' % boot.VERDICT_OK, res.describe()):
        return
    t.check(res.fields.get('size') == size, what + ': /dev/pmem0 is the padded image\'s %d bytes'
            % size, res.verdict)
    t.check(res.fields.get('fnv') == '%016x' % fnv, what + ': /dev/pmem0 holds the image',
            res.verdict)
    addr = res.fields.get('addr', '')
    t.check(starting and ('memmap=%dM!%s' % (size >> 20, addr)).lower() in starting[0].lower() and
            'initrd=\\EFI\\eroot\\initrd.img' in starting[0],
            what + ': the stage\'s command line has the memmap= and initrd= the guest saw',
            starting and starting[0])
    t.check(int(addr, 16) % ALIGN == 0, what + ': the image is 2 MiB aligned', addr)
    load_options(t, work, stage, kernel, image, initrd, size, fnv)


def load_options(t, work, stage, kernel, image, initrd, size, fnv):
    """The settings from LoadOptions, as a chainloader passes them: here
    OVMF's UEFI shell, which runs startup.nsh when the ESP has no
    \\EFI\\BOOT\\BOOTX64.EFI (and passes the program's name first)."""
    nsh = os.path.join(work, 'startup.nsh')
    with open(nsh, 'w') as f:
        f.write('fs0:\\EFI\\eroot\\eroot-efi.efi kernel=\\EFI\\eroot\\vmlinuz '
                'image=/EFI/eroot/root.img initrd=initrd.img -- console=ttyS0 panic=-1\r\n')
    esp = os.path.join(work, 'esp-options.img')
    if not make_esp(t, esp, {'/startup.nsh': nsh, '/EFI/eroot/eroot-efi.efi': stage,
                             '/EFI/eroot/root.img': image, '/EFI/eroot/vmlinuz': kernel.vmlinuz,
                             '/EFI/eroot/initrd.img': initrd}):
        return
    res = efi_boot(work, 'options', kernel, esp)
    what = 'stage from the UEFI shell, settings in LoadOptions'
    print('%s: %s' % (what, res.summary()), flush=True)
    starting = [l for l in stage_lines(res) if ' starting ' in l]
    t.check(len(stage_lines(res)) == 1 and starting and
            starting[0].endswith(' console=ttyS0 panic=-1 initrd=\\EFI\\eroot\\initrd.img '
                                 'memmap=%dM!0x%X' % (size >> 20, int(res.fields.get('addr', '0'), 16))),
            what + ': the command line after --, initrd= relative to the stage, memmap=',
            res.describe())
    t.check(res.ok and res.fields.get('fnv') == '%016x' % fnv,
            what + ': the probe read the image back from /dev/pmem0', res.describe())


def missing_image(t, work, stage, kernel):
    settings = conf(os.path.join(work, 'eroot-missing.conf'), [
        'kernel=\\EFI\\eroot\\vmlinuz', 'image=\\EFI\\eroot\\root.img',
        'initrd=\\EFI\\eroot\\initrd.img', 'cmdline=console=ttyS0 panic=-1'])
    initrd = os.path.join(work, 'empty.cpio')
    with open(initrd, 'wb') as f:
        f.write(mkinitramfs.newc([]))
    esp = os.path.join(work, 'esp-missing.img')
    if not make_esp(t, esp, {'/EFI/BOOT/BOOTX64.EFI': stage, '/EFI/BOOT/eroot.conf': settings,
                             '/EFI/eroot/vmlinuz': kernel.vmlinuz,
                             '/EFI/eroot/initrd.img': initrd}):
        return
    # The firmware's line for a boot option that returned an error.
    res = efi_boot(work, 'missing', kernel, esp, until='BdsDxe: failed to start', timeout=120)
    what = 'stage with the image missing'
    print('%s: %s, firmware went on at %s s' % (what, res.summary(), res.until_seconds),
          flush=True)
    lines = stage_lines(res)
    t.check(lines == ['eroot-efi: opening \\EFI\\eroot\\root.img failed: Not Found'],
            what + ': one line naming the image and the error', res.describe())
    t.check(res.until_seconds is not None and not res.timed_out,
            what + ': the stage returned to the firmware, which went on', res.describe())
    t.check('Linux version' not in res.console, what + ': no kernel started', res.describe())


def main():
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    stage = requirements()
    t = et.Checker('efi-stage')
    work = et.scratch('efi-stage')
    try:
        kernel = next(k for k in boot.kernels() if k.name == '6.1')
    except boot.FixtureError as e:
        t.check(False, 'the 6.1 kernel (debian-root fixture)', e)
        t.exit()
    placed(t, work, stage, kernel)
    missing_image(t, work, stage, kernel)
    t.exit()


if __name__ == '__main__':
    main()
