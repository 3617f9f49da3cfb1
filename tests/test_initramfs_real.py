#!/usr/bin/python3
"""Real initramfs files, made by Debian's own generators, converted by
eroot mkfs --initramfs: the kernel-mounted image must hold exactly what
GNU cpio -i unpacks from them.

    test_initramfs_real.py initramfs-tools|dracut

The generator runs in a debootstrap'd bookworm root with Debian's cloud
kernel (tests/fixtures/debian-root, cached in the build tree; the first run
downloads about 60 MB from Debian's mirror).  Checked for each initrd:
  - the image (lz4hc) mounts and its manifest equals the cpio -i tree;
  - eroot fsck accepts it;
  - with a microcode archive put in front (as distributions ship it), the
    image is the same plus the microcode file, and --keep-early reports the
    early archive's exact length and leaves it out.
"""
import os
import re
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eroottest as et  # noqa: E402

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(TESTS_DIR, 'fixtures', 'debian-root')
DECOMPRESSORS = {b'\x28\xb5\x2f\xfd': ['zstd', '-dcq'], b'\x1f\x8b': ['gzip', '-dc'],
                 b'\xfd7zXZ': ['xz', '-dc'], b'\x02\x21\x4c\x18': ['lz4', '-dc']}


def fixture(generator):
    cache = os.environ.get('EROOT_FIXTURES') or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(et.env_path('SCRATCH')))), 'fixtures')
    res = et.run([FIXTURE, cache, generator], timeout=1500)
    if res.rc != 0:
        sys.exit('debian-root fixture failed:\n' + res.describe())
    values = {}
    for line in res.out.decode().splitlines():
        key, _, value = line.partition('=')
        values[key.replace('DRACUT_', '')] = value.strip("'")
    return values


def cpio_unpack(initrd, dest):
    """GNU cpio -i on each archive of @initrd, in order: the uncompressed
    ones first (cpio stops at each TRAILER!!!), then the compressed rest."""
    os.makedirs(dest)
    with open(initrd, 'rb') as f:
        data = f.read()
    pos = 0
    while pos < len(data) and data[pos:pos + 6] in (b'070701', b'070702'):
        end = newc_end(data, pos)
        subprocess.run(['cpio', '-idm', '--quiet', '--no-absolute-filenames'], cwd=dest,
                       input=data[pos:end], check=True)
        pos = end
        while pos < len(data) and data[pos] == 0:
            pos += 1
    if pos < len(data):
        tool = next(v for k, v in DECOMPRESSORS.items() if data[pos:].startswith(k))
        unz = subprocess.run(tool, input=data[pos:], stdout=subprocess.PIPE, check=True)
        subprocess.run(['cpio', '-idm', '--quiet', '--no-absolute-filenames'], cwd=dest,
                       input=unz.stdout, check=True)


def newc_end(data, pos):
    """Offset just past the TRAILER!!! of the newc archive at @pos."""
    while True:
        namesize = int(data[pos + 94:pos + 102], 16)
        filesize = int(data[pos + 54:pos + 62], 16)
        name = data[pos + 110:pos + 110 + namesize - 1]
        pos = (pos + 110 + namesize + 3) & ~3
        pos = (pos + filesize + 3) & ~3
        if name == b'TRAILER!!!':
            return pos


def microcode_archive(workdir):
    src = os.path.join(workdir, 'early-src')
    os.makedirs(os.path.join(src, 'kernel/x86/microcode'))
    with open(os.path.join(src, 'kernel/x86/microcode/GenuineIntel.bin'), 'wb') as f:
        f.write(os.urandom(5000))
    names = subprocess.run(['find', '.'], cwd=src, stdout=subprocess.PIPE, check=True).stdout
    out = subprocess.run(['cpio', '-o', '-H', 'newc', '--quiet'], cwd=src,
                         input=b'\n'.join(sorted(names.split())) + b'\n',
                         stdout=subprocess.PIPE, check=True).stdout
    return out + b'\0' * (-len(out) % 512), src


def without_link_dir_times(lines):
    """GNU cpio -i sets no times on directories and symlinks; the kernel
    does (checked apart, against the archive's headers)."""
    return [re.sub(r' mtime=\S+', '', ln) if re.search(r' type=(dir|lnk) ', ln) else ln
            for ln in lines]


