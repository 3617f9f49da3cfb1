"""Shared helpers of eroot's integration tests (standard library only).

Tests get their tools from the environment that tests/meson.build sets:
EROOT (the CLI), IMAGE_MANIFEST (tests/image-manifest.c) and SCRATCH (a
directory in the build tree for scratch space; never /tmp, whose tmpfs lacks
features).  Exit status follows meson: 0 pass, 1 fail, 77 skip.
"""
import atexit
import contextlib
import os
import shutil
import signal
import struct
import subprocess
import sys

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TESTS_DIR)
import manifest as manifest_mod  # noqa: E402

PYTHON = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else sys.executable
SKIP = 77
SANITIZER_MARKS = (b'AddressSanitizer', b'LeakSanitizer', b'runtime error:',
                   b'UndefinedBehaviorSanitizer', b'MemorySanitizer')


def env_path(name):
    value = os.environ.get(name)
    if not value:
        sys.exit('%s is not set (run the tests through meson)' % name)
    return value


EROOT = os.environ.get('EROOT', '')
IMAGE_MANIFEST = os.environ.get('IMAGE_MANIFEST', '')


_state = {'passed': False}   # set when the test passed or skipped


def skip(reason):
    _state['passed'] = True
    print('SKIP: ' + reason, flush=True)
    sys.exit(SKIP)


def require_root():
    if os.geteuid() != 0:
        skip('needs root (owners, device nodes, mounts)')


def require_kernel_erofs():
    with open('/proc/filesystems') as f:
        if 'erofs' in f.read().split():
            return
    subprocess.run(['modprobe', 'erofs'], stderr=subprocess.DEVNULL)
    with open('/proc/filesystems') as f:
        if 'erofs' not in f.read().split():
            skip('the kernel has no erofs (/proc/filesystems)')


def _term(signum, frame):
    # meson's timeout sends SIGTERM: turn it into an exception so that
    # cleanups (umount!) run.
    raise SystemExit('killed by signal %d' % signum)


signal.signal(signal.SIGTERM, _term)
signal.signal(signal.SIGINT, _term)


