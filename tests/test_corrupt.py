#!/usr/bin/python3
"""Corrupted images given to every reader command (fsck, info, ls, stat,
cat, extract) and to image-manifest (the library API).

    test_corrupt.py crafted          targeted damage, precise expectations
    test_corrupt.py truncated        truncation and bad magic
    test_corrupt.py fuzz [--variants N] [--seed S] [-b SIZE]
                                     seeded random byte flips over metadata

Always required: no sanitizer report, no signal, no hang (timeout), exit code
0..4 (4: a feature eroot cannot read, such as damaged feature bits with the
checksum fixed).  Targeted cases also require exit 3 ("corrupt") where the
command must meet the damage.
"""
import argparse
import os
import random
import shutil
import stat
import struct

import eroottest as E
import gentree

TIMEOUT = 60


def make_tree(root):
    """A small tree touching every metadata structure the reader parses."""
    rng = random.Random(7)
    os.makedirs(os.path.join(root, 'd', 'e'))
    for name, size in (('d/a', 100), ('d/b', 5000), ('d/e/x', 3), ('f', 10000),
                       ('tail', 4096 * 2 + 77), ('big', 300000)):
        E.write_file(os.path.join(root, name), rng.randbytes(size))
    os.makedirs(os.path.join(root, 'wide'))
    for i in range(150):        # a directory of several blocks
        E.write_file(os.path.join(root, 'wide', 'entry-%03d' % i), b'%d' % i)
    E.write_file(os.path.join(root, 'd', 'text'), b'hello')
    E.write_file(os.path.join(root, 'ext'), b'extended inode')
    os.chown(os.path.join(root, 'ext'), 70000, 70000)   # needs 64-byte inode
    os.symlink('d/a', os.path.join(root, 's'))
    os.symlink('L' * 3000, os.path.join(root, 'longlink'))
    os.link(os.path.join(root, 'd/a'), os.path.join(root, 'hl'))
    os.mknod(os.path.join(root, 'dev'), stat.S_IFCHR | 0o600, os.makedev(259, 7))
    os.mkfifo(os.path.join(root, 'fifo'))
    x = os.path.join(root, 'x')
    E.write_file(x, b'xattrs')
    os.setxattr(x, 'user.one', b'1')
    os.setxattr(x, 'user.big', rng.randbytes(2000))
    os.setxattr(x, 'trusted.t', b'')
    for n in ('f', 'd/a', 'tail', 'x'):
        os.setxattr(os.path.join(root, n), 'user.shared', b'shared value')
    os.setxattr(os.path.join(root, 'd'), 'system.posix_acl_default',
                gentree.acl_value(7, 5, 5, users=[(1337, 7)]))
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files + ['.']:
            os.utime(os.path.join(dirpath, n), ns=(1, 1_500_000_000 * 10**9),
                     follow_symlinks=False)


READ_PATHS = ['/f', '/d/b', '/tail', '/s', '/x', '/d/e/x', '/big']


def reader_commands(image, out):
    return [
        ('fsck', ['fsck', image]),
        # one thread and more threads than cores: the same report
        ('fsck-j1', ['fsck', '-j', '1', image]),
        ('fsck-j3', ['fsck', '--workers=3', image]),
        ('info', ['info', image]),
        ('info-json', ['info', '--json', image]),
        ('ls', ['ls', '-R', '-l', image]),
        ('ls-d', ['ls', '-l', '-a', image, '/d']),
        ('stat', ['stat', image, '/x']),
        ('stat-json', ['stat', '--json', image, '/d/e']),
        ('cat', ['cat', image] + READ_PATHS),
        ('extract', ['extract', image, out]),
    ]


