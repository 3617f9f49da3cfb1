#!/usr/bin/python3
"""Images built by the reference tool, mkfs.erofs (Debian sid's erofs-utils,
tests/fixtures/reference-mkfs), read back through eroot exactly as the
kernel reads them.

    test_reference.py GROUP [SET...]

For each option set of GROUP (or only the SETs named): an edge and a random
tree (tests/gentree.py) built into an image by mkfs.erofs inside the sid
chroot, then
  - the kernel mounts it and its manifest is what tests/image-manifest
    (liberoot) prints for the image;
  - eroot fsck exits 0 and eroot extract gives the kernel's tree back.
An option set that eroot cannot read yet (it names the feature eroot says
it lacks) must instead make image-manifest, fsck and extract exit 4 with a
message naming that feature: never 3, which would call a valid image
corrupt.  Other sets must read fully.
"""
import json
import os
import random
import shutil
import struct
import sys

import eroottest as E

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(TESTS_DIR, 'fixtures', 'reference-mkfs')
EXIT_UNSUPPORTED = 4

# GROUP -> [(name, mkfs.erofs arguments, None or the feature name eroot
# reports when it cannot read it yet)].  Each group stays under ~5 minutes
# on 2 cores.
OPTION_SETS = {
    'plain': [
        ('b4096', ['-b4096'], None),
        ('b2048', ['-b2048'], None),
        ('b1024', ['-b1024'], None),
        ('b512', ['-b512'], None),
        ('T0-U', ['-T0', '-U', '0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b'], None),
        ('inline', ['-Einline_data'], None),
        ('noinline', ['-Enoinline_data'], None),
        ('chunks-8k', ['--chunksize=8192'], None),
        ('chunks-indexes', ['--chunksize=65536', '-Eforce-chunk-indexes'], None),
        ('chunks-1k-b1024', ['-b1024', '--chunksize=1024'], None),
        ('blockmap', ['--chunksize=8192', '-Eforce-inode-blockmap'], None),
        ('compact-inodes', ['--force-uid=0', '--force-gid=0', '-T0',
                            '-Eforce-inode-compact'], None),
        ('ignore-mtime', ['--ignore-mtime'], None),
        ('tar', ['--tar=f'], None),
    ],
    'meta': [
        ('48bit', ['-E48bit'], None),
        ('48bit-T0-b1024', ['-E48bit', '-T0', '-b1024'], None),
        ('48bit-chunks', ['-E48bit', '--chunksize=16384', '-Eforce-chunk-indexes'], None),
        ('dot-omitted', ['-Edot-omitted'], None),
        ('xattr-prefixes', ['--xattr-prefix=user.k', '--xattr-prefix=trusted.overlay.',
                            '--xattr-prefix=security.selinux'], None),
        ('xattr-prefixes-plain', ['--xattr-prefix=user.k', '-Eplain-xattr-prefixes'], None),
        ('xattr-name-filter', ['-Exattr-name-filter'], None),
        ('inode-digest', ['--xattr-inode-digest'], None),
        ('inode-digest-named', ['--xattr-inode-digest=trusted.eroot.digest'], None),
        ('metabox', ['-zlz4hc', '-m4096'], None),
        ('metabox-lzma-prefixes', ['-zlzma', '-m4096', '--xattr-prefix=user.k'], None),
        ('metabox-zstd-fragments', ['-zzstd', '-m4096:lz4', '-Efragments',
                                    '--xattr-inode-digest'], None),
        ('xattr-prefixes-packed', ['-zlz4hc', '-Efragments', '--xattr-prefix=user.k',
                                   '--xattr-prefix=trusted.'], None),
        ('extended-inodes', ['-Eforce-inode-extended'], None),
    ],
    'zip-algorithms': [
        ('lz4', ['-zlz4'], None),
        ('lz4hc', ['-zlz4hc,level=12'], None),
        ('lzma', ['-zlzma'], None),
        ('deflate', ['-zdeflate'], None),
        ('zstd', ['-zzstd'], None),
        ('lz4hc-C64k', ['-zlz4hc', '-C65536'], None),
        ('zstd-C1m', ['-zzstd', '-C1048576'], None),
        ('lzma-b1024', ['-b1024', '-zlzma'], None),
        ('lz4hc-b512', ['-b512', '-zlz4hc'], None),
        ('deflate-b2048', ['-b2048', '-zdeflate,level=9'], None),
    ],
    'zip-layouts': [
        ('ztailpacking', ['-zlz4hc', '-Eztailpacking'], None),
        ('fragments', ['-zlz4hc', '-Efragments'], None),
        ('all-fragments', ['-zlzma', '-Eall-fragments'], None),
        ('dedupe', ['-zzstd', '-C16384', '-Ededupe'], None),
        ('fragments-dedupe', ['-zlz4hc', '-C65536', '-Efragments,dedupe,ztailpacking'], None),
        ('max-extent', ['-zlz4', '-C16384', '--max-extent-bytes=65536'], None),
        ('legacy', ['-zlz4hc', '-Elegacy-compress'], None),
        ('legacy-b1024', ['-b1024', '-zlz4hc', '-Elegacy-compress'], None),
        ('48bit-zstd', ['-zzstd', '-E48bit'], None),
        ('tar-fragments', ['--tar=f', '-zlz4hc', '-Efragments'], None),
        ('compressed-dirs', ['-zlz4hc', '--zD=1'], None),
        ('metadata-zone', ['-zlz4hc', '--MZ'], None),
        ('metabox-all', ['-zlzma', '-m4096', '--zD=1', '-E48bit,fragments,ztailpacking'], None),
    ],
    # The compressed layouts the kernel reads that eroot's builder never
    # writes: compact indexes below 4 KiB blocks, interlaced plain pclusters,
    # partial references, 48-bit extent records (4-, 8- and 16-byte forms,
    # big lclusters), two algorithms, full indexes with fragments.
    'zip-extents': [
        ('b512-ztailpacking-fragments', ['-b512', '-zlz4hc', '-Eztailpacking,fragments'], None),
        ('b1024-lzma-dedupe', ['-b1024', '-zlzma', '-C8192', '-Ededupe'], None),
        ('b2048-deflate-all-fragments', ['-b2048', '-zdeflate', '-Eall-fragments'], None),
        ('48bit-lclusters', ['-E48bit', '-zlz4hc', '-C65536'], None),
        ('48bit-fragments', ['-E48bit', '-zlzma', '-Efragments'], None),
        ('48bit-dedupe-b512', ['-b512', '-E48bit', '-zdeflate', '-Ededupe'], None),
        ('two-algorithms', ['-zlz4hc:lzma', '-C32768', '-Eztailpacking'], None),
        ('legacy-fragments', ['-zlz4', '-Elegacy-compress,ztailpacking,fragments'], None),
    ],
}


