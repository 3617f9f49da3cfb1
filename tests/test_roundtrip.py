#!/usr/bin/python3
"""Round trip: tree -> eroot mkfs -> (kernel mount | image-manifest | eroot
extract) must give the tree's manifest back; eroot fsck and Debian's
fsck.erofs must accept the image.

    test_roundtrip.py NAME --kind edge|random [--seed N] [-b SIZE] [--big]

--big uses the big tree (on a tmpfs, since ext4 refuses 65540 hard links) and
skips extract (the target would need the same).
"""
import argparse
import json
import os
import shutil
import stat
import subprocess

import eroottest as E


def fsck_erofs(t, image, bs, compressor, extended=''):
    """Debian's erofs-utils 1.5 only knows 4 KiB blocks, LZ4 and no
    fragments: require success there, and just report what it says about
    other images."""
    if not shutil.which('fsck.erofs'):
        print('note: fsck.erofs not installed, not run')
        return
    res = E.run(['fsck.erofs', image], timeout=600)
    if (bs == 4096 and compressor.split(',')[0] in ('', 'lz4', 'lz4hc') and
            'fragments' not in extended):
        E.must(t, res, 'Debian fsck.erofs accepts the image')
    else:
        print('note: fsck.erofs (erofs-utils 1.5) on a %d-byte-block image: '
              'exit %s: %s' % (bs, res.rc, res.err.decode(errors='replace')
                               .strip().splitlines()[-1:]))


def cat_checks(t, image, tree, expected):
    """eroot cat of a few plainly named regular files."""
    picked = 0
    for line in expected:
        path, f = E.parse_line(line)
        if f['type'] != 'reg' or '\\' in path or int(f['size']) > 1 << 22:
            continue
        res = E.eroot('cat', image, '/' + path)
        if not E.must(t, res, 'eroot cat /%s' % path):
            return
        t.check(res.out == E.read_file(os.path.join(tree, path)),
                'eroot cat /%s gives the file content' % path)
        picked += 1
        if picked == 5:
            break
    t.check(picked, 'eroot cat checked some files')


def stat_json(t, image, path):
    res = E.eroot('stat', '--json', image, path)
    if not E.must(t, res, 'eroot stat --json %s' % path):
        return None
    try:
        d = json.loads(res.out)
    except ValueError:
        t.check(False, 'stat --json %s prints JSON' % path, res.out[:300])
        return None
    return {k: v for k, v in d.items() if 'path' not in k}


def symlink_checks(t, image, tree):
    """Symlinks in the edge tree resolve inside the image (docs/cli.md):
    cat follows them, stat follows all but the last one."""
    one = E.read_file(os.path.join(tree, 'files/one'))
    bottom = 'dirs/deep/' + '/'.join('d%d' % i for i in range(12)) + '/bottom'
    via_link = '/links/to-dir/' + '/'.join('d%d' % i for i in range(1, 12)) + \
        '/bottom'
    for path, want in (('/links/up', one), ('/links/chain', one),
                       ('/links/escape', one), ('/links/abs-dir/one', one),
                       (via_link, E.read_file(os.path.join(tree, bottom)))):
        res = E.eroot('cat', image, path)
        if E.must(t, res, 'eroot cat %s (through symlinks)' % path):
            t.check(res.out == want, 'eroot cat %s gives the target\'s '
                    'content' % path)
    for path, why in (('/links/self', 'a symlink to itself'),
                      ('/links/loop-a', 'a symlink loop'),
                      ('/links/dangling', 'a dangling symlink'),
                      ('/links/abs', 'an absolute target missing in the image'),
                      ('/dirs', 'a directory')):
        res = E.eroot('cat', image, path)
        E.sane_failure(t, res, 'eroot cat %s (%s)' % (path, why), 1,
                       command='cat')
    a = stat_json(t, image, '/links/to-dir/d1')
    b = stat_json(t, image, '/dirs/deep/d0/d1')
    c = stat_json(t, image, '/links/to-dir')
    if a is not None and b is not None and c is not None:
        t.check(a == b, 'stat follows a symlink in the middle of a path',
                '%s\nvs\n%s' % (a, b))
        t.check(c != b, 'stat does not follow a final symlink', c)


