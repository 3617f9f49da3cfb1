#!/usr/bin/python3
"""eroot initrd booting stock Debian kernels under QEMU (TCG).  The verdict
comes on ttyS1, which only a running userspace writes: a panic or a hang
never passes.

    test_boot.py real GENERATOR KERNEL   initramfs-tools|dracut, 6.1|6.12|7.3
    test_boot.py small                   a generated initramfs, appended cpio
    test_boot.py failures                broken image, wrong digest, wrong modules
    test_boot.py tamper                  eroot.digest= against changed bytes
    test_boot.py profile                 eroot.profile on 6.12

real: the generator's own initrd for that kernel (debian-root fixture), made
into an eroot initrd, boots the fixture's root as a read-only virtio disk to
the marker the real root writes; the loader handed over once and printed no
failure.  The original initrd boots too, and rootfs keeps no more in the
real root with eroot's than with it (the image was released); 6.12 and
7.3 mount the image file-backed, 6.1 through a loop device.  On 6.12 one more
boot with eroot.profile: the profiler survives the init's switch and writes
its list then, and the image is released all the same.
small: an initramfs whose /init is tests/boot-init-probe.c, with a --layer
image over it and a cpio a bootloader would append: /init runs as PID 1 on
an overlayfs root with the kernel's argument and environment, and sees its
own files, the layer's (which win) and the appended one.
failures: each boots to its one "eroot: ... failed" line and no verdict.
tamper (6.12): an initrd made with --digest none and pinned by the
eroot.digest= that --print-digest gave boots; one changed byte of a module,
of the configuration, of a --layer image or of the content image stops the
boot with the line naming the file, as does an appended archive replacing
/eroot/config; an appended archive replacing a file of the image is not
carried by default, and is with eroot.carry=replace.
profile: the small initramfs on 6.12 with eroot.profile; its /init switches
to a tmpfs root with /run, where the loader's profiler leaves the list of
files opened before the switch: /init and the file /init read among them.
"""
import hashlib
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boot  # noqa: E402
import eroottest as et  # noqa: E402
import mkinitramfs as mk  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
# As test_boot_baseline.py: dracut without fsck of the read-only disk, and
# bounded waiting on failure.
APPEND = {'initramfs-tools': '',
          'dracut': 'rd.skipfsck fsck.mode=skip rd.shell=0 rd.emergency=poweroff rd.timeout=60'}
TIMEOUT = 240
# Released means: nothing of the image is left in rootfs.  rootfs is ramfs
# here (root= is given), whose pages are Unevictable; after the switch the
# eroot boot keeps only its loader, modules and config there (~1 MiB),
# while an image not released would leave all of it (20 MiB and more).
# MemAvailable cannot tell: on 6.1 it moves by ~31 MiB between identical
# boots of the same initrd (847516 to 889700 kB measured), so it is
# reported here and compared as medians in bench/boot.
UNEVICTABLE_SLACK_KB = 4096


def eroot_initrd(t, out, src, *args):
    res = et.eroot('initrd', '-q', *args, out, src, timeout=600)
    return et.must(t, res, 'eroot initrd %s' % ' '.join(args + (os.path.basename(src),)))


def loader_config_version():
    """LOADER_CONFIG_VERSION of lib/boot/loader-config.h: what eroot initrd writes."""
    with open(os.path.join(TESTS_DIR, '..', 'lib', 'boot', 'loader-config.h')) as f:
        return int(re.search(r'#define LOADER_CONFIG_VERSION (\d+)', f.read()).group(1))


def loader_ok(t, res, what):
    failures = [l for l in res.console.splitlines() if re.search(r'eroot: .* failed', l)]
    t.check(res.ok, what + ': the real root reports', res.describe())
    t.check(res.console.count('eroot: handover at') == 1 and not failures,
            what + ': one handover, no failure line', '\n'.join(failures) or res.describe())


def kernel_of(gen, series):
    root = boot.fixture('debian-root', gen)
    pre = 'DRACUT_' if gen == 'dracut' else ''
    kit = boot.fixture('boot-kit')
    if series == '6.1':
        return root[pre + 'ROOT'], root[pre + 'VMLINUZ'], root[pre + 'INITRD'], kit['QEMU'], ()
    if series == '7.3':  # kernel-7 added it to the root, with the generator's initrd
        k7 = boot.fixture('kernel-7', gen)
        return (root[pre + 'ROOT'], k7['K7_VMLINUZ'], k7[pre + 'K7_INITRD'],
                kit['QEMU10'], tuple(kit['QEMU10_ARGS'].split()))
    return (root[pre + 'ROOT'], root[pre + 'VMLINUZ_BPO'], root[pre + 'INITRD_BPO'],
            kit['QEMU10'], tuple(kit['QEMU10_ARGS'].split()))