# Sets the kernel cannot mount alone (their data is on an extra device).
NO_MOUNT = set()

# Sets the kernel misreads: Linux 6.18 reads the shared xattrs of an inode
# whose inline xattrs lie in the metabox's first page from that page
# instead of the image (its buffer keeps the page when it switches from the
# metabox to the image at the same index), where mkfs.erofs 1.9.4 put them
# (no SHARED_EA_IN_METABOX), and lists none of them.  There eroot must
# read what the kernel reads plus only such xattrs, each in the source tree.
KERNEL_MISREADS = {'metabox', 'metabox-lzma-prefixes', 'metabox-zstd-fragments',
                   'metabox-all'}


# Sets whose image is also damaged (never mounted): N copies with a few
# random bytes flipped in the first 256 KiB (superblock, prefix table,
# inodes, directories, the metabox's start), read by image-manifest: exit
# 0, 3 or 4, no sanitizer report, no hang.
DAMAGE = {'48bit': 12, 'dot-omitted': 12, 'xattr-prefixes': 12, 'inode-digest': 12,
          'metabox': 16, 'metabox-zstd-fragments': 16, 'xattr-prefixes-packed': 12}


def damage(t, name, image, base, variants):
    good = E.read_file(image)
    rng = random.Random(name)
    bad = os.path.join(base, 'damaged.erofs')
    codes = {}
    for i in range(variants):
        data = bytearray(good)
        span = min(len(data), 256 << 10)
        picks = sorted(rng.randrange(1024, span) for _ in range(rng.randint(1, 4)))
        for off in picks:
            data[off] ^= rng.randint(1, 255)
        E.write_file(bad, data)
        res, _ = E.image_manifest(bad, timeout=120)
        codes[res.rc] = codes.get(res.rc, 0) + 1
        if not E.must(t, res, '%s: damaged at %s: image-manifest' % (name, picks),
                      (0, 3, 4)):
            shutil.copyfile(bad, os.path.join(base, '%s-damaged-%d.erofs' % (name, i)))
    os.unlink(bad)
    print('%s: %d damaged copies, image-manifest exits %s' % (name, variants, codes),
          flush=True)


