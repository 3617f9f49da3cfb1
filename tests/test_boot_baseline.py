#!/usr/bin/python3
"""The QEMU boot harness (tests/boot.py) against what Debian ships: the
baseline later eroot initrd tests compare with.

    test_boot_baseline.py initramfs-tools|dracut|probe

initramfs-tools, dracut: the debian-root fixture's own initrd boots its 6.1
cloud kernel (bookworm's QEMU, TCG) with the fixture's root as a read-only
ext4 disk; the initrd must mount it and run /eroot-marker, whose verdict line
on ttyS1 must report MemAvailable.
probe: each kernel of boot.kernels() (6.1 with bookworm's QEMU, the 6.12
backports kernel and trixie-backports' 7.3 with QEMU 10) boots an initramfs
holding only a static /init built from tests/boot-init-probe.c: proves the
plumbing of each pair.
Prints the timings (host seconds from QEMU start).  Needs root (the
fixture); skips only when QEMU cannot be installed.
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402
import eroottest as et  # noqa: E402
import mkinitramfs  # noqa: E402

# Kernel arguments beyond boot()'s "console=ttyS0 panic=-1 root=/dev/vda ro
# init=/eroot-marker".  initramfs-tools needs none: it gives up on a missing
# root after 30 s and reboots at once under panic=-1 (QEMU exits).  dracut:
# no fsck (e2fsck cannot open the read-only disk and the old shell-based
# dracut gave up; systemd-fsck honours fsck.mode), no shell on failure but a
# power off, and at most 60 s of waiting for the root device.  The fixture's
# initrd has no poweroff command (its dracut.conf omits the shutdown module):
# a failed dracut boot then ends only at TIMEOUT.
APPEND = {'initramfs-tools': '',
          'dracut': 'rd.skipfsck fsck.mode=skip rd.shell=0 rd.emergency=poweroff rd.timeout=60'}
TIMEOUT = 180   # a good boot takes 5-20 s under TCG


def kit_or_skip():
    """boot-kit's values, or None when it failed but bookworm's QEMU is
    there (enough for 6.1); skip when there is no QEMU at all."""
    try:
        return boot.fixture('boot-kit')
    except boot.FixtureError as e:
        if not shutil.which('qemu-system-x86_64'):
            et.skip('no QEMU: %s' % e)
        print('note: %s' % e, flush=True)
        return None


def timings(what, res):
    print('%s: /init at %s s, verdict at %s s (guest uptime %s s), QEMU exit %.2f s, '
          'memavail %s kB' % (
              what, _s(res.time_to('Run /init')), _s(res.verdict_seconds),
              res.fields.get('uptime', '-'), res.seconds, res.fields.get('memavail', '-')),
          flush=True)


def _s(t):
    return '-' if t is None else '%.2f' % t


def check_boot(t, res, what):
    """The verdict arrived, says the root was reached, and the VM ended by
    itself (QEMU exits 0 on poweroff and on panic alike: not a verdict)."""
    t.check(not res.timed_out, '%s: QEMU ended within %d s' % (what, TIMEOUT), res.describe())
    t.check(res.rc == 0, '%s: QEMU exit 0' % what, res.describe())
    t.check('Kernel panic' not in res.console, '%s: no kernel panic' % what, res.describe())
    ok = t.check(res.ok, '%s: verdict %s on ttyS1' % (what, boot.VERDICT_OK), res.describe())
    ok &= t.check(isinstance(res.fields.get('memavail'), int) and res.fields['memavail'] > 0,
                  '%s: verdict reports memavail > 0' % what, res.verdict)
    return ok


def generator(t, gen, work):
    kit = kit_or_skip()
    qemu = kit['QEMU'] if kit else shutil.which('qemu-system-x86_64')
    t0 = time.monotonic()
    try:
        values = {k.replace('DRACUT_', ''): v for k, v in
                  boot.fixture('debian-root', gen).items()}
        disk = boot.root_disk(values['ROOT'], os.path.join(
            boot.fixtures_dir(), 'disks', os.path.basename(values['ROOT']) + '.ext4'))
    except (boot.FixtureError, RuntimeError) as e:
        t.check(False, '%s: the fixture root and its disk image' % gen, e)
        return
    print('%s: root disk %s ready in %.2f s' % (gen, disk, time.monotonic() - t0), flush=True)
    res = boot.boot(values['VMLINUZ'], values['INITRD'], disk, append=APPEND[gen], qemu=qemu,
                    timeout=TIMEOUT, log_dir=os.path.join(work, 'boot'))
    what = '%s initrd on %s' % (gen, values['KVER'])
    if check_boot(t, res, what):
        t.check('EXT4-fs (vda): mounted' in res.console, what + ': the initrd mounted /dev/vda',
                res.describe())
    timings(what, res)


def probe(t, work):
    init = os.path.join(work, 'init')
    src = os.path.join(et.TESTS_DIR, 'boot-init-probe.c')
    res = et.run(['cc', '-static', '-Os', '-o', init, src])
    if not et.must(t, res, 'cc -static boot-init-probe.c'):
        return
    with open(init, 'rb') as f:
        entry = mkinitramfs.reg('init', f.read(), perm=0o755)
    initrd = os.path.join(work, 'probe.cpio')
    with open(initrd, 'wb') as f:
        f.write(mkinitramfs.newc([entry]))
    try:
        kernels = boot.kernels()
    except boot.FixtureError as e:
        kit_or_skip()   # skips if there is no QEMU at all
        t.check(False, 'the kernels and QEMUs (debian-root, boot-kit, kernel-7)', e)
        return
    for k in kernels:
        res = boot.boot(k.vmlinuz, initrd, qemu=k.qemu, qemu_args=k.qemu_args,
                        timeout=TIMEOUT, log_dir=os.path.join(work, 'boot-' + k.name))
        version = subprocess.run([k.qemu, '--version'], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL).stdout.split()   # QEMU emulator version X
        what = 'probe on %s (QEMU %s)' % (k.kver, version[3].decode() if len(version) > 3 else '?')
        if check_boot(t, res, what):
            t.check(res.fields.get('probe') == 1, what + ': the verdict is the probe\'s',
                    res.verdict)
            t.check('Linux version %s ' % k.kver in res.console,
                    what + ': the console shows that kernel', res.describe())
        timings(what, res)


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ('initramfs-tools', 'dracut', 'probe'):
        sys.exit(__doc__)
    mode = sys.argv[1]
    et.require_root()
    t = et.Checker('boot-baseline-' + mode)
    work = et.scratch('boot-baseline-' + mode)
    if mode == 'probe':
        probe(t, work)
    else:
        generator(t, mode, work)
    t.exit()


if __name__ == '__main__':
    main()
