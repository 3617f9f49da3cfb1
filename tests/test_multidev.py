#!/usr/bin/python3
"""Multi-device images: eroot reads them as the kernel does.

The reference tool's rebuild mode (mkfs.erofs 1.9.4 in the sid chroot,
tests/fixtures/reference-mkfs) merges two uncompressed images without
inline tails into a metadata-only image whose chunk indexes name device 1
or 2 (slot tags: the inputs' UUIDs).  Then:
  - the kernel mounts it with -o device= for each input (loop devices: a
    regular file as device= works only when the primary is file-backed,
    and mount(8) puts a regular-file primary on a loop device itself), and
    eroot extract --device ... gives the kernel's tree; fsck passes with
    --device and with --device-dir;
  - eroot info lists the device table; swapped devices are refused (exit 3,
    "does not match its tag"), a missing one names its tag and --device
    (exit 1), a truncated one is corrupt (exit 3);
  - the unified space: the same image with every chunk index moved to
    device 0 at uniaddr + blkaddr (a valid image: the kernel's
    erofs_map_dev() sends such addresses to the device whose unified range
    holds them) reads the same through the kernel and through eroot;
  - mkfs.erofs --blobdev (one slot, an empty tag) reads as the kernel reads
    it, the blob used unchecked with a warning;
  - hostile tables (overlapping ranges, a slot table past the image, a
    chunk on a device beyond the table) are corrupt (exit 3), never mounted.
"""
import hashlib
import os
import shutil
import struct
import sys

import eroottest as E
import test_reference

EXIT_FAIL, EXIT_CORRUPT = 1, 3
SLOT = 128


def losetup(t, path, loops):
    res = E.run(['losetup', '-r', '-f', '--show', path])
    if not E.must(t, res, 'losetup %s' % os.path.basename(path)):
        return None
    loops.append(res.out.decode().strip())
    return loops[-1]


def kernel_tree(t, image, devices, mnt, what):
    """The manifest of @image mounted with @devices as loop devices."""
    loops = []
    try:
        prim = losetup(t, image, loops)
        devs = [losetup(t, d, loops) for d in devices]
        if not prim or None in devs:
            return None
        os.makedirs(mnt, exist_ok=True)
        res = E.run(['mount', '-t', 'erofs', '-o',
                     'ro,' + ','.join('device=' + d for d in devs), prim, mnt])
        if not E.must(t, res, what + ': the kernel mounts it'):
            return None
        try:
            return E.manifest(mnt)
        finally:
            E.run(['umount', mnt])
    finally:
        for lo in loops:
            E.run(['losetup', '-d', lo])


def device_args(devices):
    return [a for d in devices for a in ('--device', d)]


def eroot_tree(t, image, devices, out, what):
    shutil.rmtree(out, ignore_errors=True)
    res = E.eroot('extract', *device_args(devices), image, out, timeout=600)
    if not E.must(t, res, what + ': eroot extract --device'):
        return None
    lines = E.manifest(out)
    shutil.rmtree(out, ignore_errors=True)
    return lines


def slots(data):
    sb = E.SB_OFFSET
    count, slotoff = struct.unpack_from('<HH', data, sb + 86)
    return count, slotoff * SLOT


