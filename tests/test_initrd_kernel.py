#!/usr/bin/python3
"""eroot initrd reads the target kernel's configuration and refuses what
that kernel cannot boot, each refusal one line naming the option and the
kernel (docs/boot.md, "The target kernel"); built-in features get no
module; its own output is refused as INPUT; the loader's limits hold
before the image is built.  Fake module trees (modules.dep,
modules.builtin, a config file) for each case, then Debian's 6.1 cloud
kernel of the debian-root fixture when it is cached.  No QEMU, no root.
"""
import hashlib
import json
import os
import re

import boot
import eroottest as E
import mkinitramfs as M
from mkinitramfs import newc_entries

LOADER_MODULES = ('erofs', 'overlay', 'loop')   # it hashes in userspace

# A kernel that has everything the loader uses, as modules.
FULL = {
    'EROFS_FS': 'm', 'EROFS_FS_ZIP': 'y', 'EROFS_FS_ZIP_LZMA': 'y',
    'EROFS_FS_ZIP_DEFLATE': 'y', 'EROFS_FS_ZIP_ZSTD': 'y',
    'EROFS_FS_BACKED_BY_FILE': 'y', 'OVERLAY_FS': 'm', 'BLK_DEV_LOOP': 'm',
}


def module_tree(root, kver, config=None, builtin=(), files=None,
                config_name='boot'):
    """A module tree of kernel @kver under @root: every loader module as a
    file (or @files: {name: [dependencies]}), @builtin in modules.builtin,
    @config ({option: value or None}) as boot/config-KVER, or as
    lib/modules/KVER/config with @config_name 'modules'."""
    kdir = os.path.join(root, 'lib', 'modules', kver)
    os.makedirs(kdir, exist_ok=True)
    if files is None:
        files = {m: [] for m in LOADER_MODULES if m not in builtin}
    dep = []
    for name, deps in files.items():
        rel = 'kernel/%s.ko' % name
        E.write_file(_mkparent(os.path.join(kdir, rel)), b'\x7fELF' + name.encode())
        dep.append('%s:%s\n' % (rel, ''.join(' kernel/%s.ko' % d for d in deps)))
    E.write_file(os.path.join(kdir, 'modules.dep'), ''.join(dep).encode())
    E.write_file(os.path.join(kdir, 'modules.builtin'),
                 ''.join('kernel/%s.ko\n' % b for b in builtin).encode())
    if config is not None:
        text = '#\n# Automatically generated file; DO NOT EDIT.\n#\n'
        for option, value in config.items():
            text += ('CONFIG_%s=%s\n' % (option, value) if value else
                     '# CONFIG_%s is not set\n' % option)
        path = (os.path.join(root, 'boot', 'config-' + kver)
                if config_name == 'boot' else os.path.join(kdir, 'config'))
        E.write_file(_mkparent(path), text.encode())
    return root


