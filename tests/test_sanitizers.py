#!/usr/bin/python3
"""The test build is really instrumented: a probe built like every test binary
has its heap overflow, leak and undefined shift caught, and eroot, liberoot,
image-manifest and the unit tests carry the ASan and UBSan runtime hooks.  A
build configured without -Db_sanitize=address,undefined fails here."""
import os
import subprocess

import eroottest as E

PROBE = E.env_path('SANITIZER_PROBE')


def caught(t, kind, mark):
    # The probe runs with the test environment's ASAN/UBSAN_OPTIONS
    # (halt_on_error, abort_on_error): the bug must stop it with a report.
    res = E.run([PROBE, kind], timeout=60)
    t.check(res.rc not in (0, None) and mark in res.err,
            'the probe\'s %s bug is reported (%s)' % (kind, mark.decode()),
            res.describe())


def dynamic_symbols(path):
    p = subprocess.run(['nm', '-D', '--defined-only', path], capture_output=True)
    q = subprocess.run(['nm', '-D', '--undefined-only', path], capture_output=True)
    return (p.stdout + q.stdout).decode(errors='replace')


def instrumented(t, path):
    syms = dynamic_symbols(path)
    t.check('__asan_report_load' in syms or '__asan_load' in syms,
            '%s calls into ASan' % os.path.basename(path))
    t.check('__ubsan_handle_' in syms,
            '%s calls into UBSan' % os.path.basename(path))


def main():
    t = E.Checker('sanitizers')
    for var in ('ASAN_OPTIONS', 'UBSAN_OPTIONS'):
        t.check('halt_on_error=1' in os.environ.get(var, ''),
                '%s stops at the first report' % var, os.environ.get(var))
    caught(t, 'heap', b'AddressSanitizer: heap-buffer-overflow')
    caught(t, 'leak', b'LeakSanitizer: detected memory leaks')
    caught(t, 'shift', b'runtime error: shift exponent')
    res = E.run([PROBE, 'none'], timeout=60)
    t.check(res.rc == 2 and not res.sanitizer(), 'the probe is quiet without a bug',
            res.describe())

    eroot = E.env_path('EROOT')
    build = os.path.dirname(os.path.dirname(os.path.dirname(eroot)))
    for path in (eroot, E.env_path('IMAGE_MANIFEST'),
                 os.path.join(build, 'lib', 'liberoot.so'),
                 os.path.join(build, 'tests', 'unit', 'test_reader_mem')):
        if t.check(os.path.exists(path), '%s exists' % path):
            instrumented(t, path)
    # The runtime is active in eroot itself, not only linked.
    res = E.run([eroot, '--version'], env={'ASAN_OPTIONS': 'help=1'}, timeout=60)
    t.check(b'Available flags for AddressSanitizer' in res.out + res.err,
            'eroot starts the ASan runtime', res.describe())
    t.exit()


if __name__ == '__main__':
    main()
