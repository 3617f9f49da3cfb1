#!/usr/bin/python3
"""Reproducibility: the same tree gives byte-identical images when built
twice, after atimes/ctimes changed, and from a copy whose directories were
filled in another order (other readdir order, inode numbers, source path)."""
import os
import stat
import subprocess

import eroottest as E


def touch_atime_ctime(tree):
    """New atimes and ctimes everywhere, mtimes unchanged."""
    for dirpath, dirs, files in os.walk(tree):
        for name in dirs + files + ['.']:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            os.utime(path, ns=(st.st_atime_ns + 10**9 * 3600, st.st_mtime_ns),
                     follow_symlinks=False)
            if not stat.S_ISLNK(st.st_mode):
                os.chmod(path, stat.S_IMODE(st.st_mode))   # bumps ctime


def copy_entry(src, dst, st, links):
    """Create @dst like @src (content and type only; metadata comes later).
    Returns False for the second name of an inode (hardlinked instead)."""
    key = (st.st_dev, st.st_ino)
    if not stat.S_ISDIR(st.st_mode) and key in links:
        os.link(links[key], dst, follow_symlinks=False)
        return False
    links[key] = dst
    if stat.S_ISDIR(st.st_mode):
        os.mkdir(dst)
    elif stat.S_ISREG(st.st_mode):
        # cp's default keeps the holes of sparse files and only those.
        subprocess.run(['cp', src, dst], check=True)
    elif stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    else:
        os.mknod(dst, st.st_mode, st.st_rdev)
    return True


def copy_meta(src, dst, st):
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    for name in os.listxattr(src, follow_symlinks=False):
        os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False),
                    follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))


def reverse_copy(src_root, dst_root):
    """Copy a tree creating every directory's entries in reverse order."""
    src_root, dst_root = os.fsencode(src_root), os.fsencode(dst_root)
    os.mkdir(dst_root)
    links, made = {}, []

    def copy_dir(src, dst):
        for name in sorted(os.listdir(src), reverse=True):
            s, d = os.path.join(src, name), os.path.join(dst, name)
            st = os.lstat(s)
            if copy_entry(s, d, st, links):
                made.append((s, d, st))
            if stat.S_ISDIR(st.st_mode):
                copy_dir(s, d)
    copy_dir(src_root, dst_root)
    made.append((src_root, dst_root, os.lstat(src_root)))
    for s, d, st in made:
        copy_meta(s, d, st)
    for s, d, st in reversed(made):
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def cmp_images(t, a, b, what):
    res = E.run(['cmp', a, b])
    t.check(res.rc == 0, what, res.out.decode(errors='replace'))


def main():
    E.require_root()
    t = E.Checker('reproducible')
    base = E.scratch('reproducible')
    for kind, seed in (('edge', 4), ('random', 4)):
        tree = os.path.join(base, '%s-tree' % kind)
        E.gentree(tree, kind, seed)
        img = lambda n: os.path.join(base, '%s-%s.erofs' % (kind, n))
        if not (E.mkfs(t, img(1), tree) and E.mkfs(t, img(2), tree)):
            continue
        cmp_images(t, img(1), img(2), '%s: two builds are identical' % kind)
        touch_atime_ctime(tree)
        if E.mkfs(t, img(3), tree):
            cmp_images(t, img(1), img(3), '%s: new atimes/ctimes change '
                       'nothing' % kind)
        cpa = os.path.join(base, 'cp-a', '%s-copy' % kind)
        os.makedirs(os.path.dirname(cpa), exist_ok=True)
        E.run(['cp', '-a', tree, cpa])
        if E.same_manifest(t, E.manifest(tree), E.manifest(cpa),
                           'sanity: cp -a copies the tree exactly') and \
                E.mkfs(t, img('cp-a'), cpa):
            cmp_images(t, img(1), img('cp-a'), '%s: a cp -a copy gives the '
                       'same image' % kind)
        copy = os.path.join(base, 'another-dir', '%s-copy' % kind)
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        reverse_copy(tree, copy)
        if not E.same_manifest(t, E.manifest(tree), E.manifest(copy),
                               'sanity: the reverse-order copy is exact'):
            continue
        if E.mkfs(t, img(4), copy):
            cmp_images(t, img(1), img(4), '%s: a copy made in another order '
                       'gives the same image' % kind)
        if E.mkfs(t, img(7), tree, '-z', 'lz4hc', '-E', 'dedupe') and \
                E.mkfs(t, img(8), copy, '-z', 'lz4hc', '-E', 'dedupe'):
            cmp_images(t, img(7), img(8), '%s: same with -E dedupe (shared pclusters)'
                       % kind)
        if E.mkfs(t, img(5), tree, '-b', '1024') and \
                E.mkfs(t, img(6), copy, '-b', '1024'):
            cmp_images(t, img(5), img(6), '%s: same with 1024-byte blocks'
                       % kind)
    t.exit()


if __name__ == '__main__':
    main()
