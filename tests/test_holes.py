#!/usr/bin/python3
"""Holes: sparse files are read by their data, never byte by byte.

A chunk-based file may declare any size, up to a petabyte of holes in a few
kilobytes of image.  fsck, extract and "cat > file" must finish within
seconds on such files, extract and cat must leave holes as holes (a small
st_blocks), and every byte must still come out right: sparse files built by
eroot mkfs round-trip through extract, cat to a pipe (holes written as
zeros), cat to a regular file (holes seeked over), cat in append mode.  A
size the target filesystem cannot hold (ext4 stops at 16 TiB) is one clear
"File too large" error for that file, and the rest is extracted.

The crafted images are never mounted."""
import os
import random
import struct
import subprocess

import eroottest as E

TIMEOUT = 30            # seconds; each command should need well under one
CHUNK_DATA_AT = 128     # the crafted file's only data chunk (index)


def write_at(path, pieces, size):
    """A sparse file of @size with @pieces [(offset, bytes)] and holes elsewhere."""
    with open(path, 'wb') as f:
        f.truncate(size)
        for off, data in pieces:
            f.seek(off)
            f.write(data)


def sparse_tree(src, rnd):
    os.makedirs(src)
    files = {
        'sparse': ([(0, rnd.randbytes(4096)), (20 << 20 | 100, rnd.randbytes(4096)),
                    ((64 << 20) + 3 - 3, b'end')], (64 << 20) + 3),
        # one run of data over many batches of chunk map entries
        'dense-run': ([(100 << 10, rnd.randbytes(1400 << 10))], 16 << 20),
        'tail-hole': ([(0, rnd.randbytes(100))], 3 << 20),
        'all-hole': ([], 10 << 20),
        'plain': ([(0, rnd.randbytes(10000))], 10000),
    }
    for name, (pieces, size) in files.items():
        write_at(os.path.join(src, name), pieces, size)
    return sorted(files)


def blocks_bytes(path):
    return os.stat(path).st_blocks * 512


def test_built(t, base, rnd):
    """Sparse files made by eroot mkfs: exact bytes through every reader."""
    src = os.path.join(base, 'src')
    names = sparse_tree(src, rnd)
    image = os.path.join(base, 'sparse.erofs')
    if not E.mkfs(t, image, src):
        return
    for name in names:
        res = E.eroot('stat', '--json', image, '/' + name)
        layout = b'"chunk-based"' if name != 'plain' else b'"flat'
        t.check(layout in res.out, '%s is stored %s' % (name, layout.decode()),
                res.describe())
    res = E.eroot('fsck', image, timeout=TIMEOUT)
    E.must(t, res, 'fsck of sparse files built by mkfs')
    out = os.path.join(base, 'extracted')
    res = E.eroot('extract', image, out, timeout=TIMEOUT)
    if E.must(t, res, 'extract of sparse files built by mkfs'):
        E.same_manifest(t, E.manifest(src), E.manifest(out),
                        'extracted sparse files equal the source')
        t.check(blocks_bytes(os.path.join(out, 'all-hole')) == 0,
                'a file of holes extracts with no block allocated')
        t.check(blocks_bytes(os.path.join(out, 'sparse')) <= 1 << 20,
                'a 64 MiB sparse file extracts sparse',
                blocks_bytes(os.path.join(out, 'sparse')))
    for name in names:
        want = E.read_file(os.path.join(src, name))
        res = E.eroot('cat', image, '/' + name, timeout=TIMEOUT)
        if E.must(t, res, 'cat %s to a pipe' % name):
            t.check(res.out == want, 'cat %s to a pipe: the exact bytes, '
                    'zeros for holes' % name)
        path = os.path.join(base, 'cat-' + name)
        res = cat_to_file(image, ['/' + name], path)
        if E.must(t, res, 'cat %s > file' % name):
            t.check(E.read_file(path) == want, 'cat %s > file: the exact '
                    'bytes' % name)
    # Several files into one regular file: each starts where the last ended,
    # a final hole still gives the file its length.
    path = os.path.join(base, 'cat-concat')
    res = cat_to_file(image, ['/tail-hole', '/plain', '/all-hole'], path)
    want = b''.join(E.read_file(os.path.join(src, n))
                    for n in ('tail-hole', 'plain', 'all-hole'))
    if E.must(t, res, 'cat of three files > file'):
        t.check(E.read_file(path) == want, 'cat of three files > file: their '
                'bytes one after the other')
        t.check(blocks_bytes(path) <= 1 << 20, 'cat > file leaves the holes '
                'as holes', blocks_bytes(path))
    # Append mode writes at the end whatever the offset: zeros are written.
    path = os.path.join(base, 'cat-append')
    E.write_file(path, b'before')
    res = cat_to_file(image, ['/tail-hole'], path, append=True)
    if E.must(t, res, 'cat >> file'):
        t.check(E.read_file(path) == b'before' + E.read_file(
            os.path.join(src, 'tail-hole')), 'cat >> file appends the exact '
            'bytes')