def real(t, work, gen, series):
    root, vmlinuz, initrd, qemu, qargs = kernel_of(gen, series)
    disk = boot.root_disk(root, os.path.join(work, 'root.img'))
    out = os.path.join(work, 'eroot.img')
    if not eroot_initrd(t, out, initrd, '--modules-dir', root):
        return
    what = '%s %s' % (gen, series)
    opts = dict(disk=disk, qemu=qemu, qemu_args=qargs, timeout=TIMEOUT)
    res = boot.boot(vmlinuz, out, append=APPEND[gen] + ' eroot.debug', **opts)
    loader_ok(t, res, what + ' (eroot initrd)')
    print('%s eroot: %s' % (what, res.summary()), flush=True)
    base = boot.boot(vmlinuz, initrd, append=APPEND[gen], **opts)
    print('%s original: %s' % (what, base.summary()), flush=True)
    if t.check(base.ok, what + ': the original initrd boots too', base.describe()) and res.ok:
        t.check(res.fields['unevictable'] <= base.fields['unevictable'] + UNEVICTABLE_SLACK_KB,
                what + ': the image released: rootfs holds no more than the cpio\'s '
                '(Unevictable %s vs %s kB; MemAvailable %s vs %s kB)' % (
                    res.fields['unevictable'], base.fields['unevictable'],
                    res.fields['memavail'], base.fields['memavail']))
    # 6.12 and later mount the image straight from its file in rootfs; 6.1 cannot
    how = 'mounted through /dev/loop' if series == '6.1' else 'mounted file-backed'
    t.check(how in res.console, '%s: the image is %s' % (what, how), res.describe())
    if series == '6.12' and base.ok:
        profiled(t, what, vmlinuz, out, APPEND[gen], opts, base)


def profiled(t, what, vmlinuz, out, append, opts, base):
    """eroot.profile through a real init's switch: the profiler survives it
    (systemd spares an argv[0] starting with '@'), writes its list and lets
    the image go as a boot without it does."""
    res = boot.boot(vmlinuz, out, append=append + ' eroot.profile', **opts)
    loader_ok(t, res, what + ' eroot.profile')
    m = re.search(r'eroot: profile: (\d+) files before the switch to the real root', res.console)
    t.check(m and int(m.group(1)) > 10, what + ': eroot.profile wrote its list at the switch',
            res.describe())
    if res.ok:
        t.check(res.fields['unevictable'] <= base.fields['unevictable'] + UNEVICTABLE_SLACK_KB,
                what + ': with eroot.profile too the image is released (Unevictable %s vs %s '
                'kB)' % (res.fields['unevictable'], base.fields['unevictable']))
    print('%s eroot.profile: %s' % (what, m.group(0) if m else '(no profile line)'), flush=True)


def probe_binary(work):
    exe = os.path.join(work, 'probe-init')
    subprocess.run(['cc', '-static', '-Os', '-o', exe,
                    os.path.join(TESTS_DIR, 'boot-init-probe.c')], check=True)
    with open(exe, 'rb') as f:
        return f.read()


def small_initrd(t, work, kver, modules_root, *args, out_name='small-eroot.img'):
    """An initramfs of the probe as /init, made into an eroot initrd."""
    src = os.path.join(work, 'small.cpio.gz')
    entries = [mk.dirent('etc'), mk.reg('etc/probe-own', b'from-the-image\n'),
               mk.reg('init', probe_binary(work), 0o755)]
    with open(src, 'wb') as f:
        f.write(mk.compress(mk.newc(entries), 'gzip'))
    out = os.path.join(work, out_name)
    ok = eroot_initrd(t, out, src, '-k', kver, '--modules-dir', modules_root, *args)
    return out if ok else None


def append_cpio(initrd, out, *more):
    extra = mk.newc([mk.dirent('.extra'), mk.dirent('.extra/credentials'),
                     mk.reg('.extra/credentials/probe.cred', b'appended-by-loader\n')] +
                    list(more))
    with open(initrd, 'rb') as f, open(out, 'wb') as o:
        data = f.read()
        o.write(data + b'\0' * (-len(data) % 512) + extra)


def layer_image(t, work, files, args=('-z', 'lz4')):
    """An EROFS image of etc/NAME files, for --layer, built with @args."""
    layer_src = os.path.join(work, 'layer')
    os.makedirs(os.path.join(layer_src, 'etc'))
    for name, text in files:
        with open(os.path.join(layer_src, 'etc', name), 'w') as f:
            f.write(text)
    layer = os.path.join(work, 'layer.erofs')
    ok = et.must(t, et.eroot('mkfs', '-q', *args, layer, layer_src), 'layer image')
    return layer if ok else None