class Checker:
    """Collects failures so one run reports all of them."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.passes = 0

    def check(self, cond, what, detail=''):
        if cond:
            self.passes += 1
            return True
        self.failures.append(what)
        print('FAIL: %s' % what, flush=True)
        if detail:
            print('      ' + str(detail).replace('\n', '\n      '), flush=True)
        return False

    def ok(self, what):
        print('ok: ' + what, flush=True)

    def exit(self):
        if self.failures:
            print('%s: %d check(s) failed, %d passed' %
                  (self.name, len(self.failures), self.passes), flush=True)
            sys.exit(1)
        if not self.passes:
            print('%s: no check ran' % self.name, flush=True)
            sys.exit(1)
        print('%s: all %d checks passed' % (self.name, self.passes), flush=True)
        _state['passed'] = True
        sys.exit(0)


# ------------------------------------------------------------ processes

class Result:
    def __init__(self, cmd, rc, out, err, timed_out=False):
        self.cmd, self.rc, self.out, self.err = cmd, rc, out, err
        self.timed_out = timed_out

    def sanitizer(self):
        return any(m in self.err for m in SANITIZER_MARKS)

    def describe(self):
        cmd = ' '.join(os.fsdecode(c) if isinstance(c, bytes) else str(c)
                       for c in self.cmd)
        err = self.err.decode(errors='replace').strip()
        if len(err) > 3000:
            err = err[:3000] + '...'
        state = 'TIMEOUT' if self.timed_out else 'exit %s' % self.rc
        return '$ %s\n%s\nstderr: %s' % (cmd, state, err or '(empty)')

    def err_lines(self):
        return self.err.decode(errors='replace').splitlines()


def run(cmd, timeout=120, env=None, stdin=subprocess.DEVNULL, **kw):
    full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        p = subprocess.run(cmd, stdin=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=full_env,
                           timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        return Result(cmd, None, e.stdout or b'', e.stderr or b'', True)
    return Result(cmd, p.returncode, p.stdout, p.stderr)


def eroot(*args, **kw):
    if not EROOT:
        env_path('EROOT')
    args = [a if isinstance(a, bytes) else str(a) for a in args]
    # EROOT_TEST_FSCK_WORKERS=N: every test's fsck with -j N
    workers = os.environ.get('EROOT_TEST_FSCK_WORKERS')
    if workers and args[:1] == ['fsck']:
        args = ['fsck', '-j', workers] + args[1:]
    return run([EROOT] + args, **kw)


def must(t, res, what, codes=(0,)):
    """Check that a command exited with one of @codes and no sanitizer."""
    good = (not res.timed_out and res.rc in codes and not res.sanitizer())
    t.check(good, '%s (expected exit %s)' % (what, '/'.join(map(str, codes))),
            res.describe())
    return good


def sane_failure(t, res, what, code, one_line=True, command=None):
    """A failing command: the documented exit code, an error message
    "eroot COMMAND: ..." (exactly one line unless @one_line is false, then
    the first line), no sanitizer report, no signal, no hang."""
    ok = must(t, res, what, (code,))
    lines = res.err_lines()
    prefix = 'eroot %s: ' % command if command else 'eroot'
    if one_line:
        ok &= t.check(len(lines) == 1 and lines[0].startswith(prefix),
                      '%s: one line "%s..." on stderr' % (what, prefix),
                      res.describe())
    else:
        ok &= t.check(lines and lines[0].startswith(prefix),
                      '%s: stderr starts with "%s"' % (what, prefix),
                      res.describe())
    return ok


# ------------------------------------------------------------ scratch

def _mounts_under(path):
    path = os.path.realpath(path)
    found = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            mnt = line.split()[4].encode().decode('unicode_escape')
            if mnt == path or mnt.startswith(path + '/'):
                found.append(mnt)
    return sorted(found, key=len, reverse=True)


def umount_all(path):
    for mnt in _mounts_under(path):
        subprocess.run(['umount', mnt], stderr=subprocess.DEVNULL)
        if mnt in _mounts_under(path):
            subprocess.run(['umount', '-l', mnt], stderr=subprocess.DEVNULL)


def _rmtree(path):
    # Trees hold mode-0 directories and immutable-free files; as root
    # shutil copes, but make sure nothing is mounted below first.
    umount_all(path)
    shutil.rmtree(path, ignore_errors=True)


def scratch(name):
    """A fresh scratch directory for test @name.  Mounts below it are undone
    at exit whatever happens; the directory is removed when the test
    passed and kept for inspection when it failed."""
    base = env_path('SCRATCH')
    path = os.path.join(os.path.abspath(base), name)
    if os.path.exists(path):
        _rmtree(path)
    os.makedirs(path)

    def cleanup():
        umount_all(path)
        if _state['passed']:
            _rmtree(path)
        else:
            print('scratch kept in %s' % path, flush=True)
    atexit.register(cleanup)
    return path


@contextlib.contextmanager
def mounted(image, mnt):
    """Kernel-mount @image read-only on @mnt (file-backed; loop fallback)."""
    os.makedirs(mnt, exist_ok=True)
    loop = None
    res = run(['mount', '-t', 'erofs', '-o', 'ro', image, mnt])
    if res.rc != 0:
        lo = run(['losetup', '-r', '-f', '--show', image])
        if lo.rc != 0:
            raise RuntimeError('cannot mount %s:\n%s\n%s' %
                               (image, res.describe(), lo.describe()))
        loop = lo.out.decode().strip()
        res2 = run(['mount', '-t', 'erofs', '-o', 'ro', loop, mnt])
        if res2.rc != 0:
            run(['losetup', '-d', loop])
            raise RuntimeError('cannot mount %s:\n%s\n%s' %
                               (image, res.describe(), res2.describe()))
    try:
        yield mnt
    finally:
        r = run(['umount', mnt])
        if r.rc != 0:
            run(['umount', '-l', mnt])
        if loop:
            run(['losetup', '-d', loop])


@contextlib.contextmanager
def try_mount(t, image, mnt, what):
    """mounted() that records a failure and yields None instead of raising."""
    with contextlib.ExitStack() as stack:
        try:
            path = stack.enter_context(mounted(image, mnt))
        except RuntimeError as e:
            t.check(False, what, e)
            path = None
        else:
            t.check(True, what)
        yield path


# ------------------------------------------------------------ trees

NOBODY = 65534
AS_NOBODY = ['setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY,
             '--clear-groups']


def nobody_can_reach(path):
    """Can uid 65534 traverse down to @path?  (Not when the build tree is
    under a private directory such as /root.)"""
    return run(AS_NOBODY + ['test', '-x', path]).rc == 0


def gentree(dest, kind, seed=1, big=False):
    cmd = [PYTHON, os.path.join(TESTS_DIR, 'gentree.py'), dest, '--kind',
           kind, '--seed', str(seed)] + (['--big'] if big else [])
    res = run(cmd, timeout=1800)
    if res.rc != 0:
        raise RuntimeError('gentree failed:\n' + res.describe())


def manifest(path):
    return manifest_mod.manifest(path)


def image_manifest(image, offset=None, timeout=600):
    """(Result, lines) of tests/image-manifest on @image."""
    exe = IMAGE_MANIFEST or env_path('IMAGE_MANIFEST')
    cmd = [exe] + (['--offset=%d' % offset] if offset is not None else []) + \
        [image]
    res = run(cmd, timeout=timeout)
    return res, res.out.decode('ascii', errors='replace').splitlines()


def same_manifest(t, expected, actual, what):
    lines = manifest_mod.diff(expected, actual)
    return t.check(not lines, what, '\n'.join(lines))


def parse_line(line):
    """A manifest line as (path, {field: value})."""
    path, rest = line.split(' ', 1)
    fields = {}
    for item in rest.split(' '):
        k, v = item.split('=', 1)
        fields[k] = v
    return path, fields


def format_line(path, fields):
    return ' '.join([path] + ['%s=%s' % kv for kv in fields.items()])


def mkfs(t, image, source, *opts, what=None, env=None, timeout=900):
    res = eroot('mkfs', '-q', *opts, image, source, env=env, timeout=timeout)
    return must(t, res, what or 'eroot mkfs %s' % ' '.join(map(str, opts)))


# ------------------------------------------------------------ on-disk format

EROFS_MAGIC = 0xE0F5E1E2
SB_OFFSET = 1024
FEATURE_COMPAT_SB_CHKSUM = 0x1
LAYOUT_FLAT_PLAIN, LAYOUT_FLAT_INLINE = 0, 2
DIRENT_SIZE = 12


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c_raw(data, crc=0xFFFFFFFF):
    """The kernel's crc32c(seed, ...): no final inversion."""
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


