#!/usr/bin/python3
"""The compressed read path is bounded, whatever the image says.

eroot.h promises that one open image holds at most ZBOUND_MIB of memory for
compressed data.  Peak RSS of `eroot cat` (measured with wait4, minus the
same command on a tiny file of the same image: ASan inflates both alike) is
checked against it on a legitimate 200 MiB all-fragments file (the old
reader buffered fragments whole: 276 MB) and on crafted images:

- an i_size near 2^64 on a compressed file (the index count wrapped: cat
  dereferenced NULL, fsck and extract never finished),
- a whole-file fragment declaring 3.75 GiB in a small image (it was
  allocated whole),
- a fragment behind a plain head (an error path that leaked),
- an unknown algorithm in a map header (exit 4, "unsupported", not 3).

Each crafted case exits with its documented code within seconds, one line
on stderr, no sanitizer report.  The crafted images are never mounted."""
import hashlib
import os
import struct
import subprocess
import time

import eroottest as E

ZBOUND_MIB = 48         # include/eroot/eroot.h, top comment
TIMEOUT = 30
BIG = 200 << 20
# ASan keeps freed memory in quarantine; keep it small for the measured runs
MEASURE_ENV = {'ASAN_OPTIONS': os.environ.get('ASAN_OPTIONS', '') + ':quarantine_size_mb=8'}