def run_all(t, image, base, what):
    """Run every reader on @image; return {name: exit code or None}."""
    out = os.path.join(base, 'extract-out')
    shutil.rmtree(out, ignore_errors=True)
    codes = {}
    results = [(n, E.eroot(*args, timeout=TIMEOUT))
               for n, args in reader_commands(image, out)]
    res, _ = E.image_manifest(image, timeout=TIMEOUT)
    results.append(('image-manifest', res))
    for name, res in results:
        good = (not res.timed_out and res.rc is not None and
                0 <= res.rc <= 4 and not res.sanitizer())
        t.check(good, '%s: %s exits 0..4 cleanly' % (what, name),
                res.describe())
        if good and res.rc and name != 'image-manifest':
            # Messages are "eroot COMMAND: ..." lines, fsck's one per problem.
            prefix = 'eroot %s: ' % res.cmd[1]
            lines = res.err_lines()
            t.check(lines and all(l.startswith(prefix) for l in lines),
                    '%s: %s explains its failure in "%s..." lines'
                    % (what, name, prefix), res.describe())
        codes[name] = res.rc
    shutil.rmtree(out, ignore_errors=True)
    results = dict(results)
    for name in ('fsck-j1', 'fsck-j3'):
        a, b = results['fsck'], results[name]
        t.check(a.rc == b.rc and a.out == b.out and a.err == b.err,
                '%s: %s gives the verdict, messages and summary of fsck'
                % (what, name), a.describe() + '\n' + b.describe())
    return codes, results


def expect_codes(t, what, codes, results, expected):
    for name, allowed in expected.items():
        t.check(codes.get(name) in allowed, '%s: %s exits %s' %
                (what, name, '/'.join(map(str, allowed))),
                results[name].describe())


ALL = ('fsck', 'info', 'info-json', 'ls', 'ls-d', 'stat', 'stat-json', 'cat',
       'extract', 'image-manifest')


def build_image(t, base, bs=4096):
    tree = os.path.join(base, 'tree')
    if not os.path.exists(tree):
        make_tree(tree)
    image = os.path.join(base, 'good-%d.erofs' % bs)
    if not E.mkfs(t, image, tree, '-b', str(bs)):
        t.exit()
    codes, results = run_all(t, image, base, 'intact %d image' % bs)
    expect_codes(t, 'intact image', codes, results, {n: (0,) for n in ALL})
    return image


# ---------------------------------------------------------------- crafted

def put(data, off, fmt, *values):
    struct.pack_into(fmt, data, off, *values)


def fix_csum(fs, data):
    put(data, E.SB_OFFSET + 4, '<I', fs.sb_checksum(data))


def lookup(fs, path):
    for p, ino, deoff in fs.walk():
        if p == path:
            return ino, deoff
    raise KeyError(path)


def dirent_of(fs, dirpath, name):
    ino, _ = lookup(fs, dirpath)
    for n, nid, ftype, off, boff, blen in fs.dirents(ino):
        if n == name:
            return off, boff, blen
    raise KeyError(name)


def set_size(fs, data, ino, size):
    if ino.extended:
        put(data, ino.off + 8, '<Q', size)
    else:
        put(data, ino.off + 8, '<I', min(size, 0xFFFFFFFF))


def need4(*names):
    """Expectations: these commands must report an unreadable feature (exit 4)."""
    return {n: (4,) for n in names}


def need3(*names):
    """Expectations: these commands must report corruption (exit 3)."""
    return {n: (3,) for n in names}


