#!/usr/bin/python3
"""The builder's folders depend on each other in one direction only
(docs/design.md): a file in one folder includes the headers of the folders
it may call, and those includes must follow

    source -> tree;  plan -> tree, source;  write -> tree, plan;
    place -> tree, plan, source, write

(the driver build.c and the shared builder.h/files.h sit above and below
them).  An include against that order is a circular call in the making."""
import glob
import os
import re

import eroottest as E

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILDER = os.path.join(SOURCE_ROOT, 'lib', 'builder')
ALLOWED = {
    'tree': set(),
    'source': {'tree'},
    'plan': {'tree', 'source'},
    'write': {'tree', 'plan'},
    'place': {'tree', 'plan', 'source', 'write'},
}


def edges():
    """{(from folder, to folder): [file, ...]} from the #include lines."""
    found = {}
    for path in sorted(glob.glob(os.path.join(BUILDER, '*', '*.[ch]'))):
        folder = os.path.basename(os.path.dirname(path))
        with open(path) as f:
            for m in re.finditer(r'^#include "builder/(\w+)/', f.read(), re.M):
                if m.group(1) != folder:
                    found.setdefault((folder, m.group(1)), []).append(
                        os.path.relpath(path, BUILDER))
    return found


def main():
    t = E.Checker('layers')
    folders = sorted(d for d in os.listdir(BUILDER) if os.path.isdir(os.path.join(BUILDER, d)))
    t.check(folders == sorted(ALLOWED), 'the builder has the documented folders',
            'found: %s' % ' '.join(folders))
    found = edges()
    t.check(found, 'the folders include each other at all (the scan works)')
    for (src, dst), files in sorted(found.items()):
        t.check(dst in ALLOWED.get(src, set()), '%s/ may include %s/' % (src, dst),
                ' '.join(files))
    t.exit()


if __name__ == '__main__':
    main()