def big_text():
    """About 420 KiB of words, the same every run: three 128 KiB pclusters
    and a final extent under -C 131072."""
    rng = random.Random(12)
    words = ['%x' % rng.getrandbits(rng.choice((8, 16, 24))) for _ in range(2000)]
    return ' '.join(rng.choice(words) for _ in range(70000)) + '\n'


def fnv1a_summary(data):
    """What boot-init-probe.c prints for a file: LENGTH:FNV-1a."""
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return '%d:%08x' % (len(data), h)


def small(t, work):
    root, vmlinuz, _, qemu, qargs = kernel_of('initramfs-tools', '6.1')
    kver = boot.fixture('debian-root', 'initramfs-tools')['KVER']
    # a layer over the image: one file of its own, one the image has too;
    # in the best-ratio layout, so that 6.1 reads, through the loader's
    # mount, files whole in the packed inode (issue 12's packer) and a
    # large file whose final extent is there, behind a pcluster it shares
    # with probe-base (placed first: full indexes)
    base = big_text()
    big = base[:300000]
    layer = layer_image(t, work, (('probe-layer', 'from-the-layer\n'),
                                  ('probe-own', 'layer-wins\n'),
                                  ('probe-base', base), ('probe-big', big)),
                        ('-z', 'lz4hc,12', '-C', '131072', '-E', 'ztailpacking,fragments,dedupe'))
    if not layer:
        return
    out = small_initrd(t, work, kver, root, '--layer', layer)
    if not out:
        return
    appended = os.path.join(work, 'appended.img')
    append_cpio(out, appended)
    res = boot.boot(vmlinuz, appended, append='probe_env=yes probe-arg eroot.debug',
                    qemu=qemu, qemu_args=qargs, timeout=TIMEOUT)
    loader_ok(t, res, 'small')
    f = res.fields
    for key, want in (('pid', 1), ('arg', 'probe-arg'), ('env', 'yes'), ('overlay', 1),
                      ('own', 'layer-wins'), ('layer', 'from-the-layer'),
                      ('big', fnv1a_summary(big.encode())),
                      ('appended', 'appended-by-loader')):
        t.check(f.get(key) == want, 'small: %s=%s' % (key, want), res.verdict or res.describe())
    print('small: %s' % res.summary(), flush=True)


def expect_failure(t, what, res, line):
    t.check(not res.verdict, what + ': no verdict', res.verdict or '')
    t.check(not res.timed_out, what + ': the VM ends (panic=-1), no hang', res.describe())
    t.check(any(l.startswith(line) for l in res.console.splitlines()),
            what + ': the console says "%s"' % line, res.describe())


def failures(t, work):
    root, vmlinuz, _, qemu, qargs = kernel_of('initramfs-tools', '6.1')
    _, vmlinuz12, _, qemu10, qargs10 = kernel_of('initramfs-tools', '6.12')
    kver = boot.fixture('debian-root', 'initramfs-tools')['KVER']
    out = small_initrd(t, work, kver, root)
    if not out:
        return
    opts = dict(qemu=qemu, qemu_args=qargs, timeout=TIMEOUT)
    res = boot.boot(vmlinuz, out, append='eroot.digest=sha256:' + '0' * 64, **opts)
    expect_failure(t, 'wrong eroot.digest', res, 'eroot: verifying /eroot/config failed')
    # one byte of the image changed: its data starts at a page boundary
    # after the header naming it
    broken = os.path.join(work, 'broken.img')
    with open(out, 'rb') as f:
        data = bytearray(f.read())
    at = (data.index(b'eroot/root.erofs\0') + 4095) // 4096 * 4096 + 1500
    data[at] ^= 0x55
    with open(broken, 'wb') as f:
        f.write(data)
    res = boot.boot(vmlinuz, broken, **opts)
    expect_failure(t, 'a broken image', res, 'eroot: verifying /eroot/root.erofs failed')
    # a loader configuration of another version (a --loader from another
    # eroot build): the loader archive is plain newc, the line keeps its length
    other = os.path.join(work, 'other-version.img')
    with open(out, 'rb') as f:
        data = f.read()
    version = loader_config_version()
    line = b'version %d\n' % version
    # another version of the same length (the newc member keeps its size)
    stranger = version + 1 if len(str(version + 1)) == len(str(version)) else version - 1
    t.check(b'\n' + line not in data[:data.index(b'eroot/config\0')] and
            line in data, 'the loader configuration names its version')
    with open(other, 'wb') as f:
        f.write(data.replace(line, b'version %d\n' % stranger, 1))
    res = boot.boot(vmlinuz, other, **opts)
    expect_failure(t, 'a configuration of another version', res,
                   'eroot: reading /eroot/config failed')
    # modules of 6.1 on the 6.12 kernel: a stale initrd after a kernel update
    res = boot.boot(vmlinuz12, out, qemu=qemu10, qemu_args=qargs10, timeout=TIMEOUT)
    expect_failure(t, '6.1 modules on 6.12', res, 'eroot: loading a module failed')