def crafted_cases(fs):
    """(name, mutate(data), {command: allowed exit codes})."""
    every3 = need3(*ALL)
    cases = []

    def case(name, expect):
        def deco(fn):
            cases.append((name, fn, expect))
            return fn
        return deco

    @case('dirent nid out of range',
          need3('fsck', 'ls', 'extract', 'ls-d', 'image-manifest'))
    def _(data):
        off, _, _ = dirent_of(fs, b'/d', b'a')
        put(data, off, '<Q', 1 << 40)

    @case('dirent nid of an inode straddling the end',
          need3('fsck', 'ls', 'extract', 'image-manifest'))
    def _(data):
        off, _, _ = dirent_of(fs, b'/d', b'b')
        nid = (len(data) - 16 - fs.meta_blkaddr * fs.bs) // 32
        put(data, off, '<Q', nid)

    @case('directory cycle (subdirectory -> root)',
          need3('fsck', 'ls', 'extract', 'image-manifest'))
    def _(data):
        off, _, _ = dirent_of(fs, b'/d', b'e')
        put(data, off, '<Q', fs.root_nid)

    @case('directory cycle (subdirectory -> itself)',
          need3('fsck', 'ls', 'extract', 'image-manifest'))
    def _(data):
        ino, _ = lookup(fs, b'/d')
        off, _, _ = dirent_of(fs, b'/d', b'e')
        put(data, off, '<Q', ino.nid)

    @case('nameoff out of range',
          need3('fsck', 'ls', 'extract', 'ls-d', 'image-manifest'))
    def _(data):
        off, _, _ = dirent_of(fs, b'/d', b'b')
        put(data, off + 8, '<H', 0xFFF0)

    @case('nameoff going backwards',
          need3('fsck', 'ls', 'extract', 'ls-d', 'image-manifest'))
    def _(data):
        off, boff, _ = dirent_of(fs, b'/d', b'b')
        prev = struct.unpack_from('<H', data, off - 12 + 8)[0]
        put(data, off + 8, '<H', prev - 1)

    @case('first nameoff zero (no entries)',
          need3('fsck', 'ls', 'extract', 'ls-d', 'image-manifest'))
    def _(data):
        _, boff, _ = dirent_of(fs, b'/d', b'.')
        put(data, boff + 8, '<H', 0)

    @case('first nameoff not a multiple of 12',
          need3('fsck', 'ls', 'extract', 'ls-d', 'image-manifest'))
    def _(data):
        _, boff, _ = dirent_of(fs, b'/d', b'.')
        first = struct.unpack_from('<H', data, boff + 8)[0]
        put(data, boff + 8, '<H', first - 5)

    @case('names out of order',
          need3('fsck', 'ls', 'extract', 'ls-d', 'image-manifest'))
    def _(data):
        off, boff, _ = dirent_of(fs, b'/d', b'a')
        nameoff = struct.unpack_from('<H', data, off + 8)[0]
        data[boff + nameoff] = ord('z')       # "z" now sorts after "b"

    @case('file data block beyond the image',
          need3('fsck', 'cat', 'extract', 'image-manifest'))
    def _(data):
        ino, _ = lookup(fs, b'/big')
        put(data, ino.off + 16, '<I', 0xFFFFFF00)

    @case('file size huge',
          need3('fsck', 'cat', 'extract', 'image-manifest'))
    def _(data):
        ino, _ = lookup(fs, b'/f')
        set_size(fs, data, ino, 1 << 60)

    @case('symlink size huge',
          need3('fsck', 'cat', 'extract', 'image-manifest'))
    def _(data):
        ino, _ = lookup(fs, b'/s')
        set_size(fs, data, ino, 1 << 40)

    @case('xattr count huge',
          need3('fsck', 'stat', 'extract', 'image-manifest'))
    def _(data):
        ino, _ = lookup(fs, b'/x')
        put(data, ino.off + 2, '<H', 0xFFFF)

    # the kernel's answer too: EOPNOTSUPP, a layout of a newer format
    @case('invalid data layout',
          need4('fsck', 'cat', 'extract', 'image-manifest'))
    def _(data):
        ino, _ = lookup(fs, b'/f')
        fmt = struct.unpack_from('<H', data, ino.off)[0]
        put(data, ino.off, '<H', (fmt & ~0xE) | (7 << 1))

    @case('inode with no file type',
          need3('fsck', 'extract', 'image-manifest'))
    def _(data):
        ino, _ = lookup(fs, b'/f')
        put(data, ino.off + 4, '<H', 0o644)

    @case('inode type differs from its dirent (file -> symlink)',
          need3('fsck', 'image-manifest'))
    def _(data):
        ino, _ = lookup(fs, b'/d/text')
        put(data, ino.off + 4, '<H', 0o120644)

    @case('inode mtime nanoseconds >= 10^9',
          need3('fsck', 'extract'))
    def _(data):
        ino, _ = lookup(fs, b'/ext')
        assert ino.extended
        put(data, ino.off + 40, '<I', 1_500_000_000)

    @case('build time nanoseconds >= 10^9 (checksum fixed)',
          need3('fsck', 'extract'))
    def _(data):
        put(data, E.SB_OFFSET + 32, '<I', 0xFFFFFFFF)
        fix_csum(fs, data)

    @case('bad magic', every3)
    def _(data):
        put(data, E.SB_OFFSET, '<I', 0x12345678)

    @case('superblock byte flipped (label), checksum stale', every3)
    def _(data):
        data[E.SB_OFFSET + 64] ^= 0x20

    @case('superblock build time changed, checksum stale', every3)
    def _(data):
        data[E.SB_OFFSET + 24] ^= 0x01

    @case('root nid is a file (checksum fixed)', every3)
    def _(data):
        ino, _ = lookup(fs, b'/f')
        put(data, E.SB_OFFSET + 14, '<H', ino.nid)
        fix_csum(fs, data)

    @case('block size bits 20 (checksum fixed)', every3)
    def _(data):
        data[E.SB_OFFSET + 12] = 20
        fix_csum(fs, data)

    @case('meta_blkaddr beyond the image (checksum fixed)', every3)
    def _(data):
        put(data, E.SB_OFFSET + 40, '<I', 0x7FFFFFF0)
        fix_csum(fs, data)

    @case('unknown incompat feature (checksum fixed)',
          need4(*ALL))
    def _(data):
        put(data, E.SB_OFFSET + 80, '<I', 0x80000000 | fs.feature_incompat)
        fix_csum(fs, data)

    return cases