class Inode:
    pass


class Erofs:
    """Just enough of the EROFS format to find metadata in a test image."""

    def __init__(self, data):
        self.data = data
        sb = data[SB_OFFSET:SB_OFFSET + 128]
        (self.magic, self.checksum, self.feature_compat, self.blkszbits,
         self.extslots, self.root_nid, self.inos, self.build_time,
         self.build_time_nsec, self.blocks, self.meta_blkaddr,
         self.xattr_blkaddr) = struct.unpack_from('<IIIBBHQQIIII', sb)
        self.feature_incompat = struct.unpack_from('<I', sb, 80)[0]
        self.bs = 1 << self.blkszbits

    def sb_checksum(self, data=None):
        """The superblock checksum the kernel expects for @data."""
        data = bytearray(self.data if data is None else data)
        length = self.bs - SB_OFFSET if self.bs > SB_OFFSET else self.bs
        area = data[SB_OFFSET:SB_OFFSET + length]
        area[4:8] = b'\0\0\0\0'
        return crc32c_raw(area)

    def inode_offset(self, nid):
        return self.meta_blkaddr * self.bs + nid * 32

    def inode(self, nid):
        off = self.inode_offset(nid)
        d = self.data
        ino = Inode()
        ino.nid, ino.off = nid, off
        fmt, ino.xattr_icount, ino.mode = struct.unpack_from('<HHH', d, off)
        ino.extended = fmt & 1
        ino.layout = (fmt >> 1) & 7
        if ino.extended:
            ino.size, ino.u = struct.unpack_from('<QI', d, off + 8)
            ino.nlink = struct.unpack_from('<I', d, off + 44)[0]
            base = 64
        else:
            ino.nlink, ino.size, _, ino.u = struct.unpack_from('<HIII', d, off + 6)
            base = 32
        xsize = 12 + (ino.xattr_icount - 1) * 4 if ino.xattr_icount else 0
        ino.isize = base + xsize
        ino.inline_off = off + ino.isize
        return ino

    def data_ranges(self, ino):
        """(offset, length) of each block of a flat inode's data."""
        bs, size = self.bs, ino.size
        nblocks = (size + bs - 1) // bs
        out = []
        for i in range(nblocks):
            length = min(bs, size - i * bs)
            if ino.layout == LAYOUT_FLAT_INLINE and i == nblocks - 1 and \
                    size % bs:
                out.append((ino.inline_off, length))
            else:
                out.append(((ino.u + i) * bs, length))
        return out

    def dirents(self, ino):
        """[(name, nid, type, dirent offset, block offset, block length)]"""
        if ino.layout not in (LAYOUT_FLAT_PLAIN, LAYOUT_FLAT_INLINE):
            return []
        out = []
        for boff, blen in self.data_ranges(ino):
            block = self.data[boff:boff + blen]
            count = struct.unpack_from('<H', block, 8)[0] // DIRENT_SIZE
            ents = [struct.unpack_from('<QHB', block, i * DIRENT_SIZE)
                    for i in range(count)]
            for i, (nid, nameoff, ftype) in enumerate(ents):
                end = ents[i + 1][1] if i + 1 < count else blen
                name = block[nameoff:end]
                if i + 1 == count:
                    name = name.split(b'\0', 1)[0]
                out.append((name, nid, ftype, boff + i * DIRENT_SIZE,
                            boff, blen))
        return out

    def walk(self):
        """Yield (path, Inode, parent dirent offset or None)."""
        seen = set()
        stack = [(b'', self.root_nid, None)]
        while stack:
            path, nid, deoff = stack.pop()
            ino = self.inode(nid)
            yield path, ino, deoff
            if (ino.mode & 0o170000) != 0o040000 or nid in seen:
                continue
            seen.add(nid)
            for name, cnid, _, off, _, _ in self.dirents(ino):
                if name not in (b'.', b'..'):
                    stack.append((path + b'/' + name, cnid, off))

    def metadata_ranges(self):
        """Byte ranges holding metadata: superblock, inodes with their
        inline parts, directory blocks, the shared xattr area's start."""
        ranges = [(SB_OFFSET, 128)]
        for _, ino, _ in self.walk():
            tail = ino.size % self.bs if ino.layout == LAYOUT_FLAT_INLINE else 0
            ranges.append((ino.off, ino.isize + tail))
            if (ino.mode & 0o170000) == 0o040000:
                ranges.extend(r for r in self.data_ranges(ino)
                              if r[0] != ino.inline_off)
        if self.xattr_blkaddr:
            ranges.append((self.xattr_blkaddr * self.bs, self.bs))
        return [(o, n) for o, n in ranges if n > 0 and o + n <= len(self.data)]


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


def write_file(path, data):
    with open(path, 'wb') as f:
        f.write(data)