def cat_to_file(image, paths, dest, append=False):
    with open(dest, 'ab' if append else 'wb') as f:
        try:
            p = subprocess.run([E.EROOT, 'cat', image] + paths, stdout=f,
                               stderr=subprocess.PIPE, timeout=TIMEOUT)
        except subprocess.TimeoutExpired as e:
            return E.Result(['eroot', 'cat', image] + paths, None, b'',
                            e.stderr or b'', True)
    return E.Result(['eroot', 'cat', image] + paths, p.returncode, b'',
                    p.stderr)


def crafted(base, rnd, chunkbits, name):
    """An image whose file /huge has 128 chunks of 2^@chunkbits bytes of
    holes, then one 4 KiB chunk of data: size 128 << chunkbits + 4096.
    Made from a 1 MiB file of 4 KiB chunks by patching its size and chunk
    size; the chunk map stays the one mkfs wrote, inside the image."""
    src = os.path.join(base, 'craft-src')
    data = rnd.randbytes(4096)
    if not os.path.exists(src):
        os.makedirs(src)
        write_at(os.path.join(src, 'huge'), [(CHUNK_DATA_AT * 4096, data)], 1 << 20)
        # an owner above 65535 needs the extended inode: a 64-bit size
        os.chown(os.path.join(src, 'huge'), 70000, 70000)
        E.write_file(os.path.join(src, 'zz-after'), b'extracted after /huge')
    else:
        with open(os.path.join(src, 'huge'), 'rb') as f:
            f.seek(CHUNK_DATA_AT * 4096)
            data = f.read(4096)
    image = os.path.join(base, name)
    res = E.eroot('mkfs', '-q', '-b', '4096', image, src)
    if res.rc != 0:
        raise RuntimeError(res.describe())
    img = bytearray(E.read_file(image))
    fs = E.Erofs(bytes(img))
    huge = [ino for path, ino, _ in fs.walk() if path == b'/huge'][0]
    fmt = struct.unpack_from('<H', img, huge.off + 16)[0]
    assert huge.extended and huge.layout == 4 and fmt & 0x1f == 0, (huge.layout, fmt)
    size = (CHUNK_DATA_AT << chunkbits) + 4096
    struct.pack_into('<Q', img, huge.off + 8, size)
    struct.pack_into('<H', img, huge.off + 16, (fmt & ~0x1f) | (chunkbits - fs.blkszbits))
    E.write_file(image, bytes(img))
    return image, size, data