def _mkparent(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def with_(base, **changes):
    out = dict(base)
    out.update(changes)
    return out


class Case:
    def __init__(self, t, base, src):
        self.t, self.base, self.src, self.n = t, base, src, 0

    def kernel(self, kver, config=None, **kw):
        self.n += 1
        return module_tree(os.path.join(self.base, 'k%d' % self.n), kver,
                           config, **kw)

    def initrd(self, root, kver, *opts, src=None):
        """eroot initrd -k @kver (none when @kver is None)."""
        out = os.path.join(self.base, 'out-%d.img' % self.n)
        if os.path.exists(out):
            os.unlink(out)
        res = E.eroot('initrd', '-q', *(['-k', kver] if kver else []), '--modules-dir',
                      root, *opts, out, src or self.src, timeout=300)
        return res, out

    def refused(self, what, kver, config, opts, words, **kw):
        root = self.kernel(kver, config, **kw)
        res, out = self.initrd(root, kver, *opts)
        if E.sane_failure(self.t, res, what, 1, command='initrd'):
            msg = res.err.decode(errors='replace')
            self.t.check(all(w in msg for w in words + [kver]),
                         '%s: the message names %s and the kernel' % (what, words),
                         msg.strip())
        self.t.check(not os.path.exists(out), '%s: no output' % what)

    def accepted(self, what, kver, config, opts=(), **kw):
        """The loader archive's module names, or None when it failed."""
        root = self.kernel(kver, config, **kw)
        res, out = self.initrd(root, kver, *opts)
        if not E.must(self.t, res, what):
            return None
        entries = newc_entries(E.read_file(out))
        names = {e[2].decode() for e in entries}
        config_text = [e[5] for e in entries if e[2] == b'eroot/config'][0]
        return {n[len('eroot/modules/'):-3] for n in names
                if n.startswith('eroot/modules/') and n.endswith('.ko')}, config_text


def test_compression(c):
    no_zstd = with_(FULL, EROFS_FS_ZIP_ZSTD=None)
    c.refused('-z zstd on 6.1', '6.1.0-50-test', no_zstd, ['-z', 'zstd'],
              ['-z zstd', 'Linux 6.10', 'CONFIG_EROFS_FS_ZIP_ZSTD'])
    c.refused('-z zstd,19 on 6.12 without CONFIG_EROFS_FS_ZIP_ZSTD', '6.12.9-test',
              no_zstd, ['-z', 'zstd,19'], ['-z zstd', 'CONFIG_EROFS_FS_ZIP_ZSTD'])
    c.refused('-z lzma without CONFIG_EROFS_FS_ZIP_LZMA', '6.12.9-test',
              with_(FULL, EROFS_FS_ZIP_LZMA=None), ['-z', 'lzma'],
              ['-z lzma', 'CONFIG_EROFS_FS_ZIP_LZMA'])
    c.refused('-z deflate without CONFIG_EROFS_FS_ZIP_DEFLATE', '6.12.9-test',
              with_(FULL, EROFS_FS_ZIP_DEFLATE=None), ['-z', 'deflate'],
              ['-z deflate', 'CONFIG_EROFS_FS_ZIP_DEFLATE'])
    c.refused('-z lz4hc without CONFIG_EROFS_FS_ZIP', '6.12.9-test',
              with_(FULL, EROFS_FS_ZIP=None), ['-z', 'lz4hc'],
              ['-z lz4hc', 'CONFIG_EROFS_FS_ZIP'])
    c.refused('a second algorithm the kernel lacks (-z lz4hc:zstd)', '6.12.9-test',
              no_zstd, ['-z', 'lz4hc:zstd'], ['-z zstd', 'CONFIG_EROFS_FS_ZIP_ZSTD'])
    c.accepted('-z none without CONFIG_EROFS_FS_ZIP', '6.12.9-test',
               with_(FULL, EROFS_FS_ZIP=None), ['-z', 'none'])
    c.accepted('-z zstd on 6.12 with CONFIG_EROFS_FS_ZIP_ZSTD', '6.12.9-test', FULL,
               ['-z', 'zstd'])
    c.accepted('-z lzma on 6.1 with CONFIG_EROFS_FS_ZIP_LZMA', '6.1.0-50-test',
               FULL, ['-z', 'lzma'])


def test_mounting(c):
    c.refused('no CONFIG_EROFS_FS', '6.12.9-test', with_(FULL, EROFS_FS=None), [],
              ['CONFIG_EROFS_FS is not set'])
    c.refused('no CONFIG_OVERLAY_FS', '6.12.9-test', with_(FULL, OVERLAY_FS=None), [],
              ['overlayfs', 'CONFIG_OVERLAY_FS'])
    c.refused('6.1 without CONFIG_BLK_DEV_LOOP (no file-backed mounts before 6.12)',
              '6.1.0-50-test', with_(FULL, BLK_DEV_LOOP=None), [],
              ['Linux 6.12', 'CONFIG_BLK_DEV_LOOP'])
    c.refused('6.12 with neither CONFIG_EROFS_FS_BACKED_BY_FILE nor CONFIG_BLK_DEV_LOOP',
              '6.12.9-test', with_(FULL, BLK_DEV_LOOP=None, EROFS_FS_BACKED_BY_FILE=None),
              [], ['CONFIG_EROFS_FS_BACKED_BY_FILE', 'CONFIG_BLK_DEV_LOOP'])
    got = c.accepted('6.12 file-backed without a loop driver', '6.12.9-test',
                     with_(FULL, BLK_DEV_LOOP=None),
                     files={m: [] for m in LOADER_MODULES if m != 'loop'})
    if got:
        c.t.check('loop' not in got[0] and b'loop' not in got[1],
                  '6.12 file-backed: no loop module packed or listed', got)


def test_blocks(c):
    arm64 = with_(FULL, ARM64_64K_PAGES='y')
    c.refused('4096-byte blocks on 6.1 with 64 KiB pages', '6.1.0-test', arm64,
              ['-z', 'none'], ['4096-byte blocks', '65536 bytes', 'Linux 6.4'])
    c.accepted('uncompressed 4096-byte blocks on 6.6 with 64 KiB pages', '6.6.0-test',
               arm64, ['-z', 'none'])
    c.refused('compressed 4096-byte blocks on 6.6 with 64 KiB pages', '6.6.0-test',
              arm64, ['-z', 'lz4hc'], ['4096-byte blocks', '6.8'])
    c.accepted('compressed 4096-byte blocks on 6.8 with CONFIG_PAGE_SHIFT=16',
               '6.8.0-test', with_(FULL, PAGE_SHIFT='16'), ['-z', 'lz4hc'])
    c.refused('-C 65536 on 5.10 (big physical clusters: 5.13)', '5.10.0-test',
              with_(FULL, EROFS_FS_BACKED_BY_FILE=None), ['-z', 'lz4hc', '-C', '65536'],
              ['-C 65536', 'Linux 5.13'])
    # eroot's compressed images always record per-algorithm settings (5.13):
    # found in the image once built
    c.refused('-z lz4hc -C 4096 on 5.10', '5.10.0-test',
              with_(FULL, EROFS_FS_BACKED_BY_FILE=None), ['-z', 'lz4hc', '-C', '4096'],
              ['the image', 'Linux 5.13'])
    c.accepted('-z none on 5.10', '5.10.0-test', with_(FULL, EROFS_FS_BACKED_BY_FILE=None),
               ['-z', 'none'])


def test_layers(c):
    """--layer images are checked by their superblock: algorithms, block
    size, incompatible features."""
    for name, opts, kver, config, words in (
            ('zstd', ['-z', 'zstd'], '6.1.0-test', with_(FULL, EROFS_FS_ZIP_ZSTD=None),
             ['EROFS zstd needs Linux 6.10']),
            ('lzma-noconfig', ['-z', 'lzma'], '6.12.9-test',
             with_(FULL, EROFS_FS_ZIP_LZMA=None), ['CONFIG_EROFS_FS_ZIP_LZMA']),
            ('fragments', ['-z', 'lz4', '-E', 'fragments'], '5.15.0-test',
             with_(FULL, EROFS_FS_BACKED_BY_FILE=None), ['fragments', 'Linux 6.1']),
            ('b512', ['-b', '512', '-z', 'lz4'], '6.6.0-test', FULL,
             ['512-byte blocks', 'compressed images from 6.8'])):
        layer = os.path.join(c.base, 'layer-%s.erofs' % name)
        if not E.must(c.t, E.eroot('mkfs', '-q', *opts, layer, c.src),
                      'a layer image %s' % ' '.join(opts)):
            continue
        c.refused('--layer built with %s on %s' % (' '.join(opts), kver), kver, config,
                  ['--layer', layer], ['--layer %s' % layer] + words)
    layer = os.path.join(c.base, 'layer-zstd.erofs')
    c.accepted('--layer built with -z zstd on 6.12', '6.12.9-test', FULL, ['--layer', layer])


def test_builtin(c):
    builtin = with_(FULL, EROFS_FS='y', OVERLAY_FS='y', BLK_DEV_LOOP='y')
    # the tree has no erofs, overlay or loop file: the config says built in
    got = c.accepted('features built in by the config (no module files)', '6.12.9-test',
                     builtin, files={})
    if got:
        c.t.check(not got[0] & {'erofs', 'overlay', 'loop'} and
                  not any(m in got[1] for m in (b'/erofs.ko', b'/overlay.ko', b'/loop.ko')),
                  'built-in features: no module packed or listed for the loader', got)
    got = c.accepted('features built in by modules.builtin (no config)', '6.12.9-test',
                     None, builtin=('erofs', 'overlay'))
    if got:
        c.t.check(got[0] & {'erofs', 'overlay'} == set() and 'loop' in got[0],
                  'modules.builtin: erofs and overlay not packed, loop packed', got)
    c.refused('CONFIG_EROFS_FS=m and no erofs module', '6.12.9-test', FULL, [],
              ['kernel module erofs', 'neither built in'],
              files={m: [] for m in LOADER_MODULES if m != 'erofs'})


def test_config_sources(c):
    # no config: one warning line, then the version check alone
    root = c.kernel('6.1.0-test', None)
    res, out = c.initrd(root, '6.1.0-test', '-z', 'zstd')
    lines = res.err_lines()
    c.t.check(res.rc == 1 and len(lines) == 2 and 'warning: no configuration' in lines[0]
              and '-z zstd' in lines[1] and 'Linux 6.10' in lines[1],
              'no config: one warning line, then the version refusal', res.describe())
    res, out = c.initrd(root, '6.1.0-test')
    c.t.check(res.rc == 0 and len(res.err_lines()) == 1 and
              'warning: no configuration of kernel 6.1.0-test' in res.err_lines()[0],
              'no config, lz4hc on 6.1: built, after one warning line', res.describe())
    # lib/modules/KVER/config is found
    c.refused('lib/modules/KVER/config', '6.12.9-test', with_(FULL, OVERLAY_FS=None), [],
              ['CONFIG_OVERLAY_FS'], config_name='modules')
    # --kernel-config FILE wins over the tree's
    root = c.kernel('6.12.9-test', FULL)
    cfg = os.path.join(c.base, 'given-config')
    E.write_file(cfg, b'CONFIG_EROFS_FS=m\nCONFIG_OVERLAY_FS=m\nCONFIG_BLK_DEV_LOOP=m\n')
    res, out = c.initrd(root, '6.12.9-test', '--kernel-config', cfg)
    c.t.check(res.rc == 1 and 'CONFIG_EROFS_FS_ZIP' in res.err.decode(),
              '--kernel-config FILE is the one read', res.describe())
    res, out = c.initrd(root, '6.12.9-test', '--kernel-config', cfg + '.missing')
    E.sane_failure(c.t, res, '--kernel-config of a missing file', 1, command='initrd')
    # hostile configs: binary noise, a long line, names with odd bytes
    noise = bytes(range(256)) * 64 + b'CONFIG_' + b'A' * 100000 + b'=y\n' + \
        b'CONFIG_EROFS_FS\x00=m\n# CONFIG_OVERLAY_FS is not set trailing\n' + \
        b'CONFIG_EROFS_FS=m\nCONFIG_OVERLAY_FS=m\nCONFIG_BLK_DEV_LOOP=m\n' + \
        b'CONFIG_EROFS_FS_ZIP=y\nCONFIG_OVERLAY_FS=\n\r\n'
    E.write_file(cfg, noise)
    res, out = c.initrd(root, '6.12.9-test', '--kernel-config', cfg)
    c.t.check(res.rc == 1 and not res.sanitizer() and 'CONFIG_OVERLAY_FS' in res.err.decode(),
              'a noisy config: parsed line by line (the last OVERLAY_FS line, empty, '
              'counts)', res.describe())
    with open(cfg, 'wb') as f:
        f.truncate(17 << 20)
    res, out = c.initrd(root, '6.12.9-test', '--kernel-config', cfg)
    if E.sane_failure(c.t, res, 'a 17 MiB config', 1, command='initrd'):
        c.t.check('not a kernel configuration' in res.err.decode(),
                  'a 17 MiB config: refused as not a configuration', res.describe())


def test_own_output(c):
    root = c.kernel('6.12.9-test', FULL)
    res, first = c.initrd(root, '6.12.9-test')
    if not E.must(c.t, res, 'an initrd to give back'):
        return
    mine = os.path.join(c.base, 'mine.img')
    os.rename(first, mine)
    res, out = c.initrd(root, '6.12.9-test', src=mine)
    if E.sane_failure(c.t, res, 'its own output as INPUT', 1, command='initrd'):
        c.t.check('already an initrd made by eroot initrd' in res.err.decode(),
                  'its own output: named as such', res.describe())
    # behind an early archive (microcode), as a bootloader may keep it
    early = M.newc([M.dirent('kernel'), M.reg('kernel/x86/microcode/GenuineIntel.bin',
                                              b'ucode')])
    E.write_file(mine + '.early', early + E.read_file(mine))
    res, out = c.initrd(root, '6.12.9-test', src=mine + '.early')
    c.t.check(res.rc == 1 and 'already an initrd' in res.err.decode(),
              'its own output behind an early archive: refused', res.describe())
    # compressed again: seen in the image of its content, once built
    E.write_file(mine + '.gz', M.compress(E.read_file(mine), 'gzip'))
    res, out = c.initrd(root, '6.12.9-test', src=mine + '.gz')
    c.t.check(res.rc == 1 and 'already an initrd' in res.err.decode() and
              not os.path.exists(out), 'its own output compressed with gzip: refused',
              res.describe())
    # unpacked into a directory
    unpacked = os.path.join(c.base, 'unpacked')
    os.makedirs(os.path.join(unpacked, 'eroot'))
    E.write_file(os.path.join(unpacked, 'init'), b'\x7fELF')
    E.write_file(os.path.join(unpacked, 'eroot', 'config'), b'version 1\n')
    res, out = c.initrd(root, '6.12.9-test', src=unpacked)
    c.t.check(res.rc == 1 and 'already an initrd' in res.err.decode(),
              'its own output unpacked into a directory: refused', res.describe())
    # an ordinary initramfs with an /init and an eroot/ directory is not
    plain = os.path.join(c.base, 'plain.cpio')
    E.write_file(plain, M.newc([M.reg('init', b'#!/bin/sh\n', 0o755), M.dirent('eroot'),
                                M.reg('eroot/notes', b'x')]))
    res, out = c.initrd(root, '6.12.9-test', src=plain)
    E.must(c.t, res, 'an initramfs with /init and eroot/notes is converted')


def test_limits(c):
    # INPUT is not an initramfs: a refusal that names the kernel or the
    # loader, not the input, came before the image build
    junk = os.path.join(c.base, 'junk')
    E.write_file(junk, b'not an archive\n' * 100)
    many = {'m%02d' % i: [] for i in range(70)}
    files = {m: [] for m in LOADER_MODULES}
    files['erofs'] = sorted(many)
    files.update(many)
    root = c.kernel('6.12.9-test', FULL, files=files)
    res, out = c.initrd(root, '6.12.9-test', src=junk)
    if E.sane_failure(c.t, res, '73 modules', 1, command='initrd'):
        c.t.check('at most 64' in res.err.decode(),
                  '73 modules: refused by the loader\'s limit before the image build',
                  res.describe())
    layer = os.path.join(c.base, 'layer.erofs')
    E.must(c.t, E.eroot('mkfs', '-q', layer, c.src), 'a layer image')
    root = c.kernel('6.12.9-test', FULL)
    res, out = c.initrd(root, '6.12.9-test', *sum((['--layer', layer] for _ in range(16)),
                                                  []), src=junk)
    if E.sane_failure(c.t, res, '16 layers', 1, command='initrd'):
        c.t.check('at most 15' in res.err.decode(),
                  '16 layers: refused by the loader\'s limit before the image build',
                  res.describe())
    res, out = c.initrd(root, '6.1.0-test', '-z', 'zstd', src=junk)
    c.t.check(res.rc == 1 and 'Linux 6.10' in res.err.decode(),
              'a kernel refusal comes before the image build', res.describe())
    # without -k, a directory INPUT's own lib/modules/KVER names the kernel
    # (before the build), also through a symlinked lib (after it)
    tree = c.kernel('6.1.0-test', FULL)
    res, out = c.initrd(tree, None, '-z', 'zstd', src=tree)
    c.t.check(res.rc == 1 and 'kernel 6.1.0-test' in res.err.decode(),
              'a directory INPUT\'s lib/modules/KVER is the kernel checked', res.describe())
    os.makedirs(os.path.join(tree, 'usr'))
    os.rename(os.path.join(tree, 'lib'), os.path.join(tree, 'usr', 'lib'))
    os.symlink('usr/lib', os.path.join(tree, 'lib'))
    res, out = c.initrd(tree, None, '-z', 'zstd', src=tree)
    c.t.check(res.rc == 1 and 'kernel 6.1.0-test' in res.err.decode(),
              'a directory INPUT with lib -> usr/lib: the same kernel checked',
              res.describe())
    # the loader's paths are bounded by construction: module names are cut
    # at 63 bytes (/eroot/modules/NAME.ko), the images' names are fixed


# --dax: FS_DAX, a pmem block device and a provider (virtio-pmem, memmap=)
DAX = with_(FULL, FS_DAX='y', LIBNVDIMM='m', BLK_DEV_PMEM='m', VIRTIO_PMEM='m',
            X86_PMEM_LEGACY='m')
DAX_FILES = {'erofs': [], 'overlay': [], 'loop': [], 'libnvdimm': [],
             'nd_btt': ['libnvdimm'], 'nd_pmem': ['nd_btt', 'libnvdimm'], 'nd_virtio': [],
             'virtio_pmem': ['nd_virtio', 'libnvdimm'], 'nd_e820': ['libnvdimm']}


def test_dax(c):
    """--dax: the kernel's DAX needs refused in one line each, with neither
    the initrd nor the DAX image left; the modules of each provider the
    kernel has, optional; no loop without a --layer; the configuration's
    dax-image line names the image's SHA-256 and padded size."""
    image = os.path.join(c.base, 'dax.erofs')
    for what, kver, config, words in (
            ('--dax on 5.10', '5.10.0-test', DAX, ['--dax', 'Linux 5.15']),
            ('--dax without CONFIG_FS_DAX', '6.1.0-test', with_(DAX, FS_DAX=None),
             ['--dax', 'CONFIG_FS_DAX']),
            ('--dax without CONFIG_BLK_DEV_PMEM', '6.1.0-test', with_(DAX, BLK_DEV_PMEM=None),
             ['--dax', 'CONFIG_BLK_DEV_PMEM']),
            ('--dax with neither provider', '6.12.9-test',
             with_(DAX, VIRTIO_PMEM=None, X86_PMEM_LEGACY=None),
             ['--dax', 'CONFIG_VIRTIO_PMEM', 'CONFIG_X86_PMEM_LEGACY']),
            ('--dax and a --layer on 6.1 without a loop driver', '6.1.0-test',
             with_(DAX, BLK_DEV_LOOP=None), ['a --layer image', 'CONFIG_BLK_DEV_LOOP'])):
        opts = ['--dax', image]
        if 'layer' in what:
            layer = os.path.join(c.base, 'dax-layer.erofs')
            E.must(c.t, E.eroot('mkfs', '-q', layer, c.src), 'a layer image')
            opts += ['--layer', layer]
        c.refused(what, kver, config, opts, words, files=DAX_FILES)
        c.t.check(not os.path.exists(image) and
                  not [n for n in os.listdir(c.base) if n.startswith('dax.erofs.')],
                  what + ': no DAX image, no temporary file')
    # 6.1 needs no loop driver for the DAX image alone; -z defaults to none
    got = c.accepted('--dax on 6.1 without a loop driver', '6.1.0-test',
                     with_(DAX, BLK_DEV_LOOP=None), ['--dax', image], files=DAX_FILES)
    if got:
        mods, config = got
        c.t.check(mods == {'erofs', 'overlay', 'libnvdimm', 'nd_btt', 'nd_pmem', 'nd_virtio',
                           'virtio_pmem', 'nd_e820'},
                  '--dax: the pmem driver and both providers packed, no loop', sorted(mods))
        # what one provider alone adds is loaded only when its device shows
        for name, only in ((b'virtio_pmem', b'for-virtio-pmem'),
                           (b'nd_virtio', b'for-virtio-pmem'), (b'nd_e820', b'for-e820')):
            c.t.check(re.search(rb'^module /eroot/modules/%s\.ko [0-9a-f]{64} optional %s$' %
                                (name, only), config, re.M),
                      '--dax: %s is optional (one provider suffices), %s' %
                      (name.decode(), only.decode()), config.decode())
        for name in (b'libnvdimm', b'nd_btt'):
            c.t.check(re.search(rb'^module /eroot/modules/%s\.ko [0-9a-f]{64}$' % name,
                                config, re.M),
                      '--dax: %s, which nd_pmem needs, is always loaded' % name.decode(),
                      config.decode())
        c.t.check(re.search(rb'^module /eroot/modules/nd_pmem\.ko [0-9a-f]{64}$', config,
                            re.M), '--dax: nd_pmem is required', config.decode())
        data = E.read_file(image)
        line = b'dax-image %s %d\n' % (hashlib.sha256(data).hexdigest().encode(), len(data))
        c.t.check(line in config and b'\nimage ' not in config,
                  '--dax: one dax-image line, the image\'s SHA-256 and size, no image line',
                  config.decode())
        c.t.check(len(data) % (2 << 20) == 0, '--dax: the image padded to 2 MiB (%d)' %
                  len(data))
        info = E.eroot('info', '--json', image)
        c.t.check(info.rc == 0 and json.loads(info.out)['compression'] == [],
                  '--dax: uncompressed unless -z says', info.describe())
    # one provider: the other's module is not packed
    got = c.accepted('--dax with virtio-pmem alone', '6.12.9-test',
                     with_(DAX, X86_PMEM_LEGACY=None), ['--dax', image], files=DAX_FILES)
    if got:
        c.t.check('nd_e820' not in got[0] and 'virtio_pmem' in got[0],
                  '--dax, no CONFIG_X86_PMEM_LEGACY: nd_e820 not packed', sorted(got[0]))
    got = c.accepted('--dax -z lz4hc', '6.12.9-test', DAX, ['--dax', image, '-z', 'lz4hc'],
                     files=DAX_FILES)
    if got:
        info = E.eroot('info', '--json', image)
        c.t.check(info.rc == 0 and json.loads(info.out)['compression'] != [],
                  '--dax -z lz4hc: the image is compressed', info.describe())
    root = c.kernel('6.12.9-test', DAX, files=DAX_FILES)
    res, out = c.initrd(root, '6.12.9-test', '--dax', os.path.join(c.base, 'out-%d.img' % c.n))
    if E.sane_failure(c.t, res, '--dax naming OUTPUT', 1, command='initrd'):
        c.t.check('two files' in res.err.decode(), '--dax naming OUTPUT: refused',
                  res.describe())


def test_real_kernel(c):
    """Debian 12's 6.1 cloud kernel, if the debian-root fixture is cached."""
    if not os.path.exists(os.path.join(boot.fixtures_dir(), 'root.done')):
        print('note: the debian-root fixture is not cached in %s: Debian\'s 6.1 kernel '
              'is not tried' % boot.fixtures_dir(), flush=True)
        return
    fx = boot.fixture('debian-root', 'initramfs-tools')
    root, kver = fx['ROOT'], fx['KVER']
    for algo in ('zstd', 'deflate'):
        res, out = c.initrd(root, kver, '-z', algo)
        if E.sane_failure(c.t, res, 'Debian %s: -z %s' % (kver, algo), 1, command='initrd'):
            c.t.check(('-z %s: kernel %s cannot read it' % (algo, kver)) in res.err.decode(),
                      'Debian %s: -z %s refused, naming the kernel' % (kver, algo),
                      res.describe())
    res, out = c.initrd(root, kver, '-z', 'lz4hc')
    if E.must(c.t, res, 'Debian %s: -z lz4hc' % kver):
        names = {e[2] for e in newc_entries(E.read_file(out))}
        c.t.check({b'eroot/modules/erofs.ko', b'eroot/modules/overlay.ko',
                   b'eroot/modules/loop.ko'} <= names,
                  'Debian %s: erofs, overlay and loop packed (all =m)' % kver, sorted(names))
        c.t.check(not res.err, 'Debian %s: no warning (its /boot/config-%s was read)' %
                  (kver, kver), res.describe())
    res, out = c.initrd(root, kver, '--dax', os.path.join(c.base, 'debian-dax.erofs'))
    if E.must(c.t, res, 'Debian %s: --dax' % kver):
        names = {e[2] for e in newc_entries(E.read_file(out))}
        want = {b'eroot/modules/%s.ko' % m for m in (b'erofs', b'overlay', b'nd_pmem',
                                                     b'virtio_pci', b'virtio_pmem', b'nd_e820')}
        c.t.check(want <= names and b'eroot/modules/loop.ko' not in names,
                  'Debian %s --dax: nd_pmem, virtio_pci (=m in 6.1), virtio_pmem and nd_e820 '
                  'packed, no loop' % kver, sorted(names))


def main():
    t = E.Checker('initrd-kernel')
    base = E.scratch('initrd-kernel')
    src = os.path.join(base, 'src')
    os.makedirs(src)
    E.write_file(os.path.join(src, 'hello'), b'hello\n' * 1000)
    c = Case(t, base, src)
    for test in (test_compression, test_mounting, test_blocks, test_layers, test_builtin,
                 test_config_sources, test_own_output, test_limits, test_dax, test_real_kernel):
        test(c)
        print('done: %s' % test.__name__, flush=True)
    t.exit()


if __name__ == '__main__':
    main()
