#!/usr/bin/python3
"""The UEFI stage (tools/eroot-efi) under OVMF, QEMU TCG.

    test_efi_stage.py 6.1|6.12|7.3

An ESP (a FAT image: mkfs.vfat + mcopy) holds the stage, a kernel of
boot.kernels() (an EFI-stub PE; 6.1 with bookworm's QEMU 7.2, 6.12 and 7.3
with QEMU 10; Debian's OVMF for all) and what
`eroot initrd --dax IMAGE OUT INPUT` made of test_boot_dax.py's probe
initramfs: the loader initrd and the DAX image.  OVMF boots the stage,
which places the image in reserved pages, appends initrd= and
memmap=SIZE!ADDR and starts the kernel's stub; the loader must find
/dev/pmem0 (nd_e820) at that range, verify it, mount it dax=always, and the
probe's verdict must arrive on ttyS1 with its file read through DAX.
  eroot.conf: the stage as \\EFI\\BOOT\\BOOTX64.EFI, its settings in
    eroot.conf beside it (image= relative, initrd= with '/');
  LoadOptions: no BOOTX64.EFI, so OVMF runs its shell, whose startup.nsh
    runs the stage with its settings as arguments (its name first, as the
    shell passes it);
  failures (6.1 only): eroot.conf names an image the ESP lacks, a file
    that is no EROFS image, or misspells a key: one line each
    ("eroot-efi: opening ... failed: Not Found", ...), then the firmware
    goes on with its next boot option (its "BdsDxe: failed to start"
    line): no hang.
Needs root (the fixture); SKIP when the stage was not built (no gnu-efi),
or OVMF, mtools or dosfstools are missing: scripts/install-deps installs
them, so CI runs it.
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402
import eroottest as et  # noqa: E402
import mkinitramfs  # noqa: E402
import test_boot_dax as td  # noqa: E402

OVMF_CODE = '/usr/share/OVMF/OVMF_CODE.fd'
OVMF_VARS = '/usr/share/OVMF/OVMF_VARS.fd'
ALIGN = 2 << 20
TIMEOUT = 300
CMDLINE = 'console=ttyS0 panic=-1 eroot.debug'


def requirements():
    stage = os.environ.get('EROOT_EFI', '')
    if not stage or not os.path.exists(stage):
        et.skip('eroot-efi.efi was not built: gnu-efi is missing (scripts/install-deps '
                'installs it), or -Defi=disabled')
    for path in (OVMF_CODE, OVMF_VARS):
        if not os.path.exists(path):
            et.skip('%s is missing: install the Debian package ovmf' % path)
    for tool, pkg in (('mkfs.vfat', 'dosfstools'), ('mcopy', 'mtools')):
        if not shutil.which(tool):
            et.skip('%s is missing: install the Debian package %s' % (tool, pkg))
    et.require_root()
    return stage


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


def dax_boot(t, work, kernel, name, esp, image):
    """Boot @esp; the stage's one line, then the DAX loader's verdict."""
    res = efi_boot(work, name, kernel, esp)
    what = 'stage, %s, %s' % (kernel.kver, name)
    lines = stage_lines(res)
    size = os.path.getsize(image)
    want = ' %s initrd=\\EFI\\eroot\\initrd.img memmap=%dM!0x' % (CMDLINE, size >> 20)
    ok = t.check(len(lines) == 1 and want in lines[0] and ' starting ' in lines[0],
                 what + ': the stage says it starts the kernel, with "...%s..."' % want,
                 res.describe())
    if ok:
        # the e820 range the kernel made of memmap=: persistent, at ADDR
        addr = int(lines[0].split(want)[1].split()[0], 16)
        t.check(addr % ALIGN == 0, what + ': the image is 2 MiB aligned', hex(addr))
        # 6.1 "] persistent (type 12)", 7.3 "]  persistent RAM (type 12)"
        pram = r'user: \[mem 0x%016x-0x%016x\] +persistent .*\(type 12\)' % (addr,
                                                                           addr + size - 1)
        t.check(re.search(pram, res.console), what + ': the kernel made memmap= a persistent '
                'range', res.describe())
    td.dax_ok(t, res, what)
    # from the firmware's start of the stage (as its boot option, not
    # through the shell) to the stage's line: reading the image, mostly
    start, placed = res.time_to('BdsDxe: starting'), res.time_to('eroot-efi: ')
    if name == 'eroot.conf' and start is not None and placed is not None:
        print('%s: the stage placed %d MiB and started the kernel %.2f s after OVMF started '
              'it (host times)' % (what, size >> 20, placed - start), flush=True)


def from_conf(t, work, stage, kernel, initrd, image):
    settings = conf(os.path.join(work, 'eroot.conf'), [
        'kernel=\\EFI\\eroot\\vmlinuz', 'image=root.img', 'initrd=/EFI/eroot/initrd.img',
        'cmdline=' + CMDLINE])
    esp = os.path.join(work, 'esp-conf.img')
    if make_esp(t, esp, {'/EFI/BOOT/BOOTX64.EFI': stage, '/EFI/BOOT/eroot.conf': settings,
                         '/EFI/BOOT/root.img': image, '/EFI/eroot/vmlinuz': kernel.vmlinuz,
                         '/EFI/eroot/initrd.img': initrd}):
        dax_boot(t, work, kernel, 'eroot.conf', esp, image)


def from_load_options(t, work, stage, kernel, initrd, image):
    nsh = os.path.join(work, 'startup.nsh')
    with open(nsh, 'w') as f:
        f.write('fs0:\\EFI\\eroot\\eroot-efi.efi kernel=\\EFI\\eroot\\vmlinuz '
                'image=/EFI/eroot/root.img initrd=initrd.img -- %s\r\n' % CMDLINE)
    esp = os.path.join(work, 'esp-options.img')
    if make_esp(t, esp, {'/startup.nsh': nsh, '/EFI/eroot/eroot-efi.efi': stage,
                         '/EFI/eroot/root.img': image, '/EFI/eroot/vmlinuz': kernel.vmlinuz,
                         '/EFI/eroot/initrd.img': initrd}):
        dax_boot(t, work, kernel, 'LoadOptions', esp, image)


# Failures: (name, eroot.conf's lines after kernel=, the line the stage must
# print).  The ESP has no \\EFI\\eroot\\root.img; the kernel file is no image.
FAILURES = [
    ('missing image', ['image=\\EFI\\eroot\\root.img', 'initrd=\\EFI\\eroot\\initrd.img'],
     'eroot-efi: opening \\EFI\\eroot\\root.img failed: Not Found'),
    ('not an image', ['image=\\EFI\\eroot\\vmlinuz', 'initrd=\\EFI\\eroot\\initrd.img'],
     'eroot-efi: \\EFI\\eroot\\vmlinuz is not an EROFS image (no superblock at byte 1024)'),
    ('a misspelt key', ['imgae=root.img', 'initrd=\\EFI\\eroot\\initrd.img'],
     'eroot-efi: \\EFI\\BOOT\\eroot.conf: line 3: not one of kernel=, image=, initrd=, '
     'cmdline='),
]


def failure(t, work, stage, kernel, name, lines, want):
    """One line, then the stage returns its error to the firmware, which
    goes on with its next boot option: no hang, no kernel."""
    tag = name.replace(' ', '-')
    settings = conf(os.path.join(work, 'eroot-%s.conf' % tag),
                    ['kernel=\\EFI\\eroot\\vmlinuz'] + lines + ['cmdline=' + CMDLINE])
    initrd = os.path.join(work, 'empty.cpio')
    with open(initrd, 'wb') as f:
        f.write(mkinitramfs.newc([]))
    esp = os.path.join(work, 'esp-%s.img' % tag)
    if not make_esp(t, esp, {'/EFI/BOOT/BOOTX64.EFI': stage, '/EFI/BOOT/eroot.conf': settings,
                             '/EFI/eroot/vmlinuz': kernel.vmlinuz,
                             '/EFI/eroot/initrd.img': initrd}):
        return
    # OVMF's line for a boot option that returned an error
    res = efi_boot(work, tag, kernel, esp, until='BdsDxe: failed to start', timeout=120)
    what = 'stage with %s' % name
    print('%s: %s, firmware went on at %s s' % (what, res.summary(), res.until_seconds),
          flush=True)
    t.check(stage_lines(res) == [want], what + ': the one line "%s"' % want, res.describe())
    t.check(res.until_seconds is not None and not res.timed_out,
            what + ': the stage returned to the firmware, which went on', res.describe())
    t.check('Linux version' not in res.console, what + ': no kernel started', res.describe())


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ('6.1', '6.12', '7.3'):
        sys.exit(__doc__)
    stage = requirements()
    t = et.Checker('efi-stage-' + sys.argv[1])
    work = et.scratch('efi-stage-' + sys.argv[1])
    try:
        kernel = td.kernel_named(sys.argv[1])
    except boot.FixtureError as e:
        t.check(False, 'the %s kernel (fixtures)' % sys.argv[1], e)
        t.exit()
    made = td.dax_initrd(t, work, kernel)
    if made:
        initrd, image = made
        from_conf(t, work, stage, kernel, initrd, image)
        from_load_options(t, work, stage, kernel, initrd, image)
    if kernel.name == '6.1':   # the stage's own failures: any kernel will do
        for name, lines, want in FAILURES:
            failure(t, work, stage, kernel, name, lines, want)
    t.exit()


if __name__ == '__main__':
    main()