def run_crafted(t, base):
    image = build_image(t, base)
    good = E.read_file(image)
    fs = E.Erofs(good)
    t.check(fs.magic == E.EROFS_MAGIC, 'image has the EROFS magic')
    t.check(fs.feature_compat & E.FEATURE_COMPAT_SB_CHKSUM,
            'image has a superblock checksum (feature sb_csum)')
    t.check(fs.checksum == fs.sb_checksum(), 'superblock checksum is the '
            'kernel\'s crc32c', '%08x vs %08x' % (fs.checksum, fs.sb_checksum()))
    for name, mutate, expect in crafted_cases(fs):
        data = bytearray(good)
        try:
            mutate(data)
        except (KeyError, IndexError, AssertionError, struct.error) as e:
            t.check(False, '%s: could not locate the structure to damage'
                    % name, repr(e))
            continue
        bad = os.path.join(base, 'crafted-%s.erofs' %
                           ''.join(c if c.isalnum() else '-' for c in name))
        E.write_file(bad, data)
        codes, results = run_all(t, bad, base, name)
        expect_codes(t, name, codes, results, expect)
        print('%-55s %s' % (name, ' '.join('%s=%s' % kv for kv in codes.items())),
              flush=True)


# -------------------------------------------------------------- truncated

def run_truncated(t, base):
    image = build_image(t, base)
    good = E.read_file(image)
    size = len(good)
    bs = E.Erofs(good).bs
    early = {n: (3,) for n in ALL}
    late = {n: (0, 3) for n in ALL}
    late.update(fsck=(3,))
    cases = [(0, early), (1023, early), (1100, early),
             (size // 2, dict(late, extract=(3,), cat=(3,),
                              **{'image-manifest': (3,)})),
             (size - bs, late), (size - 1, late)]
    for n, expect in cases:
        bad = os.path.join(base, 'truncated-%d.erofs' % n)
        E.write_file(bad, good[:n])
        what = 'truncated to %d of %d bytes' % (n, size)
        codes, results = run_all(t, bad, base, what)
        expect_codes(t, what, codes, results, expect)
        print('%-40s %s' % (what, ' '.join('%s=%s' % kv for kv in codes.items())),
              flush=True)
    bad = os.path.join(base, 'zeros.erofs')
    E.write_file(bad, bytes(size))
    codes, results = run_all(t, bad, base, 'all zeros')
    expect_codes(t, 'all zeros', codes, results, early)


# -------------------------------------------------------------- pcluster

