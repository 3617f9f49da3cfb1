#!/usr/bin/python3
"""The same bytes (issue 10): while liberoot is reshaped, `eroot mkfs` must
write exactly the images that the commit before the reshape wrote, and
`eroot initrd` the same initrds apart from the loader's configuration.

    test_same_bytes.py [CASE...]

The baseline eroot is built from commit BASELINE by
tests/fixtures/baseline-eroot (cached in the build tree; git history needed:
a missing commit fails the test, it is not skipped).  Every case builds one
image with the current eroot ($EROOT) and one with the baseline's, from the
same source, and compares them byte for byte; a mismatch names the first
differing offset and both sizes, and the cases after it still run.
Cases: the edge tree at each block size, a random tree (with text files
added) with and without duplicated files, every algorithm with and without
-C 65536, ztailpacking, fragments, all-fragments, dedupe and their
combinations, multi-algorithm compress hints, -x, --workers=1 (also against
the default), the metadata options, tar (pax with xattrs, gnu), cpio newc,
two OCI layers with and without --overlay-whiteouts, --initramfs with early
archives and --keep-early; then `eroot initrd` of a directory and of an
initramfs, both given the same --loader, compared entry
by entry as newc archives: only the loader configuration may differ.

Delete this test (and tests/fixtures/baseline-eroot) once the reshape of
issue 10 is over: from then on the images may change on purpose.
"""
import hashlib
import os
import random
import sys
import time

import boot
import eroottest as E
import mkinitramfs as M
import test_archive as A
import test_roundtrip as R

# The last commit before issue 10's reshape of liberoot ("reader: one type
# check for eroot_pread and eroot_next_data"): the reshape must not change
# one byte of what eroot writes, so its output is the reference.
BASELINE = 'b74fc09'

IMG = object()          # stands for the image path in a case's arguments
KVER = '6.12.0-same'    # the fake kernel of the module tree below (zstd: 6.10+)
CONFIG = b'eroot/config'
# Issue 11: the loader hashes in userspace, so the hashing modules the
# baseline puts in the loader archive are gone (and the entries after them
# number 4 lower in the header's ino field).
DROPPED_MODULES = {b'eroot/modules/%s.ko' % m for m in
                   (b'af_alg', b'algif_hash', b'sha256_generic', b'libsha256')}


# ------------------------------------------------------------ comparing

def first_difference(a, b):
    """Offset of the first byte where @a and @b differ (None if equal)."""
    if a == b:
        return None
    n = min(len(a), len(b))
    lo, hi = 0, n          # a[:lo] == b[:lo]; the difference is below hi
    while hi - lo > 4096:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    for i in range(lo, hi):
        if a[i] != b[i]:
            return i
    return n


def describe_difference(a, b):
    at = first_difference(a, b)
    return 'first difference at byte %d (0x%x); current %d bytes, baseline ' \
        '%d bytes' % (at, at, len(a), len(b))


# b74fc09 rewound its data cursor (dedupe finding a twin after the file's
# data was written): the metadata written over the rewound part can leave
# that data behind in the unused tail of a block.  The reshape's placer
# never writes what it will not keep, so the tail is zero there now (commit
# 0737f7b).  Nothing reads those bytes: such stale padding is allowed, each
# run reported as a note; set False to demand every byte.
ALLOW_STALE_PADDING = True