def profile(t, work):
    root, vmlinuz, _, qemu, qargs = kernel_of('initramfs-tools', '6.12')
    kver = boot.fixture('debian-root', 'initramfs-tools')['KVER_BPO']
    out = small_initrd(t, work, kver, root)
    if not out:
        return
    res = boot.boot(vmlinuz, out, append='probe-profile eroot.profile', qemu=qemu,
                    qemu_args=qargs, timeout=TIMEOUT)
    loader_ok(t, res, 'profile')
    f = res.fields
    t.check(isinstance(f.get('profile'), int) and f['profile'] > 0,
            'profile: /run/eroot/profile lists files (%s)' % f.get('profile'),
            res.verdict or res.describe())
    t.check(f.get('profile_init') == 1 and f.get('profile_own') == 1,
            'profile: it names /init and /etc/probe-own', res.verdict or res.describe())
    t.check('eroot: profile: ' in res.console, 'profile: the kernel log says where it is',
            res.describe())
    print('profile: %s' % res.summary(), flush=True)


def newc_member(data, name):
    """(offset, size) of the data of newc member @name in @data, walking the
    initrd's uncompressed archives header by header (zero padding between)."""
    at = 0
    while at < len(data):
        if data[at] == 0:
            at += 4
            continue
        assert data[at:at + 6] == b'070701', 'not a newc header at %d' % at
        size = int(data[at + 54:at + 62], 16)
        namesize = int(data[at + 94:at + 102], 16)
        start = (at + 110 + namesize + 3) // 4 * 4
        if data[at + 110:at + 110 + namesize - 1] == name.encode():
            return start, size
        at = (start + size + 3) // 4 * 4
    raise KeyError(name)


def changed(src, out, name, where, xor=0x55):
    """@src with one byte of member @name flipped, at @where(size)."""
    with open(src, 'rb') as f:
        data = bytearray(f.read())
    at, size = newc_member(data, name)
    data[at + where(size)] ^= xor
    with open(out, 'wb') as f:
        f.write(data)
    return out