def text_like(rng, size):
    """Compressible bytes with few literals, so damage never decodes."""
    words = [bytes(rng.choice(b'abcdefghij') for _ in range(rng.randrange(3, 9)))
             for _ in range(64)]
    out, n = [], 0
    while n < size:
        line = b' '.join(rng.choice(words) for _ in range(8)) + b' %d\n' % n
        out.append(line)
        n += len(line)
    return b''.join(out)[:size]


def run_pcluster(t, base):
    """Damaged pclusters deep in big files are found with any -j, and
    reported as one thread reports them: same lines, same order."""
    rng = random.Random(12)
    tree = os.path.join(base, 'tree')
    os.makedirs(os.path.join(tree, 'a'))
    os.makedirs(os.path.join(tree, 'b'))
    E.write_file(os.path.join(tree, 'a', 'big1'), text_like(rng, 24 << 20))
    E.write_file(os.path.join(tree, 'b', 'big2'), text_like(rng, 24 << 20))
    E.write_file(os.path.join(tree, 'note'), b'small\n')
    for opts in (['-z', 'lz4'], ['-z', 'lz4hc', '-C', '65536']):
        what = ' '.join(opts)
        image = os.path.join(base, 'good.erofs')
        if not E.mkfs(t, image, tree, *opts):
            continue
        E.must(t, E.eroot('fsck', '-j', '2', image), what + ': intact, fsck -j 2')
        good = E.read_file(image)
        fs = E.Erofs(good)
        # the data of both files lies between the superblock block and
        # the metadata: damage a block at 3/8 and one at 7/8 of it, each
        # well past a file's first MiBs
        first, last = 1, fs.meta_blkaddr
        data = bytearray(good)
        for frac in (3, 7):
            blk = first + (last - first) * frac // 8
            data[blk * fs.bs:(blk + 1) * fs.bs] = rng.randbytes(fs.bs)
        bad = os.path.join(base, 'bad.erofs')
        E.write_file(bad, data)
        runs = {j: E.eroot('fsck', '-j', str(j), bad, timeout=TIMEOUT) for j in (1, 2, 3)}
        one = runs[1]
        lines = one.err_lines()
        E.must(t, one, what + ': damaged pclusters, fsck -j 1', (3,))
        t.check(len(lines) == 2 and lines[0].startswith('eroot fsck: /a/big1: ') and
                lines[1].startswith('eroot fsck: /b/big2: ') and
                all('does not decompress' in l for l in lines),
                what + ': one line for each damaged file, in path order', one.describe())
        for j in (2, 3):
            r = runs[j]
            E.must(t, r, '%s: damaged pclusters, fsck -j %d' % (what, j), (3,))
            t.check(r.err == one.err and r.out == one.out,
                    '%s: fsck -j %d reports what -j 1 does' % (what, j),
                    one.describe() + '\n' + r.describe())
        print('%s: %s' % (what, ' | '.join(lines)), flush=True)
    # fragments are checked where they live: damage in the packed inode is
    # one line naming it, whatever -j
    small = os.path.join(base, 'small')
    for i in range(400):
        d = os.path.join(small, 'd%02d' % (i % 20))
        os.makedirs(d, exist_ok=True)
        E.write_file(os.path.join(d, 'f%03d' % i), text_like(rng, 5000 + 37 * i))
    image = os.path.join(base, 'frag.erofs')
    what = '-z lz4hc -C 65536 -E all-fragments'
    if not E.mkfs(t, image, small, '-z', 'lz4hc', '-C', '65536', '-E', 'all-fragments'):
        return
    E.must(t, E.eroot('fsck', image), what + ': intact, fsck')
    good = E.read_file(image)
    fs = E.Erofs(good)
    data = bytearray(good)
    # all data is the packed inode's: damage a block in its middle
    blk = 1 + (fs.meta_blkaddr - 1) // 2
    data[blk * fs.bs:(blk + 1) * fs.bs] = rng.randbytes(fs.bs)
    bad = os.path.join(base, 'frag-bad.erofs')
    E.write_file(bad, data)
    runs = {j: E.eroot('fsck', '-j', str(j), bad, timeout=TIMEOUT) for j in (1, 2, 3)}
    lines = runs[1].err_lines()
    E.must(t, runs[1], what + ': damaged packed inode, fsck -j 1', (3,))
    t.check(len(lines) == 1 and lines[0].startswith('eroot fsck: (packed inode): ') and
            'does not decompress' in lines[0],
            what + ': one line naming the packed inode', runs[1].describe())
    for j in (2, 3):
        t.check(runs[j].rc == 3 and runs[j].err == runs[1].err and runs[j].out == runs[1].out,
                '%s: fsck -j %d reports what -j 1 does' % (what, j),
                runs[1].describe() + '\n' + runs[j].describe())
    # the other readers still find it through the files
    E.must(t, E.eroot('extract', bad, os.path.join(base, 'out')), what + ': extract fails', (3,))
    print('%s: %s' % (what, ' | '.join(lines)), flush=True)