def stale_padding(cur, old):
    """[(offset, length, offset of the same bytes elsewhere in @old)] when
    every difference between the images @cur and @old is stale padding:
    from the first differing byte to the end of its block, @cur is zero
    and @old holds (zeros aside) a copy of bytes found elsewhere in @old.
    None when some difference is not."""
    if len(cur) != len(old) or len(old) < 2048:
        return None
    bs = E.Erofs(old).bs
    runs, at = [], first_difference(cur, old)
    while at is not None:
        end = min((at // bs + 1) * bs, len(old))
        stale = old[at:end].rstrip(b'\0')
        if any(cur[at:end]) or len(stale) < 16:
            return None
        copy = old.find(stale)
        if copy == at:
            copy = old.find(stale, at + 1)
        if copy < 0:
            return None
        runs.append((at, end - at, copy))
        rest = first_difference(cur[end:], old[end:])
        at = None if rest is None else end + rest
    return runs


def same_bytes(cur, old):
    """(same, what differs): the same bytes, or stale padding only."""
    if cur == old:
        return True, ''
    runs = stale_padding(cur, old) if ALLOW_STALE_PADDING else None
    if runs:
        return True, 'stale padding (allowed): ' + ', '.join(
            '%d bytes at %d, a copy of those at %d' % (n, at, copy)
            for at, n, copy in runs)
    return False, describe_difference(cur, old)


def same_image(t, name, cur, base, took):
    a, b = E.read_file(cur), E.read_file(base)
    same, detail = same_bytes(a, b)
    if detail and same:
        print('note: %s: %s' % (name, detail), flush=True)
    if t.check(same, '%s: the same bytes as %s' % (name, BASELINE), detail):
        print('ok: %s (%d bytes; %s)' % (name, len(a), took), flush=True)


# ------------------------------------------------------------ building

class Sides:
    """The two eroots and where each writes its images."""

    def __init__(self, base, current, baseline):
        self.exe = {'current': current, 'baseline': baseline}
        self.out, self.seconds = {}, {}
        for side in self.exe:
            self.out[side] = os.path.join(base, side)
            os.mkdir(self.out[side])

    def took(self):
        return 'current %.1f s, baseline %.1f s' % (self.seconds['current'],
                                                    self.seconds['baseline'])

    def run(self, t, name, side, args, stdin_path=None, env=None):
        """Run the @side eroot with @args (IMG replaced by @side's output
        path for @name); returns (Result or None, output path)."""
        path = os.path.join(self.out[side], name)
        if side == 'baseline':
            # its liberoot is linked in; keep meson's path to ours out anyway
            env = dict(env or {}, LD_LIBRARY_PATH='', LD_PRELOAD='')
        start = time.monotonic()
        argv = [self.exe[side]] + [path if a is IMG else str(a) for a in args]
        if stdin_path:
            with open(stdin_path, 'rb') as f:
                res = E.run(argv, timeout=900, env=env, stdin=f)
        else:
            res = E.run(argv, timeout=900, env=env)
        self.seconds[side] = time.monotonic() - start
        if not E.must(t, res, '%s: %s eroot %s' % (name, side, ' '.join(
                argv[1:]).replace(path, 'OUT'))):
            return None, path
        return res, path


def mkfs_both(t, sides, name, args, stdin_path=None, env=None, stdout=False):
    """eroot mkfs -q ARGS with each eroot; the images must be the same
    bytes (and, with @stdout, what the commands print)."""
    results = {}
    for side in ('current', 'baseline'):
        results[side] = sides.run(t, name, side, ['mkfs', '-q'] + list(args),
                                  stdin_path, env)
    (cur, cur_path), (old, old_path) = results['current'], results['baseline']
    if cur is None or old is None:
        return
    if stdout:
        t.check(cur.out == old.out, '%s: prints what %s printed' %
                (name, BASELINE), '%r vs %r' % (cur.out, old.out))
    same_image(t, name, cur_path, old_path, sides.took())


# ------------------------------------------------------------ sources

WORDS = ('erofs pcluster lcluster block inode xattr fragment dedupe tail '
         'packed extent index compress image root loader module the of a '
         'and to in is').split()


def mixed_files(tree):
    """Files that compress to a part of their size, with and without
    incompressible stretches: gentree's data is either random or
    trivially compressible, which leaves pclusters of every size and the
    choice between compressed and plain blocks untried."""
    d = os.path.join(tree, 'mixed')
    os.mkdir(d)
    rnd = random.Random(1)
    for size in (1000, 4095, 4097, 20000, 65659, 300000):
        text = ' '.join(rnd.choice(WORDS) for _ in range(size // 3))
        E.write_file(os.path.join(d, 'text-%d' % size), text.encode()[:size])
    half = bytes(rnd.getrandbits(8) for _ in range(100_000))
    E.write_file(os.path.join(d, 'random-then-text'),
                 half + ' '.join(WORDS * 4000).encode()[:150_000])
    os.utime(d, (1_600_000_000, 1_600_000_000))


def random_tree(path, seed, duplicate=False):
    """A random tree with mixed_files(); with @duplicate, copies of its
    files as test_roundtrip.py's --duplicate makes them, so that dedupe
    and fragments find equal data."""
    E.gentree(path, 'random', seed)
    mixed_files(path)
    if duplicate:
        R.duplicate_files(path)


def hints_file(path):
    """Hints as the hints-multi-algorithm test gives them, fitted to the
    random tree of seed 1: lzma in 16 KiB pclusters for mixed/, zstd in
    64 KiB ones for names ending in a digit, lz4hc for the rest."""
    with open(path, 'w') as f:
        f.write('# per-file compression\n16384 ^mixed/ 2\n65536 [0-9]$ 1\n')
    return path


def layers(base):
    """Two OCI layers of test_archive.py (whiteouts, an opaque directory)."""
    paths = []
    for i, layer in enumerate((A.LAYER1, A.LAYER2), 1):
        paths.append(os.path.join(base, 'layer%d.tar' % i))
        A.write_layer(paths[-1], layer)
    return paths


def module_tree(root):
    """lib/modules/KVER under @root as depmod leaves it, for eroot initrd:
    modules plain and compressed (xz, zstd, gzip), a dependency, an alias,
    a soft dependency, a built-in module.  The loader never runs here, so
    a module is any bytes."""
    kdir = os.path.join(root, 'lib', 'modules', KVER)
    files = {
        'kernel/fs/erofs/erofs.ko.xz': ['kernel/lib/libcrc32c.ko'],
        'kernel/fs/overlayfs/overlay.ko.zst': [],
        'kernel/lib/libcrc32c.ko': [],
        'kernel/crypto/crc32c_generic.ko.gz': [],
        'kernel/crypto/af_alg.ko': [],
        'kernel/crypto/algif_hash.ko': ['kernel/crypto/af_alg.ko'],
        'kernel/crypto/sha256_generic.ko.xz': ['kernel/lib/crypto/libsha256.ko'],
        'kernel/lib/crypto/libsha256.ko': [],
    }
    for rel in files:
        # not too compressible: eroot inflates a .gz into 8 times its size
        body = b'\x7fELF' + hashlib.shake_256(rel.encode()).digest(6000)
        path = os.path.join(kdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if rel.endswith('.zst'):
            # from a file, so that the frame records the size (eroot needs it)
            E.write_file(path[:-4], body)
            A.run_checked(['zstd', '-q', '--rm', path[:-4], '-o', path])
        else:
            method = {'.xz': 'xz', '.gz': 'gzip'}.get(
                os.path.splitext(rel)[1], 'none')
            E.write_file(path, M.compress(body, method))
    E.write_file(os.path.join(kdir, 'modules.dep'), ''.join(
        '%s: %s\n' % (rel, ' '.join(deps)) for rel, deps in files.items())
        .replace(': \n', ':\n').encode())
    E.write_file(os.path.join(kdir, 'modules.alias'),
                 b'alias crypto-sha256 sha256_generic\nalias sha256 '
                 b'sha256_generic\nalias crc32c crc32c_generic\n')
    E.write_file(os.path.join(kdir, 'modules.softdep'),
                 b'softdep libcrc32c pre: crc32c\n')
    E.write_file(os.path.join(kdir, 'modules.builtin'),
                 b'kernel/drivers/block/loop.ko\n')


# ------------------------------------------------------------ newc

def newc_entries(data):
    """[(archive index, offset, name, header fields, data offset, data)] of
    a file of newc archives.  Zero padding may stand before any header, as
    the kernel reads it: eroot initrd pads so that images start on a page."""
    out, pos, archive = [], 0, 0
    while True:
        while pos < len(data) and data[pos:pos + 4] == bytes(4):
            pos += 4
        if pos >= len(data) or not any(data[pos:]):
            return out
        head = data[pos:pos + 110]
        if len(head) < 110 or head[:6] not in (b'070701', b'070702'):
            raise ValueError('no newc header at offset %d' % pos)
        fields = [int(head[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        name = data[pos + 110:pos + 110 + namesize].rstrip(b'\0')
        at = (pos + 110 + namesize + 3) & ~3
        end = (at + filesize + 3) & ~3
        if at + filesize > len(data):
            raise ValueError('%r at %d runs past the end' % (name, pos))
        if name == b'TRAILER!!!':
            archive += 1
        else:
            out.append((archive, pos, name, fields, at, data[at:at + filesize]))
        pos = end


def config_lines_note(cur, old):
    a, b = cur.decode(errors='replace').splitlines(), \
        old.decode(errors='replace').splitlines()
    only_cur = [l for l in a if l not in b]
    only_old = [l for l in b if l not in a]
    if not only_cur and not only_old:
        return 'the loader configuration is unchanged'
    return 'the loader configuration differs (allowed): new lines %s, ' \
        'lines gone %s' % (only_cur, only_old)


def same_initrd(t, name, cur_path, old_path, took):
    """Both initrds hold the same newc entries in the same archives with
    the same headers and data, and are byte-identical up to the loader
    configuration; the configuration itself may differ (issue 10 adds a
    version field); page-aligned data stays page-aligned."""
    cur, old = E.read_file(cur_path), E.read_file(old_path)
    try:
        ce, oe = newc_entries(cur), newc_entries(old)
    except ValueError as e:
        t.check(False, '%s: both initrds are newc archives' % name, e)
        return
    problems = []
    dropped = [e for e in oe if e[2] in DROPPED_MODULES]
    oe = [e for e in oe if e[2] not in DROPPED_MODULES]
    if dropped:
        print('note: %s: the baseline\'s hashing modules are left out (allowed): %s' % (
            name, b' '.join(e[2] for e in dropped).decode()))
    names = [(e[0], e[2]) for e in ce]
    if names != [(e[0], e[2]) for e in oe]:
        problems.append('entries differ: current %s\nbaseline %s' % (
            names, [(e[0], e[2]) for e in oe]))
    config = [i for i, e in enumerate(oe) if e[2] == CONFIG]
    if len(config) != 1:
        problems.append('the baseline initrd has %d %s entries' %
                        (len(config), CONFIG.decode()))
    else:
        head = oe[config[0]][1]
        if not dropped and cur[:head] != old[:head]:
            problems.append('before the configuration (%d bytes): %s' % (
                head, describe_difference(cur[:head], old[:head])))
    for c, o in zip(ce, oe):
        if c[2] != o[2]:
            break
        label = '%s (archive %d)' % (c[2].decode(errors='replace'), c[0])
        if c[2] == CONFIG:
            print('note: %s: %s' % (name, config_lines_note(c[5], o[5])))
            continue
        fields = [f for i, f in enumerate(('ino', 'mode', 'uid', 'gid',
                  'nlink', 'mtime', 'filesize', 'devmajor', 'devminor',
                  'rdevmajor', 'rdevminor', 'namesize', 'check'))
                  if c[3][i] != o[3][i] and
                  not (i == 0 and 0 < o[3][0] - c[3][0] <= len(dropped))]
        if fields:
            problems.append('%s: header fields %s differ' % (label, fields))
        same, detail = same_bytes(c[5], o[5])
        if not c[2].endswith(b'.erofs') and c[5] != o[5]:
            same, detail = False, describe_difference(c[5], o[5])
        if not same:
            problems.append('%s: data: %s' % (label, detail))
        elif detail:
            print('note: %s: %s: %s' % (name, label, detail))
        if o[4] % 4096 == 0 and o[5] and c[4] % 4096:
            problems.append('%s: data at %d, no longer page-aligned' %
                            (label, c[4]))
    if t.check(not problems, '%s: the same initrd as %s apart from the '
               'loader configuration' % (name, BASELINE),
               '\n'.join(problems[:20])):
        print('ok: %s (%d entries, %d and %d bytes; %s)' % (
            name, len(ce), len(cur), len(old), took), flush=True)


def initrd_both(t, sides, name, args):
    paths = {}
    for side in ('current', 'baseline'):
        res, paths[side] = sides.run(t, name, side, ['initrd', '-q'] + args)
        if res is None:
            return
    same_initrd(t, name, paths['current'], paths['baseline'], sides.took())


# ------------------------------------------------------------ the matrix

ALGORITHMS = ('lz4', 'lz4hc', 'lzma', 'deflate', 'zstd')


def mkfs_cases(src):
    """[(name, mkfs arguments, keyword arguments of mkfs_both)]"""
    edge, rnd, dup = src['edge'], src['random'], src['dup']
    cases = [('edge-b%d' % bs, ['-b', bs, IMG, edge], {})
             for bs in (4096, 2048, 1024, 512)]
    cases += [('random', [IMG, rnd], {}), ('random-dup', [IMG, dup], {})]
    for algo in ALGORITHMS:
        cases.append(('%s-edge' % algo, ['-z', algo, IMG, edge], {}))
        cases.append(('%s-random-C64k' % algo,
                      ['-z', algo, '-C', 65536, IMG, rnd], {}))
    cases += [
        # (not lz4hc: at 512-byte blocks it takes 20 s)
        ('lz4-edge-b512-C8k', ['-b', 512, '-z', 'lz4', '-C', 8192, IMG,
                               edge], {}),
        ('ztailpacking-lz4hc-edge', ['-z', 'lz4hc', '-E', 'ztailpacking',
                                     IMG, edge], {}),
        ('ztailpacking-deflate-edge-b1024', ['-b', 1024, '-z', 'deflate',
                                             '-E', 'ztailpacking', IMG, edge],
         {}),
        ('fragments-lz4hc-edge', ['-z', 'lz4hc', '-E', 'fragments', IMG,
                                  edge], {}),
        ('all-fragments-lzma-edge', ['-z', 'lzma', '-E', 'all-fragments',
                                     IMG, edge], {}),
        ('dedupe-flat', ['-E', 'dedupe', IMG, dup], {}),
        ('dedupe-zstd-C16k', ['-z', 'zstd', '-C', 16384, '-E', 'dedupe', IMG,
                              dup], {}),
        ('fragments-dedupe-zstd-C64k', ['-z', 'zstd', '-C', 65536, '-E',
                                        'fragments,dedupe', IMG, dup], {}),
        ('ztailpacking-dedupe-lzma-C64k', ['-z', 'lzma', '-C', 65536, '-E',
                                           'ztailpacking,dedupe', IMG, dup],
         {}),
        ('all-fragments-dedupe-deflate-b512', ['-b', 512, '-z', 'deflate',
                                               '-E', 'all-fragments,dedupe',
                                               IMG, dup], {}),
        ('hints-multi-algorithm', ['-z', 'lz4hc:zstd,12:lzma',
                                   '--compress-hints', src['hints'],
                                   '-E', 'ztailpacking', IMG, rnd], {}),
        ('xattr-share-0', ['-x', 0, IMG, edge], {}),
        ('xattr-share-1', ['-x', 1, IMG, edge], {}),
        ('workers-1', ['--workers=1', '-z', 'lz4hc', '-E', 'fragments,dedupe',
                       IMG, dup], {}),
        ('workers-default', ['-z', 'lz4hc', '-E', 'fragments,dedupe', IMG,
                             dup], {}),
        # the options test's metadata options
        ('metadata-options', ['-T', 1_600_000_000, '-L', 'same-bytes', '-U',
                              '0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
                              '--force-uid=7', '--force-gid=8',
                              '--exclude-path=files', '--exclude-regex=^dirs/d',
                              IMG, edge], {}),
        ('all-root-source-date-epoch', ['--all-root', IMG, edge],
         {'env': {'SOURCE_DATE_EPOCH': '1500000000'}}),
        # archives (test_archive.py's)
        ('tar-pax', ['--tar', src['pax'], IMG], {}),
        ('tar-pax-lz4hc-fragments', ['-z', 'lz4hc', '-E', 'fragments',
                                     '--tar', src['pax'], IMG], {}),
        ('tar-gnu', ['--tar', src['gnu'], IMG], {}),
        ('tar-pax-zst-stdin', ['--tar', '-', IMG],
         {'stdin_path': src['pax-zst']}),
        ('tar-as-source', [IMG, src['gnu']], {}),
        ('cpio-newc', ['--cpio', src['newc'], IMG], {}),
        ('cpio-newc-zstd', ['-z', 'zstd', '--cpio', src['newc'], IMG], {}),
        ('layers', ['--tar', src['layers'][0], '--tar', src['layers'][1],
                    IMG], {}),
        ('layers-overlay-whiteouts', ['--overlay-whiteouts', '--tar',
                                      src['layers'][0], '--tar',
                                      src['layers'][1], IMG], {}),
        ('initramfs', ['--initramfs', src['initramfs'], IMG], {}),
        ('initramfs-keep-early-lz4hc', ['-z', 'lz4hc', '--initramfs',
                                        src['initramfs'], '--keep-early',
                                        IMG], {'stdout': True}),
    ]
    return cases


def make_sources(base):
    A.require_tools('tar', 'cpio', 'zstd', 'lz4', 'bzip2')
    src = {'edge': os.path.join(base, 'edge'),
           'random': os.path.join(base, 'random'),
           'dup': os.path.join(base, 'random-dup')}
    E.gentree(src['edge'], 'edge', 1)
    random_tree(src['random'], 1)
    random_tree(src['dup'], 1, duplicate=True)
    src['hints'] = hints_file(os.path.join(base, 'hints.txt'))
    arch = os.path.join(base, 'archives')
    os.mkdir(arch)
    tar_tree = os.path.join(base, 'edge-for-tar')
    E.gentree(tar_tree, 'edge', 3)
    A.fit_for_tar(tar_tree)
    src['pax'] = os.path.join(arch, 'edge-pax.tar')
    src['gnu'] = os.path.join(arch, 'edge-gnu.tar')
    A.gnu_tar(tar_tree, src['pax'], *A.TAR_PAX)
    A.gnu_tar(tar_tree, src['gnu'], '--sparse', '--format=gnu')
    src['pax-zst'] = A.compress_file(src['pax'], 'zstd')
    cpio_tree = os.path.join(base, 'edge-for-cpio')
    E.gentree(cpio_tree, 'edge', 4)
    A.fit_for_cpio(cpio_tree)
    src['newc'] = os.path.join(arch, 'newc.cpio')
    A.gnu_cpio(cpio_tree, src['newc'], 'newc')
    src['layers'] = layers(arch)
    # two early (microcode) archives, then gzip, xz, lzma, zstd, lz4,
    # bzip2 and 070702 members overriding each other
    src['initramfs'] = os.path.join(arch, 'initramfs.img')
    A.build_initramfs(src['initramfs'], A.initramfs_members())
    # eroot initrd: a module tree, and a directory carrying it
    src['kroot'] = os.path.join(base, 'kroot')
    module_tree(src['kroot'])
    src['initrd-dir'] = os.path.join(base, 'initrd-dir')
    E.gentree(src['initrd-dir'], 'random', 2)
    module_tree(src['initrd-dir'])
    os.makedirs(os.path.join(src['initrd-dir'], 'usr', 'bin'), exist_ok=True)
    E.write_file(os.path.join(src['initrd-dir'], 'usr', 'bin', 'run-init'),
                 b'#!/bin/sh\n')
    os.chmod(os.path.join(src['initrd-dir'], 'usr', 'bin', 'run-init'), 0o755)
    return src


def initrd_cases(src, loader, layer):
    """[(name, eroot initrd arguments)]: the same --loader for both."""
    common = ['--loader', loader]
    return [
        ('initrd-dir', common + ['--modules-dir', src['initrd-dir'], IMG,
                                 src['initrd-dir']]),
        ('initrd-initramfs-lzma-layer', common + [
            '-k', KVER, '--modules-dir', src['kroot'], '-z', 'lzma', '-C',
            65536, '--layer', layer, IMG, src['initramfs']]),
        ('initrd-initramfs-zstd-no-digest', common + [
            '-k', KVER, '--modules-dir', src['kroot'], '-z', 'zstd',
            '--digest', 'none', IMG, src['initramfs']]),
    ]


def main():
    E.require_root()
    only = set(sys.argv[1:])
    t = E.Checker('same-bytes')
    try:
        fx = boot.fixture('baseline-eroot', BASELINE)
    except boot.FixtureError as e:
        # Not a skip: CI clones the repository with its history.
        t.check(False, 'the baseline eroot of commit %s builds '
                '(tests/fixtures/baseline-eroot)' % BASELINE, e)
        t.exit()
    print('baseline: %s' % fx['BASELINE_COMMIT'], flush=True)
    base = E.scratch('same-bytes')
    start = time.monotonic()
    src = make_sources(base)
    print('sources: %.1f s' % (time.monotonic() - start), flush=True)
    sides = Sides(base, E.env_path('EROOT'), fx['BASELINE_EROOT'])
    # An image both sides stack as --layer: one file, whoever built it.
    layer = os.path.join(base, 'layer.erofs')
    E.must(t, E.run([fx['BASELINE_EROOT'], 'mkfs', '-q', '-z', 'lz4', layer,
                     src['random']]), 'the --layer image builds')
    cases = [(name, mkfs_both, args, kw) for name, args, kw in mkfs_cases(src)]
    cases += [(name, initrd_both, args, {}) for name, args in
              initrd_cases(src, fx['BASELINE_EROOT_INIT'], layer)]
    unknown = only - {c[0] for c in cases}
    if unknown:
        sys.exit('unknown case(s): %s' % ' '.join(sorted(unknown)))
    for name, both, args, kw in cases:
        if not only or name in only:
            both(t, sides, name, args, **kw)
    one, default = (os.path.join(sides.out['current'], 'workers-%s' % n)
                    for n in ('1', 'default'))
    if os.path.exists(one) and os.path.exists(default):
        a, b = E.read_file(one), E.read_file(default)
        t.check(a == b, '--workers=1 and the default give the same image',
                describe_difference(a, b) if a != b else '')
    t.exit()


if __name__ == '__main__':
    main()