def header_times(initrd):
    """Path -> mtime by the kernel's rules: the first entry of a directory,
    the last of anything else."""
    times = {}
    for name, mode, mtime in newc_entries(initrd):
        name = os.path.normpath(name).lstrip('/')
        if stat.S_ISDIR(mode) and name in times:
            continue
        times[name] = mtime
    return times


def newc_entries(initrd):
    with open(initrd, 'rb') as f:
        data = f.read()
    streams, pos = [], 0
    while pos < len(data) and data[pos:pos + 6] in (b'070701', b'070702'):
        end = newc_end(data, pos)
        streams.append(data[pos:end])
        pos = end
        while pos < len(data) and data[pos] == 0:
            pos += 1
    if pos < len(data):
        tool = next(v for k, v in DECOMPRESSORS.items() if data[pos:].startswith(k))
        streams.append(subprocess.run(tool, input=data[pos:], stdout=subprocess.PIPE,
                                      check=True).stdout)
    for s in streams:
        pos = 0
        while pos + 110 <= len(s) and s[pos:pos + 5] == b'07070':
            mode, mtime = int(s[pos + 14:pos + 22], 16), int(s[pos + 46:pos + 54], 16)
            namesize, filesize = int(s[pos + 94:pos + 102], 16), int(s[pos + 54:pos + 62], 16)
            name = s[pos + 110:pos + 110 + namesize - 1].decode('utf-8', 'surrogateescape')
            if name != 'TRAILER!!!':
                yield name, mode, mtime
            pos = ((pos + 110 + namesize + 3) & ~3) + filesize
            pos = (pos + 3) & ~3
            while pos < len(s) and s[pos] == 0:
                pos += 1


def compare(t, image, expected, initrd, what):
    with et.try_mount(t, image, image + '.mnt', what) as mnt:
        if not mnt:
            return
        et.same_manifest(t, without_link_dir_times(et.manifest(expected)),
                         without_link_dir_times(et.manifest(mnt)), what)
        wrong = []
        for name, mtime in header_times(initrd).items():
            path = os.path.join(mnt, name)
            if name != '.' and os.path.lexists(path) and os.lstat(path).st_mtime_ns != mtime * 10**9:
                wrong.append('%s: %d, header %d' % (name, os.lstat(path).st_mtime, mtime))
        t.check(not wrong, what + ': times are the headers\' (first entry of a directory)',
                '\n'.join(wrong[:20]))


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ('initramfs-tools', 'dracut'):
        sys.exit(__doc__)
    gen = sys.argv[1]
    et.require_root()
    et.require_kernel_erofs()
    t = et.Checker('initramfs-real-' + gen)
    work = et.scratch('initramfs-real-' + gen)
    initrd = fixture(gen)['INITRD']

    expected = os.path.join(work, 'expected')
    cpio_unpack(initrd, expected)
    t.check(len(os.listdir(expected)) > 5, '%s: cpio -i unpacked a tree' % gen,
            str(os.listdir(expected)))
    image = os.path.join(work, 'initrd.erofs')
    if et.must(t, et.eroot('mkfs', '-q', '-z', 'lz4hc', '--initramfs', initrd, image),
               gen + ' converts'):
        et.must(t, et.eroot('fsck', image), gen + ': fsck accepts the image')
        compare(t, image, expected, initrd, gen + ': image equals cpio -i')

    # a microcode archive in front, as Debian's intel-microcode would add it
    early, early_src = microcode_archive(work)
    combined = os.path.join(work, 'combined.img')
    with open(combined, 'wb') as out, open(initrd, 'rb') as f:
        out.write(early + f.read())
    both = os.path.join(work, 'expected-both')
    cpio_unpack(combined, both)
    image = os.path.join(work, 'combined.erofs')
    if et.must(t, et.eroot('mkfs', '-q', '--initramfs', combined, image),
               gen + ' with microcode converts'):
        compare(t, image, both, combined, gen + ' with microcode: image equals cpio -i')
    image = os.path.join(work, 'main.erofs')
    res = et.eroot('mkfs', '-q', '--initramfs', combined, '--keep-early', image)
    if et.must(t, res, gen + ': --keep-early builds'):
        t.check(res.out.decode().strip() == 'early archives: %d bytes' % len(early),
                '--keep-early reports the early archive (%d bytes)' % len(early),
                res.describe())
        compare(t, image, expected, initrd, gen + ': --keep-early image lacks only the microcode')
    t.exit()


if __name__ == '__main__':
    main()