def chunk_indexes(img):
    """(offset, device_id, blkaddr) of every mapped chunk index."""
    out, seen = [], set()
    for _, ino, _ in img.walk():
        if ino.nid in seen:     # hard links: one inode
            continue
        seen.add(ino.nid)
        if ino.layout != 4 or (ino.mode & 0o170000) != 0o100000 or not ino.size:
            continue
        fmt = ino.u & 0xffff
        if not fmt & 0x20:
            continue
        chunk = img.bs << (fmt & 0x1f)
        base = (ino.inline_off + 7) & ~7
        for i in range((ino.size + chunk - 1) // chunk):
            off = base + 8 * i
            dev, blk = struct.unpack_from('<HI', img.data, off + 2)
            if blk != 0xffffffff:
                out.append((off, dev, blk))
    return out


def resum(data):
    img = E.Erofs(bytes(data))
    if img.feature_compat & E.FEATURE_COMPAT_SB_CHKSUM:
        struct.pack_into('<I', data, E.SB_OFFSET + 4, img.sb_checksum(data))
    return data


def to_unified(data):
    """Every chunk on device N moved to device 0 at uniaddr(N) + blkaddr."""
    img = E.Erofs(bytes(data))
    count, pos = slots(data)
    uni = [struct.unpack_from('<I', data, pos + SLOT * i + 68)[0] for i in range(count)]
    moved = 0
    for off, dev, blk in chunk_indexes(img):
        if dev and uni[dev - 1]:
            struct.pack_into('<HI', data, off + 2, 0, blk + uni[dev - 1])
            moved += 1
    return resum(data), moved


def unified_device(blob):
    """A valid multi-device image made from image @blob: one appended block
    holds a device table whose slot 1 is @blob itself (tag: its SHA-256),
    unified at U past the new end; flat files' block runs, the heads of
    full compressed indexes and the base of 4-byte extent records move by U
    (compact indexes and wider extent records stay on the primary, which
    still holds their data).  The kernel then reads the moved data from
    the device (erofs_map_dev(), device id 0)."""
    img = E.Erofs(blob)
    bs, old = img.bs, img.blocks
    uni = old + 1
    data = bytearray(blob[:old * bs]) + bytearray(bs)
    moved, seen = 0, set()
    for _, ino, _ in img.walk():
        if (ino.mode & 0o170000) != 0o100000 or not ino.size or ino.nid in seen:
            continue
        seen.add(ino.nid)
        if ino.layout in (0, 2) and ino.u != 0xffffffff and ino.size > bs:
            struct.pack_into('<I', data, ino.off + 16, ino.u + uni)
            moved += 1
        elif ino.layout == 1:
            hdr = (ino.inline_off + 7) & ~7
            advise, bits = struct.unpack_from('<H', data, hdr + 4)[0], data[hdr + 7]
            if advise & (0x8 | 0x20) or bits & 0x80:   # inline or fragment
                continue
            if advise & 0x1:    # 4-byte extent records: a byte address, then lengths
                if (advise >> 1) & 3:
                    continue
                ebase = (hdr + 8 + 3) & ~3
                pa = struct.unpack_from('<Q', data, ebase)[0]
                struct.pack_into('<Q', data, ebase, pa + uni * bs)
                moved += 1
                continue
            lcbits = img.blkszbits + (bits & 15)
            for lcn in range((ino.size + (1 << lcbits) - 1) >> lcbits):
                off = hdr + 16 + 8 * lcn
                if struct.unpack_from('<H', data, off)[0] & 3 != 2:     # a head
                    blk = struct.unpack_from('<I', data, off + 4)[0]
                    struct.pack_into('<I', data, off + 4, blk + uni)
            moved += 1
    sb = E.SB_OFFSET
    struct.pack_into('<I', data, sb + 36, old + 1)
    struct.pack_into('<I', data, sb + 80, img.feature_incompat | 0x8)
    struct.pack_into('<HH', data, sb + 86, 1, old * bs // SLOT)
    tag = hashlib.sha256(blob[:old * bs]).hexdigest().encode()
    struct.pack_into('<64sII', data, old * bs, tag, old, uni)
    return resum(data), moved


def hostile(t, base, image, devices):
    data = bytearray(E.read_file(image))
    count, pos = slots(data)
    uni1 = struct.unpack_from('<I', data, pos + 68)[0]
    cases = []
    bad = bytearray(data)   # device 2's range starts inside device 1's
    struct.pack_into('<I', bad, pos + SLOT + 68, uni1)
    cases.append(('overlapping unified ranges', resum(bad), '/'))
    bad = bytearray(data)   # the slot table past the image's end
    struct.pack_into('<H', bad, E.SB_OFFSET + 88, 0xffff)
    cases.append(('slot table past the image', resum(bad), '/'))
    bad = bytearray(data)   # 2 devices: ids are masked by 3, and 3 is none
    img = E.Erofs(bytes(data))
    off = chunk_indexes(img)[0][0]
    struct.pack_into('<H', bad, off + 2, 3)
    path = next(p for p, ino, _ in img.walk()
                if ino.layout == 4 and ino.size and
                (ino.inline_off + 7) & ~7 <= off < ((ino.inline_off + 7) & ~7) + 8 *
                ((ino.size + (img.bs << (ino.u & 0x1f)) - 1) // (img.bs << (ino.u & 0x1f))))
    cases.append(('a chunk on device 3 of 2', resum(bad), path.decode()))
    for what, blob, path in cases:
        p = os.path.join(base, 'hostile.erofs')
        E.write_file(p, blob)
        if path == '/':
            res = E.eroot('ls', *device_args(devices), p)
        else:
            res = E.eroot('cat', *device_args(devices), p, path)
        E.sane_failure(t, res, 'hostile table (%s): corrupt' % what, EXIT_CORRUPT)


def main():
    E.require_root()
    E.require_kernel_erofs()
    t = E.Checker('multidev')
    base = E.scratch('multidev')
    root = test_reference.reference_root()
    work_in_root = '/tmp/eroot-multidev-%d' % os.getpid()
    work = root + work_in_root
    os.makedirs(work)
    try:
        E.gentree(os.path.join(work, 'one'), 'edge', 1)
        E.gentree(os.path.join(work, 'two'), 'random', 3)
        env = ['env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C', 'chroot', root,
               'mkfs.erofs', '--quiet']
        for name in ('one', 'two'):
            res = E.run(env + ['-Enoinline_data', '%s/%s.erofs' % (work_in_root, name),
                               '%s/%s' % (work_in_root, name)], timeout=600)
            E.must(t, res, 'mkfs.erofs -Enoinline_data %s' % name)
        res = E.run(env + ['--blobdev=%s/blob' % work_in_root, '--chunksize=8192',
                           work_in_root + '/blobdev.erofs', work_in_root + '/one'], timeout=600)
        E.must(t, res, 'mkfs.erofs --blobdev --chunksize=8192 one')
        blobdev = [os.path.join(base, n) for n in ('blobdev.erofs', 'blob')]
        for p in blobdev:
            shutil.move(os.path.join(work, os.path.basename(p)), p)
        res = E.run(env + ['-zzstd', '-E48bit', work_in_root + '/zstd.erofs',
                           work_in_root + '/two'], timeout=600)
        E.must(t, res, 'mkfs.erofs -zzstd -E48bit two')
        zstd = os.path.join(base, 'zstd.erofs')
        shutil.move(os.path.join(work, 'zstd.erofs'), zstd)
        res = E.run(env + [work_in_root + '/merged.erofs', work_in_root + '/one.erofs',
                           work_in_root + '/two.erofs'], timeout=600)
        if not E.must(t, res, 'mkfs.erofs rebuild mode: merged.erofs one.erofs two.erofs'):
            t.exit()
        devdir = os.path.join(base, 'devices')
        os.makedirs(devdir)
        devices = [os.path.join(devdir, n + '.erofs') for n in ('one', 'two')]
        for name, dest in zip(('one', 'two'), devices):
            shutil.move(os.path.join(work, name + '.erofs'), dest)
        image = os.path.join(base, 'merged.erofs')
        shutil.move(os.path.join(work, 'merged.erofs'), image)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # a decoy for the search: the size of one, not its content
    E.write_file(os.path.join(devdir, 'decoy'), b'\0' * os.path.getsize(devices[0]))
    mnt, out = os.path.join(base, 'mnt'), os.path.join(base, 'out')

    kernel = kernel_tree(t, image, devices, mnt, 'merged')
    ours = eroot_tree(t, image, devices, out, 'merged')
    if kernel is not None and ours is not None:
        E.same_manifest(t, kernel, ours, 'merged: eroot extract gives the kernel\'s tree')
    E.must(t, E.eroot('fsck', *device_args(devices), image), 'fsck --device')
    E.must(t, E.eroot('fsck', '--device-dir', devdir, image), 'fsck --device-dir')
    res = E.eroot('info', '--json', image)
    if E.must(t, res, 'info --json without devices'):
        import json
        devs = json.loads(res.out)['devices']
        uuids = [E.Erofs(E.read_file(d)).data[E.SB_OFFSET + 48:E.SB_OFFSET + 64].hex()
                 for d in devices]
        t.check([d['tag'] for d in devs] == uuids and not any(d['attached'] for d in devs),
                'info lists both slots, tagged with the inputs\' UUIDs', res.out)

    res = E.eroot('cat', *device_args(devices[::-1]), image, '/')
    E.sane_failure(t, res, 'swapped devices: refused', EXIT_CORRUPT, command='cat')
    t.check(b'does not match its tag' in res.err, 'swapped: the message says so', res.err)
    res = E.eroot('extract', '--device', devices[0], image, out)
    E.sane_failure(t, res, 'missing device: refused', EXIT_FAIL, command='extract')
    tag2 = E.read_file(devices[1])[E.SB_OFFSET + 48:E.SB_OFFSET + 64].hex().encode()
    t.check(tag2 in res.err and b'--device' in res.err,
            'missing: the message names the tag and --device', res.err)
    short = os.path.join(base, 'short.erofs')
    E.write_file(short, E.read_file(devices[1])[:-4096])
    res = E.eroot('fsck', '--device', devices[0], '--device', short, image)
    E.sane_failure(t, res, 'truncated device: corrupt', EXIT_CORRUPT, command='fsck')

    uimage = os.path.join(base, 'unified.erofs')
    data, moved = to_unified(bytearray(E.read_file(image)))
    E.write_file(uimage, data)
    t.check(moved > 0, 'unified: %d chunk indexes moved to device 0' % moved)
    kernel_u = kernel_tree(t, uimage, devices, mnt, 'unified')
    ours_u = eroot_tree(t, uimage, devices, out, 'unified')
    if kernel_u is not None and ours_u is not None:
        E.same_manifest(t, kernel_u, ours_u, 'unified: eroot reads what the kernel reads')
    if kernel is not None and kernel_u is not None:
        E.same_manifest(t, kernel, kernel_u, 'unified: the kernel reads the same tree')

    # --blobdev: one slot with an empty tag, which no one can check
    kernel_b = kernel_tree(t, blobdev[0], blobdev[1:], mnt, 'blobdev')
    ours_b = eroot_tree(t, blobdev[0], blobdev[1:], out, 'blobdev')
    if kernel_b is not None and ours_b is not None:
        E.same_manifest(t, kernel_b, ours_b, 'blobdev: eroot reads what the kernel reads')
    res = E.eroot('fsck', '--device', blobdev[1], blobdev[0])
    E.must(t, res, 'blobdev: fsck (the blob unchecked)')
    t.check(b'used unchecked' in res.err, 'blobdev: fsck says the blob was not checked', res.err)

    # flat and compressed data in the unified space, a SHA-256 tag
    zimage = os.path.join(base, 'zstd-unified.erofs')
    data, moved = unified_device(E.read_file(zstd))
    E.write_file(zimage, data)
    t.check(moved > 0, 'zstd unified: %d files moved to the device' % moved)
    kernel_z = kernel_tree(t, zimage, [zstd], mnt, 'zstd unified')
    ours_z = eroot_tree(t, zimage, [zstd], out, 'zstd unified')
    if kernel_z is not None and ours_z is not None:
        E.same_manifest(t, kernel_z, ours_z, 'zstd unified: eroot reads what the kernel reads')
    res = E.eroot('fsck', '--device', zstd, zimage)
    E.must(t, res, 'zstd unified: fsck with the device checked by its SHA-256')
    res = E.eroot('cat', '--device', devices[0], zimage, '/')
    E.sane_failure(t, res, 'zstd unified: another device refused', EXIT_CORRUPT, command='cat')
    hostile(t, base, image, devices)
    t.exit()


if __name__ == '__main__':
    sys.exit(main())
