#!/usr/bin/python3
"""Content fingerprints (eroot mkfs --fingerprint) bit for bit as the
reference tool writes them (mkfs.erofs --xattr-inode-digest, the sid chroot
of tests/fixtures/reference-mkfs), and eroot fsck checking them.

One source tree (tests/gentree.py edge and random trees, plus an empty file,
hard links, equal files, a file with other xattrs and a 3 MiB file) goes
through both tools with the same fingerprint name, for each case:
  - every regular file with data carries the same fingerprint xattr (name and
    value, read by liberoot: tests/image-manifest --fingerprints) in both
    images, "sha256:" + the SHA-256 of its content; empty files none;
  - the superblocks agree: compat ISHARE_XATTRS, incompat XATTR_PREFIXES,
    ishare_xattr_prefix_id, the prefix table entry it names;
  - the kernel mounts eroot's image, and getfattr's view (a name in a
    namespace) or its absence (a name in none) is the same for both images;
  - eroot fsck passes both images.
A tar archive of the tree gets the same fingerprints.
Then: a flipped byte in a fingerprint of a copy of eroot's image, or in its
"sha256:" tag, makes eroot fsck exit 3 naming the file (the copy is never
mounted); and equal input gives equal bytes (any --workers).
"""
import hashlib
import os
import shutil
import struct
import sys

import eroottest as E
import manifest
from test_reference import reference_root

EXIT_CORRUPT = 3
COMPAT_ISHARE_XATTRS, COMPAT_PLAIN_XATTR_PFX = 0x20, 0x10
INCOMPAT_XATTR_PREFIXES = 0x40

# name, eroot mkfs options, mkfs.erofs options, fingerprint name
CASES = [
    ('default', ['--fingerprint'], ['--xattr-inode-digest'], 'erofs.fingerprint.v1'),
    ('trusted-lz4hc', ['--fingerprint=trusted.eroot.fp', '-z', 'lz4hc'],
     ['--xattr-inode-digest=trusted.eroot.fp', '-zlz4hc'], 'trusted.eroot.fp'),
    ('user-dedupe-fragments-b1024',
     ['--fingerprint=user.fp', '-z', 'lz4', '-E', 'dedupe,fragments', '-b', '1024', '-x', '1'],
     ['--xattr-inode-digest=user.fp', '-zlz4', '-Efragments,dedupe', '-b1024'], 'user.fp'),
    ('dax', ['--fingerprint', '--dax'], ['--xattr-inode-digest'], 'erofs.fingerprint.v1'),
]


def extras(path):
    """Edge cases the generated trees may lack."""
    os.makedirs(path)
    blob = os.urandom(1 << 20) + b'eroot fingerprint\n' * (1 << 17)
    files = {'empty': b'', 'large': blob + os.urandom(12345), 'dup1': b'same\n' * 999,
             'dup2': b'same\n' * 999, 'hl': b'linked twice\n', 'xattrs': b'with xattrs\n'}
    for name, data in files.items():
        E.write_file(os.path.join(path, name), data)
    os.link(os.path.join(path, 'hl'), os.path.join(path, 'hl2'))
    os.setxattr(os.path.join(path, 'xattrs'), 'user.a', b'1')
    os.setxattr(os.path.join(path, 'xattrs'), 'trusted.b', b'2' * 100)


def fingerprints(t, image, what):
    """{path: (size, sha256 hex, fingerprint 'NAME:HEX' or None)} of regular files."""
    res = E.run([E.IMAGE_MANIFEST or E.env_path('IMAGE_MANIFEST'), '--fingerprints', image],
                timeout=600)
    lines = res.out.decode('ascii', errors='replace').splitlines()
    if not E.must(t, res, what + ': image-manifest --fingerprints'):
        return {}
    out = {}
    for line in lines:
        path, fields = E.parse_line(line)
        if fields['type'] == 'reg':
            out[path] = (int(fields['size']), fields['sha256'], fields.get('fingerprint'))
    return out