def check_huge_file(t, path, size, data, what):
    st = os.stat(path)
    t.check(st.st_size == size, '%s: size %d' % (what, size), st.st_size)
    t.check(st.st_blocks * 512 <= 1 << 20, '%s: holes stay holes' % what,
            st.st_blocks)
    with open(path, 'rb') as f:
        f.seek(size - 4096)
        t.check(f.read() == data, '%s: the data after the holes' % what)
        f.seek(size // 2)
        t.check(f.read(4096) == bytes(4096), '%s: a hole reads as zeros' % what)


def test_crafted(t, base, rnd, chunkbits, label, fits, tmpfs=None):
    """/huge of 128 << chunkbits + 4 KiB bytes.  @fits: the scratch
    filesystem can hold that size."""
    image, size, data = crafted(base, rnd, chunkbits, 'huge-%s.erofs' % label)
    res = E.eroot('fsck', image, timeout=TIMEOUT)
    if E.must(t, res, 'fsck of a %s file of holes' % label):
        t.check(b'0 problems' in res.out and (b'%d bytes' % (4096 + 21)) in res.out,
                'fsck of a %s file of holes reads only its data' % label, res.out)
    res = E.eroot('cat', image, '/zz-after', timeout=TIMEOUT)
    E.must(t, res, 'cat of a file next to a %s file' % label)
    out = os.path.join(base, 'extract-%s' % label)
    res = E.eroot('extract', image, out, timeout=TIMEOUT)
    catout = os.path.join(base, 'cat-%s' % label)
    cat = cat_to_file(image, ['/huge'], catout)
    if fits:
        if E.must(t, res, 'extract of a %s sparse file' % label):
            check_huge_file(t, os.path.join(out, 'huge'), size, data,
                            'extracted %s file' % label)
        if E.must(t, cat, 'cat of a %s sparse file > file' % label):
            check_huge_file(t, catout, size, data, 'cat > file of %s' % label)
    else:
        E.sane_failure(t, res, 'extract of a %s file where the target stops '
                       'at 16 TiB' % label, 1, command='extract')
        t.check(b'File too large' in res.err, 'extract says "File too large"',
                res.describe())
        t.check(not os.path.exists(os.path.join(out, 'huge')),
                'no partial file is left', os.listdir(out))
        after = os.path.join(out, 'zz-after')
        t.check(os.path.isfile(after) and E.read_file(after) ==
                b'extracted after /huge', 'extract goes on after the file '
                'too large')
        E.sane_failure(t, cat, 'cat of a %s file > file where the target '
                       'stops at 16 TiB' % label, 1, command='cat')
        t.check(b'File too large' in cat.err, 'cat says "File too large"',
                cat.describe())
    if tmpfs:
        out = os.path.join(tmpfs, 'extract-%s' % label)
        res = E.eroot('extract', image, out, timeout=TIMEOUT)
        if E.must(t, res, 'extract of a %s sparse file to tmpfs' % label):
            check_huge_file(t, os.path.join(out, 'huge'), size, data,
                            '%s file extracted to tmpfs' % label)
            E.run(['rm', '-rf', out])


def ext4_max_bytes(path):
    """Whether @path's filesystem takes an 8 TiB file but not a 1 PiB one."""
    probe = os.path.join(path, 'size-probe')
    sizes = []
    for size in (8 << 40, 1 << 50):
        with open(probe, 'wb') as f:
            try:
                f.truncate(size)
                sizes.append(True)
            except OSError:
                sizes.append(False)
    os.remove(probe)
    return sizes


def main():
    t = E.Checker('holes')
    base = E.scratch('holes')
    rnd = random.Random(9)
    test_built(t, base, rnd)
    fits8t, fits1p = ext4_max_bytes(base)
    if not fits8t:
        E.skip('the scratch filesystem cannot hold an 8 TiB sparse file')
    test_crafted(t, base, rnd, 36, '8TiB', True)
    tmpfs = None
    if os.geteuid() == 0:
        tmpfs = os.path.join(base, 'tmpfs')
        os.makedirs(tmpfs)
        if E.run(['mount', '-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', tmpfs]).rc:
            tmpfs = None
    if not tmpfs:
        print('note: no tmpfs (needs root): a 1 PiB file is not extracted '
              'where it fits')
    test_crafted(t, base, rnd, 43, '1PiB', fits1p, tmpfs)
    t.exit()


if __name__ == '__main__':
    main()