def tamper(t, work):
    root, vmlinuz, _, qemu, qargs = kernel_of('initramfs-tools', '6.12')
    kver = boot.fixture('debian-root', 'initramfs-tools')['KVER_BPO']
    layer = layer_image(t, work, (('probe-layer', 'from-the-layer\n'),))
    digest_file = os.path.join(work, 'digest')
    # --digest none: whatever the policy, eroot.digest= covers everything
    src = os.path.join(work, 'small.cpio.gz')
    out = small_initrd(t, work, kver, root, '--layer', layer, '--digest', 'none',
                       '--digest-file', digest_file)
    if not out:
        return
    printed = et.eroot('initrd', '-q', '-k', kver, '--modules-dir', root, '--layer', layer,
                       '--digest', 'none', '--print-digest', out + '.again', src, timeout=600)
    with open(out, 'rb') as f:
        data = f.read()
    at, size = newc_member(data, 'eroot/config')
    config = data[at:at + size]
    arg = 'eroot.digest=sha256:' + hashlib.sha256(config).hexdigest()
    t.check(et.read_file(digest_file) == (arg + '\n').encode(),
            '--digest-file holds the SHA-256 of /eroot/config', et.read_file(digest_file))
    t.check(printed.rc == 0 and printed.out == (arg + '\n').encode(),
            '--print-digest prints the same line, alone under -q', printed.describe())
    t.check(not [n for n in os.listdir(work) if n.startswith('digest.')],
            '--digest-file leaves no temporary file', os.listdir(work))
    nowhere = os.path.join(work, 'missing', 'digest')
    res = et.eroot('initrd', '-q', '-k', kver, '--modules-dir', root, '--digest-file', nowhere,
                   out + '.again', src, timeout=600)
    t.check(res.rc == 1 and res.err_lines() == ['eroot initrd: %s: No such file or directory'
                                                 % nowhere],
            '--digest-file into a missing directory: exit 1, one line naming it',
            res.describe())
    # modules always loaded; "for-loop" ones wait for a loop device
    modules = re.findall(rb'^module (\S+) [0-9a-f]{64}(?: optional)?$', config, re.M)
    loop = re.search(rb'^module \S+/loop\.ko [0-9a-f]{64} for-loop$', config, re.M)
    t.check(modules and loop and config.count(b'\nimage ') == 2 and
            b'\ndigest none\n' in config,
            'the configuration names modules (loop only for a loop device) and both '
            'images', config.decode())
    if not modules:
        return
    opts = dict(qemu=qemu, qemu_args=qargs, timeout=TIMEOUT)
    pinned = arg + ' eroot.debug'

    # the appended archive replaces a file the image's /init reads
    mine = mk.reg('etc/probe-own', b'appended-wins\n')
    appended = os.path.join(work, 'appended.img')
    append_cpio(out, appended, mk.dirent('etc'), mine)
    res = boot.boot(vmlinuz, appended, append=pinned, **opts)
    loader_ok(t, res, 'pinned, appended')
    f = res.fields
    for key, want in (('own', 'from-the-image'), ('layer', 'from-the-layer'),
                      ('appended', 'appended-by-loader')):
        t.check(f.get(key) == want, 'eroot.carry=add (default): %s=%s' % (key, want),
                res.verdict or res.describe())
    t.check('eroot: not carrying /etc/probe-own: the image has it (eroot.carry=replace '
            'carries it)' in res.console, 'the refused path is named', res.describe())
    steps = [l for l in res.console.splitlines() if 'sha256 verified in' in l]
    # loop's module only when an image went through a loop device (rootfs
    # on tmpfs, as here without root=, makes 6.12 fall back to one)
    looped = 'mounted through /dev/loop' in res.console
    t.check(len(steps) == 1 + len(modules) + looped + 2, 'eroot.debug: a time line for the '
            'configuration, each module loaded (loop.ko: %s) and each image' %
            ('loaded, for a loop device' if looped else 'not loaded'), '\n'.join(steps))
    print('pinned: %s\n%s' % (res.summary(), '\n'.join(steps)), flush=True)
    res = boot.boot(vmlinuz, appended, append=pinned + ' eroot.carry=replace', **opts)
    loader_ok(t, res, 'eroot.carry=replace')
    t.check(res.fields.get('own') == 'appended-wins', 'eroot.carry=replace: own=appended-wins',
            res.verdict or res.describe())

    # one changed byte each: the loader names the file and stops
    module = modules[-1].decode()
    cases = (
        ('a module byte', module[1:], lambda n: n // 2, 'verifying %s' % module),
        ('a configuration line', 'eroot/config', lambda n: config.index(b'\nimage ') + 80,
         'verifying /eroot/config'),
        ('a --layer image byte', 'eroot/layer1.erofs', lambda n: 1500,
         'verifying /eroot/layer1.erofs'),
        ('a content image byte', 'eroot/root.erofs', lambda n: n - 100,
         'verifying /eroot/root.erofs'),
    )
    for what, member, where, line in cases:
        bad = changed(out, os.path.join(work, 'tampered.img'), member, where, xor=1)
        res = boot.boot(vmlinuz, bad, append=pinned, **opts)
        expect_failure(t, what, res, 'eroot: %s failed' % line)
    # an appended archive replacing the configuration: the kernel unpacks it
    # before the loader runs, which then refuses it as any changed byte
    other = os.path.join(work, 'appended-config.img')
    append_cpio(out, other, mk.dirent('eroot'), mk.reg('eroot/config', config.replace(
        b'\ndigest none\n', b'\ndigest sha256\n'), 0o600))
    res = boot.boot(vmlinuz, other, append=pinned, **opts)
    expect_failure(t, 'an appended /eroot/config', res, 'eroot: verifying /eroot/config failed')


def main():
    args = sys.argv[1:]
    if not (args in (['small'], ['failures'], ['tamper'], ['profile']) or
            (len(args) == 3 and args[0] == 'real' and
             args[1] in APPEND and args[2] in ('6.1', '6.12', '7.3'))):
        sys.exit(__doc__)
    et.require_root()
    t = et.Checker('boot-' + '-'.join(args))
    work = et.scratch('boot-' + '-'.join(args))
    try:
        if args[0] == 'real':
            real(t, work, args[1], args[2])
        elif args[0] == 'small':
            small(t, work)
        elif args[0] == 'tamper':
            tamper(t, work)
        elif args[0] == 'profile':
            profile(t, work)
        else:
            failures(t, work)
    except boot.FixtureError as e:
        t.check(False, 'fixtures', str(e))
    t.exit()


if __name__ == '__main__':
    main()
