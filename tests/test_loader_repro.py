#!/usr/bin/python3
"""The loader is reproducible: eroot-init built from this source tree in two
build directories at different paths and depths has the same bytes, and
names neither directory nor its sources (debug info and symbol tables
would).  Only the eroot-init target is built (meson setup + ninja)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eroottest as et  # noqa: E402

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join('tools', 'eroot-init', 'eroot-init')


def build(t, builddir):
    """eroot-init built in @builddir; its bytes, or None."""
    steps = (['meson', 'setup', builddir, SOURCE],
             ['ninja', '-C', builddir, TARGET])
    for cmd in steps:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, timeout=600)
        if not t.check(res.returncode == 0, '%s in %s' % (cmd[0], builddir),
                       res.stdout.decode(errors='replace')[-3000:]):
            return None
    with open(os.path.join(builddir, TARGET), 'rb') as f:
        return f.read()


def main():
    for tool in ('meson', 'ninja'):
        if not shutil.which(tool):
            et.skip('%s is not installed' % tool)
    t = et.Checker('loader-reproducible')
    work = et.scratch('loader-reproducible')
    dirs = [os.path.join(work, 'a'),
            os.path.join(work, 'somewhere', 'much', 'deeper', 'build-other')]
    loaders = [build(t, d) for d in dirs]
    if None in loaders:
        t.exit()
    a, b = loaders
    t.check(a == b, 'eroot-init has the same bytes built in %s and %s' % tuple(dirs),
            '%d vs %d bytes' % (len(a), len(b)))
    # absolute paths, and the sources' names relative to the build directory
    for data, d in zip(loaders, dirs):
        for path in (d, SOURCE, 'eroot-init/main.c'):
            t.check(path.encode() not in data, 'eroot-init built in %s does not name %s'
                    % (d, path))
    t.exit()


if __name__ == '__main__':
    main()