# ------------------------------------------------------------------ fuzz

def mutate_random(rng, fs, data, ranges):
    """Damage 1-3 metadata bytes; sometimes re-seal the superblock."""
    reseal = rng.random() < 0.2
    picks = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        off, length = (E.SB_OFFSET, 128) if reseal else rng.choice(ranges)
        pos = off + rng.randrange(length)
        old = data[pos]
        new = rng.choice((old ^ 1 << rng.randrange(8), rng.randrange(256),
                          0, 0xFF))
        data[pos] = new if new != old else old ^ 0x80
        picks.append(pos)
    if reseal:
        fix_csum(fs, data)
    return picks, reseal


def run_fuzz(t, base, variants, seed, bs):
    image = build_image(t, base, bs)
    good = E.read_file(image)
    fs = E.Erofs(good)
    ranges = fs.metadata_ranges()
    print('%d metadata ranges, %d bytes' % (len(ranges),
                                          sum(n for _, n in ranges)))
    rng = random.Random(seed)
    bad = os.path.join(base, 'fuzz.erofs')
    detected = unchanged = 0
    for i in range(variants):
        data = bytearray(good)
        picks, reseal = mutate_random(rng, fs, data, ranges)
        if data == good:
            unchanged += 1
            continue
        E.write_file(bad, data)
        what = 'variant %d (offsets %s%s)' % (i, picks, ', resealed' if
                                              reseal else '')
        nfail = len(t.failures)
        codes, results = run_all(t, bad, base, what)
        if codes['fsck'] == 0:
            # fsck reads everything: when it finds nothing, nothing else may
            # find corruption either.
            for name in ('ls', 'extract', 'image-manifest', 'cat', 'stat'):
                t.check(codes[name] == 0, '%s: fsck says clean but %s '
                        'exits %s' % (what, name, codes[name]),
                        results[name].describe())
        if codes['fsck'] == 3:
            detected += 1
        if len(t.failures) > nfail:
            keep = os.path.join(base, 'fuzz-failed-%d.erofs' % i)
            shutil.copyfile(bad, keep)
            print('      image kept: %s' % keep, flush=True)
    print('%d variants, %d detected by fsck, %d no-ops' %
          (variants, detected, unchanged), flush=True)
    # Many bytes (mtimes, owners, reserved fields) can take any value, but
    # a fair share of the damage must be noticed.
    t.check(detected >= variants // 6, 'fsck detects a fair share of the '
            'damage (%d of %d)' % (detected, variants))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=('crafted', 'truncated', 'fuzz', 'pcluster'))
    ap.add_argument('--variants', type=int, default=220)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('-b', '--block-size', type=int, default=4096)
    args = ap.parse_args()
    E.require_root()
    name = 'corrupt-' + args.mode
    if args.block_size != 4096:
        name += '-%d' % args.block_size
    t = E.Checker(name)
    base = E.scratch(name)
    if args.mode == 'crafted':
        run_crafted(t, base)
    elif args.mode == 'truncated':
        run_truncated(t, base)
    elif args.mode == 'pcluster':
        run_pcluster(t, base)
    else:
        run_fuzz(t, base, args.variants, args.seed, args.block_size)
    t.exit()


if __name__ == '__main__':
    main()