def prefix_entry(data, sb):
    """The prefix table entry of ishare_xattr_prefix_id, from the raw image
    (None when the table is in the packed inode or metabox)."""
    compat, count, start, pid = sb
    if not compat & COMPAT_PLAIN_XATTR_PFX:
        return None
    pos = start * 4
    for _ in range(pid + 1):
        pos = (pos + 3) & ~3
        length = struct.unpack_from('<H', data, pos)[0]
        entry = data[pos + 2:pos + 2 + length]
        pos += 2 + length
    return entry


def superblock(path):
    with open(path, 'rb') as f:
        data = f.read(1 << 16)
    sb = data[E.SB_OFFSET:E.SB_OFFSET + 128]
    compat = struct.unpack_from('<I', sb, 8)[0]
    incompat = struct.unpack_from('<I', sb, 0x50)[0]
    fields = (compat, sb[0x5b], struct.unpack_from('<I', sb, 0x5c)[0], sb[0x69])
    return compat, incompat, fields, prefix_entry(data, fields)


def compare_supers(t, name, ours, ref):
    compat, incompat, fields, entry = superblock(ours)
    rcompat, rincompat, rfields, rentry = superblock(ref)
    t.check(compat & COMPAT_ISHARE_XATTRS and rcompat & COMPAT_ISHARE_XATTRS,
            '%s: both set compat ISHARE_XATTRS' % name, '%#x %#x' % (compat, rcompat))
    t.check(incompat & INCOMPAT_XATTR_PREFIXES and rincompat & INCOMPAT_XATTR_PREFIXES,
            '%s: both set incompat XATTR_PREFIXES' % name)
    t.check(fields[3] == rfields[3] == 0 and fields[1] == rfields[1] == 1,
            '%s: ishare_xattr_prefix_id 0 (no 0x80 bit) of 1 prefix in both' % name,
            '%s %s' % (fields, rfields))
    t.check(entry is not None and (rentry is None or entry == rentry),
            '%s: same prefix table entry' % name, '%r %r' % (entry, rentry))
    return entry


def compare_fingerprints(t, name, ours, ref, fp_name):
    t.check(set(ours) == set(ref) and ours, '%s: same regular files' % name,
            sorted(set(ours) ^ set(ref))[:10])
    bad = []
    for path, (size, sha, fp) in sorted(ours.items()):
        want = '%s:%s' % (manifest.escape(fp_name.encode()), ('sha256:'.encode().hex() + sha)) \
            if size else None
        if fp != want or ref.get(path, (0, '', None))[2] != fp:
            bad.append('%s: ours %s, reference %s, content %s' %
                       (path, fp, ref.get(path, (0, '', None))[2], sha))
    t.check(not bad, '%s: every fingerprint as the reference writes it, '
            'sha256: + content SHA-256 (%d files)' % (name, len(ours)), '\n'.join(bad[:10]))


def kernel_view(mnt, paths, fp_name):
    """{path: the fingerprint xattr value hex as getfattr sees it, or None}."""
    out = {}
    for path in paths:
        full = os.path.join(os.fsencode(mnt), manifest.unescape(path))
        listed = fp_name in os.listxattr(full, follow_symlinks=False)
        out[path] = os.getxattr(full, fp_name).hex() if listed else None
    return out


def check_kernel(t, name, ours, ref, fps, fp_name, base):
    views = []
    for which, image in (('eroot', ours), ('reference', ref)):
        mnt = os.path.join(base, name + '-' + which + '-mnt')
        with E.try_mount(t, image, mnt, '%s: the kernel mounts the %s image' % (name, which)) \
                as m:
            views.append(kernel_view(m, sorted(fps), fp_name) if m else None)
    if None in views:
        return
    t.check(views[0] == views[1], '%s: getfattr shows the same fingerprints on both mounts'
            % name)
    visible = not fp_name.startswith('erofs.')
    want = {p: ('sha256:'.encode().hex() + sha if visible and size else None)
            for p, (size, sha, _) in fps.items()}
    t.check(views[0] == want, '%s: getfattr shows %s' % (
        name, 'sha256: + the content SHA-256' if visible else 'no fingerprint (no namespace)'),
        [p for p in want if want[p] != views[0].get(p)][:10])