def duplicate_files(tree):
    """Copies (not links) of every regular file of a few sizes, with other
    owners and modes, so dedupe has work and metadata must stay apart."""
    dup = os.path.join(tree, 'duplicates')
    os.mkdir(dup)
    k = 0
    for dirpath, dirs, files in os.walk(tree):
        if dirpath.startswith(dup):
            continue
        for name in sorted(files):
            src = os.path.join(dirpath, name)
            st = os.lstat(src)
            if not stat.S_ISREG(st.st_mode) or st.st_size > 8 << 20:
                continue
            dst = os.path.join(dup, 'copy-%d' % k)
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o640)
            os.chown(dst, 1000 + k % 3, 1000)
            k += 1
    os.utime(dup, (0, 0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('name')
    ap.add_argument('--kind', required=True)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('-b', '--block-size', type=int, default=4096)
    ap.add_argument('--big', action='store_true')
    ap.add_argument('-z', '--compress', default='',
                    help='eroot mkfs -z ALGO[,LEVEL]')
    ap.add_argument('-C', '--pcluster', type=int, default=0,
                    help='eroot mkfs -C BYTES')
    ap.add_argument('-E', '--extended', default='',
                    help='eroot mkfs -E OPTIONS')
    ap.add_argument('--hint', action='append', default=[],
                    help='a --compress-hints line (repeatable)')
    ap.add_argument('--duplicate', action='store_true',
                    help='add copies of files (for dedupe)')
    args = ap.parse_args()
    E.require_root()
    E.require_kernel_erofs()
    t = E.Checker(args.name)
    base = E.scratch(args.name)
    tree = os.path.join(base, 'tree')
    image = os.path.join(base, 'image.erofs')

    if args.big:
        # ext4 stops at 65000 links per inode; tmpfs has no such limit.
        os.makedirs(tree)
        subprocess.run(['mount', '-t', 'tmpfs', '-o',
                        'size=2g,nr_inodes=0,mode=0755', 'tmpfs', tree],
                       check=True)
    E.gentree(tree, args.kind, args.seed, args.big)
    if args.duplicate:
        duplicate_files(tree)
    expected = E.manifest(tree)
    print('tree: %d entries' % len(expected), flush=True)

    opts = ['-b', str(args.block_size)]
    if args.compress:
        opts += ['-z', args.compress]
    if args.pcluster:
        opts += ['-C', str(args.pcluster)]
    if args.extended:
        opts += ['-E', args.extended]
    if args.hint:
        hints = os.path.join(base, 'hints.txt')
        with open(hints, 'w') as f:
            f.write('# per-file compression\n' + '\n'.join(args.hint) + '\n')
        opts += ['--compress-hints', hints]
    if not E.mkfs(t, image, tree, *opts, what='eroot mkfs ' + ' '.join(opts)):
        t.exit()

    print('image: %d bytes' % os.path.getsize(image), flush=True)
    t.check(sorted(os.listdir(base)) ==
            sorted(['image.erofs', 'tree'] + (['hints.txt'] if args.hint else [])),
            'mkfs leaves only the image next to it', os.listdir(base))
    mnt = os.path.join(base, 'mnt')
    with E.try_mount(t, image, mnt, 'kernel mounts the image') as m:
        if m:
            E.same_manifest(t, expected, E.manifest(mnt),
                            'kernel mount shows the tree')

    res, lines = E.image_manifest(image)
    if E.must(t, res, 'image-manifest reads the image'):
        E.same_manifest(t, expected, lines, 'liberoot reader shows the tree')

    res = E.eroot('fsck', image, timeout=900)
    E.must(t, res, 'eroot fsck accepts the image')
    fsck_erofs(t, image, args.block_size, args.compress, args.extended)

    if not args.big:
        out = os.path.join(base, 'extracted')
        res = E.eroot('extract', image, out, timeout=900)
        if E.must(t, res, 'eroot extract'):
            E.same_manifest(t, expected, E.manifest(out),
                            'extracted tree equals the source tree')
        cat_checks(t, image, tree, expected)
        if args.kind == 'edge':
            symlink_checks(t, image, tree)
    t.exit()


if __name__ == '__main__':
    main()
