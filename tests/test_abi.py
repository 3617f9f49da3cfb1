#!/usr/bin/python3
"""liberoot exports its API and nothing else: every defined dynamic symbol is
an eroot_* function declared in a public header (include/eroot/), every
function those headers declare is exported, each carries a symbol version of
lib/liberoot.map, and the soname is liberoot.so.MAJOR (docs/design.md, ABI)."""
import glob
import os
import re
import subprocess

import eroottest as E

LIB = E.env_path('LIBEROOT')
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = os.environ.get('EROOT_VERSION', '')


def exported(path):
    """{name: version} of the defined dynamic symbols (objdump -T)."""
    out = subprocess.run(['objdump', '-T', path], capture_output=True, check=True).stdout
    syms = {}
    for line in out.decode().splitlines():
        # ADDR FLAGS SECTION SIZE VERSION NAME; undefined ones are in *UND*
        m = re.match(r'^[0-9a-f]+\s.*\s(\S+)\s+[0-9a-f]+\s+(\(?\S+\)?)\s+(\S+)$', line)
        if not m or m.group(1) == '*UND*':
            continue
        syms[m.group(3)] = m.group(2).strip('()')
    return syms


def declared():
    """Function names declared in the public headers."""
    names = set()
    for header in glob.glob(os.path.join(SOURCE_ROOT, 'include', 'eroot', '*.h')):
        with open(header) as f:
            text = re.sub(r'/\*.*?\*/', '', f.read(), flags=re.S)
        names |= set(re.findall(r'\b(eroot_\w+)\s*\(', text))
    return names


def map_nodes():
    with open(os.path.join(SOURCE_ROOT, 'lib', 'liberoot.map')) as f:
        return set(re.findall(r'^(EROOT_[\w.]+)\s*\{', f.read(), re.M))


def main():
    t = E.Checker('abi')
    syms = exported(LIB)
    nodes = map_nodes()
    funcs = {n: v for n, v in syms.items() if n not in nodes}
    t.check(len(funcs) >= 20, 'liberoot exports its API (%d symbols)' % len(funcs))
    stray = sorted(n for n in funcs if not n.startswith('eroot_'))
    t.check(not stray, 'only eroot_* symbols are exported', ' '.join(stray[:40]))
    api = declared()
    t.check(not sorted(set(funcs) - api),
            'every exported symbol is declared in include/eroot/',
            ' '.join(sorted(set(funcs) - api)))
    t.check(not sorted(api - set(funcs)),
            'every function of include/eroot/ is exported',
            ' '.join(sorted(api - set(funcs))))
    unversioned = sorted(n for n, v in funcs.items() if v not in nodes)
    t.check(not unversioned, 'every symbol has a version of liberoot.map (%s)' %
            ', '.join(sorted(nodes)), ' '.join(unversioned[:20]))
    dyn = subprocess.run(['readelf', '-d', LIB], capture_output=True, check=True).stdout.decode()
    m = re.search(r'Library soname: \[(.*)\]', dyn)
    want = 'liberoot.so.' + VERSION.split('.')[0]
    t.check(m and m.group(1) == want, 'the soname is %s' % want, dyn)
    t.exit()


if __name__ == '__main__':
    main()