def check_corruption(t, image, fps, base):
    """Flip a digest byte, then a tag byte, of one file's fingerprint."""
    path, (_, sha, _) = next((p, v) for p, v in sorted(fps.items()) if v[0] > 4096)
    value = b'sha256:' + bytes.fromhex(sha)
    data = E.read_file(image)
    at = data.find(value)
    t.check(at > 0 and data.find(value, at + 1) < 0,
            'the fingerprint of %s is once in the image' % path)
    for what, off in (('digest', at + 20), ('tag', at + 1)):
        bad = os.path.join(base, 'corrupt-%s.erofs' % what)
        E.write_file(bad, data[:off] + bytes([data[off] ^ 0x55]) + data[off + 1:])
        res = E.eroot('fsck', bad)
        E.must(t, res, 'fsck: a flipped byte in the %s of a fingerprint is corruption' % what,
               (EXIT_CORRUPT,))
        lines = res.err_lines()
        t.check(len(lines) == 1 and ('/' + path) in lines[0] and 'fingerprint' in lines[0],
                'fsck names %s and its fingerprint in one line' % path, lines)


def check_archive(t, tree, work, default_fps, base):
    """A tar source gets the fingerprints a directory source gets."""
    tar, image = os.path.join(work, 'tree.tar'), os.path.join(base, 'tar.erofs')
    E.run(['tar', '-C', tree, '--xattrs', '--xattrs-include=*', '-cf', tar, '.'], timeout=600)
    if not E.must(t, E.eroot('mkfs', '-q', '--fingerprint', '-z', 'lz4', image, '--tar', tar),
                  'tar: eroot mkfs --fingerprint --tar'):
        return
    fps = fingerprints(t, image, 'tar')
    t.check(fps and all(fps[p] == default_fps.get(p) for p in fps),
            'tar: every file as from the directory (%d files)' % len(fps),
            [p for p in fps if fps[p] != default_fps.get(p)][:10])
    E.must(t, E.eroot('fsck', '-q', image), 'tar: eroot fsck')


def main():
    E.require_root()
    E.require_kernel_erofs()
    t = E.Checker('fingerprint')
    base = E.scratch('fingerprint')
    root = reference_root()
    work_in_root = '/tmp/eroot-fingerprint-%d' % os.getpid()
    work = root + work_in_root
    os.makedirs(work)
    try:
        tree = os.path.join(work, 'tree')
        E.gentree(os.path.join(tree, 'edge'), 'edge', 1)
        E.gentree(os.path.join(tree, 'random'), 'random', 3)
        extras(os.path.join(tree, 'extras'))
        for name, ours_opts, ref_opts, fp_name in CASES:
            ours = os.path.join(base, name + '.erofs')
            ref = os.path.join(base, name + '-ref.erofs')
            if not E.mkfs(t, ours, tree, *ours_opts):
                continue
            res = E.run(['env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LC_ALL=C',
                         'chroot', root, 'mkfs.erofs', '--quiet'] + ref_opts +
                        [work_in_root + '/ref.erofs', work_in_root + '/tree'], timeout=600)
            if not E.must(t, res, '%s: mkfs.erofs %s' % (name, ' '.join(ref_opts))):
                continue
            shutil.move(os.path.join(work, 'ref.erofs'), ref)
            compare_supers(t, name, ours, ref)
            fps = fingerprints(t, ours, name + ' (eroot)')
            compare_fingerprints(t, name, fps, fingerprints(t, ref, name + ' (reference)'),
                                 fp_name)
            for which, image in (('eroot', ours), ('reference', ref)):
                E.must(t, E.eroot('fsck', '-q', image), '%s: eroot fsck of the %s image'
                       % (name, which))
            check_kernel(t, name, ours, ref, fps, fp_name, base)
            if name == 'default':
                check_corruption(t, ours, fps, base)
                check_archive(t, tree, work, fps, base)
            if name == 'trusted-lz4hc':
                again = os.path.join(base, 'again.erofs')
                if E.mkfs(t, again, tree, '--workers=1', *ours_opts):
                    t.check(E.read_file(again) == E.read_file(ours),
                            '%s: equal input, equal bytes (--workers=1 and default)' % name)
            print('%s: %d files, eroot %d bytes, reference %d bytes' % (
                name, len(fps), os.path.getsize(ours), os.path.getsize(ref)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    t.exit()


if __name__ == '__main__':
    main()