def filter_excludes(t, image, base):
    """An inode whose xattr name filter excludes its own names (all 32
    bits set) is corrupt: the kernel's getxattr would deny what listxattr
    shows.  Never mounted."""
    res = E.eroot('stat', '--json', image, '/edge/xattrs/trusted')
    if not E.must(t, res, 'name filter: eroot stat /edge/xattrs/trusted'):
        return
    st = json.loads(res.out)
    data = bytearray(E.read_file(image))
    fs = E.Erofs(bytes(data))
    off = fs.inode_offset(st['nid']) + (64 if st['inode_form'] == 'extended' else 32)
    t.check(struct.unpack_from('<I', data, off)[0] != 0xFFFFFFFF,
            'name filter: mkfs.erofs set some bits free', hex(off))
    struct.pack_into('<I', data, off, 0xFFFFFFFF)
    bad = os.path.join(base, 'filtered.erofs')
    E.write_file(bad, data)
    res, _ = E.image_manifest(bad)
    E.must(t, res, 'name filter excluding its own names: image-manifest', (3,))
    t.check(b'name filter' in res.err, 'name filter: the message says so', res.describe())
    os.unlink(bad)


def xattr_set(fields):
    return set(x for x in fields.get('xattrs', '').split(',') if x)


def beyond_kernel(kernel, ours, source):
    """(paths where @ours has xattrs the kernel misses but the source tree
    has, lines of @ours that differ from @kernel otherwise)."""
    k = dict(E.parse_line(line) for line in kernel)
    src = dict(E.parse_line(line) for line in source)
    extra, bad = 0, []
    for line in ours:
        path, f = E.parse_line(line)
        kf = k.pop(path, None)
        if kf == f:
            continue
        more = xattr_set(f) - xattr_set(kf or {})
        if (kf and xattr_set(kf) <= xattr_set(f) and more <= xattr_set(src.get(path, {})) and
                dict(f, xattrs='') == dict(kf, xattrs='')):
            extra += 1
        else:
            bad.append('+ ' + line)
    bad += ['- ' + E.format_line(path, f) for path, f in k.items()]
    return extra, bad


def same_as_kernel(t, name, kernel, ours, source, what):
    if name not in KERNEL_MISREADS:
        return E.same_manifest(t, kernel, ours, what)
    extra, bad = beyond_kernel(kernel, ours, source)
    print('note: %s: %d path(s) with shared xattrs the kernel misses (see KERNEL_MISREADS)'
          % (name, extra), flush=True)
    return t.check(not bad, what + ' (but the xattrs it misses)', '\n'.join(bad[:20]))


def reference_root():
    """The sid chroot with mkfs.erofs (tests/fixtures/reference-mkfs)."""
    cache = os.environ.get('EROOT_FIXTURES') or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(E.env_path('SCRATCH')))),
        'fixtures')
    res = E.run([FIXTURE, cache], timeout=1800)
    if res.rc != 0:
        sys.exit('reference-mkfs fixture failed:\n' + res.describe())
    values = {}
    for line in res.out.decode().splitlines():
        key, _, value = line.partition('=')
        values[key] = value
    print('reference: %s' % values['MKFS_EROFS_VERSION'].replace('\\', ''),
          flush=True)
    return values['MKFS_EROFS_ROOT']


def unsupported(t, res, what, feature):
    """Exit 4 and a message naming @feature; never a crash or 'corrupt'."""
    ok = E.must(t, res, what + ' says unsupported', (EXIT_UNSUPPORTED,))
    ok &= t.check(feature in res.err.decode(errors='replace').lower(),
                  '%s: the message names "%s"' % (what, feature), res.describe())
    return ok