# Runs eroot and reports its peak RSS: a child's ru_maxrss includes the
# memory of the process it was forked from (this test holds 200 MiB), so
# eroot is started from this small helper instead.
RSS_HELPER = """
import os, sys
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
sys.stderr.write('zbound-rss: %d\\n' % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def peak_rss(args):
    """(exit code, peak RSS in KiB, sha256 of stdout, stderr) of eroot @args."""
    env = dict(os.environ)
    env.update(MEASURE_ENV)
    p = subprocess.Popen([E.PYTHON, '-c', RSS_HELPER, E.EROOT] + [str(a) for a in args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    digest = hashlib.sha256()
    deadline = time.time() + 600
    while True:
        chunk = p.stdout.read(1 << 20)
        if not chunk:
            break
        digest.update(chunk)
        if time.time() > deadline:
            p.kill()
            break
    err = p.stderr.read()
    rc = p.wait()
    lines = err.splitlines(keepends=True)
    rss = -1
    if lines and lines[-1].startswith(b'zbound-rss: '):
        rss = int(lines.pop().split()[1])
    return rc, rss, digest.hexdigest(), b''.join(lines)


def big_data():
    """BIG bytes that compress within each 4 KiB pcluster, but not to nothing."""
    line = b'%08d the quick brown fox jumps over the lazy dog %08x\n'
    out = b''.join(line % (i, i * 2654435761 & 0xffffffff)
                   for i in range(BIG // len(line % (0, 0)) + 1))
    return out[:BIG]


def build(t, base, name, opts, files):
    """An image of @files {name: (bytes, mtime or None)} made with @opts."""
    src = os.path.join(base, name + '-src')
    os.makedirs(src)
    for fname, (data, mtime) in files.items():
        path = os.path.join(src, fname)
        with open(path, 'wb') as f:
            f.write(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    image = os.path.join(base, name + '.img')
    if not E.mkfs(t, image, src, *opts, what='%s: eroot mkfs %s' % (name, ' '.join(opts))):
        return None, None
    return image, E.read_file(image)


def inode_of(fs, name):
    for path, ino, _ in fs.walk():
        if path == b'/' + name.encode():
            return ino
    raise RuntimeError('%s not in the image' % name)


def map_header(ino):
    return (ino.inline_off + 7) & ~7


def check_bounded(t, what, image, path, baseline, code, extract_codes=None):
    """eroot cat of @path: exit @code quickly, bounded peak RSS; fsck and
    extract exit @code (or one of @extract_codes) quickly too."""
    start = time.time()
    rc, rss, _, err = peak_rss(['cat', image, path])
    took = time.time() - start
    lines = err.decode(errors='replace').splitlines()
    t.check(rc == code, '%s: cat exits %d' % (what, code), 'exit %s: %s' % (rc, err[:500]))
    t.check(len(lines) == 1 and lines[0].startswith('eroot cat: '),
            '%s: one line "eroot cat: ..."' % what, err[:500])
    t.check(not any(m in err for m in E.SANITIZER_MARKS), '%s: no sanitizer report' % what,
            err[:3000])
    t.check(took < TIMEOUT, '%s: cat finishes in seconds' % what, '%.1f s' % took)
    t.check(rss - baseline < ZBOUND_MIB << 10,
            '%s: peak RSS within %d MiB of the baseline' % (what, ZBOUND_MIB),
            '%d KiB over the baseline' % (rss - baseline))
    res = E.eroot('fsck', image, timeout=TIMEOUT)
    E.must(t, res, '%s: eroot fsck within %d s' % (what, TIMEOUT), (code,))
    res = E.eroot('extract', image, image + '.out', timeout=TIMEOUT)
    E.must(t, res, '%s: eroot extract within %d s' % (what, TIMEOUT),
           extract_codes or (code,))
    return lines[0] if lines else ''


def main():
    t = E.Checker('zbound')
    base = E.scratch('zbound')
    data = big_data()
    tiny = b'tiny file\n'

    # 1. a legitimate 200 MiB file, all in the packed inode
    image, _ = build(t, base, 'big', ['-z', 'lz4', '-E', 'all-fragments'],
                     {'big': (data, None), 'tiny': (tiny, None)})
    if image:
        rc, base_rss, digest, err = peak_rss(['cat', image, '/tiny'])
        t.check(rc == 0 and digest == hashlib.sha256(tiny).hexdigest(),
                'cat of a tiny all-fragments file', err[:500])
        rc, rss, digest, err = peak_rss(['cat', image, '/big'])
        t.check(rc == 0 and digest == hashlib.sha256(data).hexdigest(),
                'cat of a 200 MiB all-fragments file gives its bytes', err[:500])
        t.check(rss - base_rss < ZBOUND_MIB << 10,
                '200 MiB all-fragments file: peak RSS within %d MiB of the baseline'
                % ZBOUND_MIB, 'baseline %d KiB, cat %d KiB' % (base_rss, rss))
        print('note: peak RSS %d KiB (tiny file: %d KiB)' % (rss, base_rss), flush=True)
        E.must(t, E.eroot('fsck', image, timeout=600), '200 MiB all-fragments: fsck')

    # 2. i_size near 2^64 on a compressed file with indexes
    comp = data[:256 << 10]
    # 'c' must be extended (its mtime not the build time): two files share
    # another mtime, which becomes the build time (the most common one; left
    # to the clock, they could straddle a tick and 'c' win the tie)
    image, raw = build(t, base, 'wrap', ['-z', 'lz4'],
                       {'c': (comp, 946684800), 'tiny': (tiny, 1700000000),
                        'u': (tiny, 1700000000)})
    if image:
        fs = E.Erofs(raw)
        ino = inode_of(fs, 'c')
        if t.check(ino.extended and ino.layout in (1, 3),
                   'wrap: the compressed file has an extended inode', vars(ino)):
            raw = bytearray(raw)
            struct.pack_into('<Q', raw, ino.off + 8, (1 << 64) - 4095)
            E.write_file(image, raw)
            base_rss = peak_rss(['cat', image, '/tiny'])[1]
            # extract sets the size first: the target may refuse it (exit 1)
            line = check_bounded(t, 'i_size 2^64-4095', image, '/c', base_rss, 3, (1, 3))
            t.check('indexes run past the image end' in line,
                    'i_size 2^64-4095: the message names the indexes', line)

    # 3. a whole-file fragment declaring 3.75 GiB
    image, raw = build(t, base, 'frag', ['-z', 'lz4', '-E', 'all-fragments'],
                       {'f': (comp[:20000], None), 'tiny': (tiny, None)})
    if image:
        fs = E.Erofs(raw)
        ino = inode_of(fs, 'f')
        h = map_header(ino)
        if t.check(raw[h + 7] & 0x80, 'frag: the file is a whole-file fragment'):
            raw = bytearray(raw)
            if ino.extended:
                struct.pack_into('<Q', raw, ino.off + 8, 0xF0000000)
            else:
                struct.pack_into('<I', raw, ino.off + 8, 0xF0000000)
            E.write_file(image, raw)
            t.check(len(raw) < 64 << 10, 'frag: the image is small', len(raw))
            base_rss = peak_rss(['cat', image, '/tiny'])[1]
            line = check_bounded(t, 'fragment of 3.75 GiB', image, '/f', base_rss, 3)
            t.check('fragment outside the packed inode' in line,
                    'fragment of 3.75 GiB: the message says why', line)

    # 4. a fragment behind a plain head (full indexes at 512-byte blocks)
    image, raw = build(t, base, 'plainfrag', ['-b', '512', '-z', 'lz4', '-E', 'fragments'],
                       {'p': (comp[:70000] + os.urandom(300), None), 'tiny': (tiny, None)})
    if image:
        fs = E.Erofs(raw)
        ino = inode_of(fs, 'p')
        h = map_header(ino)
        advise = struct.unpack_from('<H', raw, h + 4)[0]
        if t.check(ino.layout == 1 and advise & 0x20 and not raw[h + 7] & 0x80,
                   'plainfrag: full indexes with a tail fragment', (ino.layout, advise)):
            # the tail's head: back from the last entry over NONHEADs
            ebase = h + 16
            lcn = (ino.size - 1) >> fs.blkszbits
            while struct.unpack_from('<H', raw, ebase + lcn * 8)[0] & 3 == 2:
                lcn -= max(1, struct.unpack_from('<H', raw, ebase + lcn * 8 + 4)[0] & 0x7ff)
            raw = bytearray(raw)
            off = ebase + lcn * 8
            struct.pack_into('<H', raw, off, struct.unpack_from('<H', raw, off)[0] & ~3)
            E.write_file(image, raw)
            base_rss = peak_rss(['cat', image, '/tiny'])[1]
            line = check_bounded(t, 'fragment behind a plain head', image, '/p', base_rss, 3)
            t.check('fragment behind a plain head' in line,
                    'fragment behind a plain head: the message says so', line)

    # 5. an algorithm this reader does not know: unsupported, not corrupt
    image, raw = build(t, base, 'alg', ['-z', 'lz4'],
                       {'a': (comp[:50000], None), 'tiny': (tiny, None)})
    if image:
        fs = E.Erofs(raw)
        ino = inode_of(fs, 'a')
        h = map_header(ino)
        raw = bytearray(raw)
        raw[h + 6] = 0x07
        E.write_file(image, raw)
        base_rss = peak_rss(['cat', image, '/tiny'])[1]
        line = check_bounded(t, 'unknown algorithm', image, '/a', base_rss, 4)
        t.check('unknown compression algorithm' in line,
                'unknown algorithm: the message names it', line)
    t.exit()


if __name__ == '__main__':
    main()