def check_image(t, name, image, feature, base, source):
    """The checks of one image against the kernel's view of it (and
    @source, the tree's manifest, for KERNEL_MISREADS); True when all
    passed."""
    before = len(t.failures)
    mnt = os.path.join(base, 'mnt')
    out = os.path.join(base, 'out')
    shutil.rmtree(out, ignore_errors=True)  # what the last set left
    kernel = None
    if name not in NO_MOUNT:
        with E.try_mount(t, image, mnt, name + ': kernel mounts the image') as m:
            if m:
                kernel = E.manifest(mnt)
    res, lines = E.image_manifest(image)
    if feature and res.rc == EXIT_UNSUPPORTED:
        unsupported(t, res, name + ': image-manifest', feature)
        for cmd in (['fsck', image], ['extract', image, out]):
            unsupported(t, E.eroot(*cmd, timeout=600), '%s: eroot %s' % (name, cmd[0]),
                        feature)
        print('note: %s: eroot does not read %s yet (exit 4)' % (name, feature),
              flush=True)
        shutil.rmtree(out, ignore_errors=True)
        return len(t.failures) == before
    if E.must(t, res, name + ': image-manifest reads the image') and kernel:
        same_as_kernel(t, name, kernel, lines, source,
                       name + ': liberoot reads what the kernel reads')
    E.must(t, E.eroot('fsck', image, timeout=600), name + ': eroot fsck accepts the image')
    res = E.eroot('extract', image, out, timeout=600)
    if E.must(t, res, name + ': eroot extract') and kernel:
        same_as_kernel(t, name, kernel, E.manifest(out), source,
                       name + ': eroot extract gives the kernel\'s tree')
    shutil.rmtree(out, ignore_errors=True)
    return len(t.failures) == before


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in OPTION_SETS:
        sys.exit('usage: test_reference.py %s [SET...]' % '|'.join(OPTION_SETS))
    group, only = sys.argv[1], set(sys.argv[2:])
    sets = [s for s in OPTION_SETS[group] if not only or s[0] in only]
    if not sets:
        sys.exit('no option set named %s in %s' % (' '.join(sorted(only)), group))
    E.require_root()
    E.require_kernel_erofs()
    t = E.Checker('reference-' + group)
    base = E.scratch('reference-' + group)
    root = reference_root()
    # mkfs.erofs runs in the chroot, so the tree and image live there.
    work_in_root = '/tmp/eroot-reference-%s-%d' % (group, os.getpid())
    work = root + work_in_root
    os.makedirs(work)
    try:
        tree = os.path.join(work, 'tree')
        os.makedirs(tree)
        E.gentree(os.path.join(tree, 'edge'), 'edge', 1)
        E.gentree(os.path.join(tree, 'random'), 'random', 3)
        os.utime(tree, (0, 0))
        source = E.manifest(tree)
        for name, args, feature in sets:
            image = os.path.join(base, name + '.erofs')
            args = [a.format(work=work_in_root) for a in args]
            source_arg = work_in_root + '/tree'
            if '--tar=f' in args:   # the tree as a tar archive (sockets left out)
                source_arg = work_in_root + '/tree.tar'
                if not os.path.exists(work + '/tree.tar'):
                    E.run(['tar', '-C', tree, '--xattrs', '--xattrs-include=*', '--acls',
                           '-cf', work + '/tree.tar', '.'], timeout=600)
            # A clean environment: mkfs.erofs 1.9.4 crashes under meson's
            # MALLOC_PERTURB_ (it reads memory it did not initialise).
            res = E.run(['env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C',
                         'chroot', root, 'mkfs.erofs', '--quiet'] + args +
                        [work_in_root + '/image.erofs', source_arg],
                        timeout=600)
            if not E.must(t, res, '%s: mkfs.erofs %s' % (name, ' '.join(args))):
                continue
            shutil.move(os.path.join(work, 'image.erofs'), image)
            print('%s: %d bytes (mkfs.erofs %s)' % (name, os.path.getsize(image),
                                                    ' '.join(args)), flush=True)
            ok = check_image(t, name, image, feature, base, source)
            if name in DAMAGE:
                damage(t, name, image, base, DAMAGE[name])
            if name == 'xattr-name-filter':
                filter_excludes(t, image, base)
            if ok:
                os.unlink(image)    # failed images stay in the scratch
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.exit()


if __name__ == '__main__':
    main()
