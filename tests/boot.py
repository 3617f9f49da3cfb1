"""QEMU boots for eroot's tests (standard library only).

KVM does not work on the test machines, so every boot is TCG (see the boot-lab
notes).  The guest's console is ttyS0, read from a pipe line by line with the
host time of each line; the verdict comes on a second serial port, ttyS1,
which only a running userspace can write: a kernel panic or a hang never looks
like a pass.  The verdict line is "EROOT-... key=value...".

    root_disk(root_dir, image)   ext4 image of a root tree + /eroot-marker
    boot(kernel, initrd, disk)   one boot -> Boot (console, verdict, timings)
    kernels()                    [Kernel]: '6.1' (debian-root fixture, bookworm
                                 QEMU), '6.12' (boot-kit, QEMU 10) and '7.3'
                                 (kernel-7, QEMU 10)
"""
import collections
import hashlib
import os
import selectors
import shlex
import shutil
import subprocess
import time

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(TESTS_DIR, 'fixtures')
VERDICT_OK = 'EROOT-ROOT-OK'

# init= of a root_disk() boot.  dash, nothing but the root's coreutils: the
# initrd under test has already mounted the root and handed over /dev.  It
# writes one line to ttyS1 and powers off through sysrq (minbase has no init
# system, hence no poweroff command); PID 1 must not exit meanwhile, or the
# kernel panics.
MARKER_SCRIPT = r'''#!/bin/sh
# Written by tests/boot.py: the root was mounted; report and power off.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
[ -r /proc/meminfo ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -c /dev/ttyS1 ] || mount -t devtmpfs devtmpfs /dev
read -r up _ </proc/uptime
# A loop device lets go of its file in a work queue, a moment after its last
# user (an eroot initrd's image, through systemd's switch-root): memory is
# measured once that is done (loopwait: tenths of a second it took).
loopwait=0
while grep -qs /eroot/ /sys/block/loop*/loop/backing_file && [ $loopwait -lt 300 ]; do
	sleep 0.1
	loopwait=$((loopwait + 1))
done
meminfo() {
	while read -r key value _; do
		case $key in
		MemTotal:) total=$value ;;
		MemAvailable:) avail=$value ;;
		MemFree:) free=$value ;;
		Shmem:) shmem=$value ;;
		Unevictable:) unevictable=$value ;;
		AnonPages:) anon=$value ;;
		Slab:) slab=$value ;;
		esac
	done </proc/meminfo
	# Free pages parked on the per-CPU lists, which MemAvailable leaves out
	# (6.1 keeps ~32 MiB there after freeing an initrd, or not: its
	# MemAvailable then moves by that much between identical boots).
	pcp=0
	while read -r key value _; do
		if [ "$key" = count: ]; then pcp=$((pcp + value)); fi
	done </proc/zoneinfo
	pcp=$((pcp * 4))
}
# The file itself is freed a moment after the loop device drops it (a
# deferred fput), longer on a slow guest: measure once MemAvailable has
# stopped rising (by less than 1 MiB a 0.2 s sample, three samples in a
# row; settle: samples it took, at most 50).
meminfo
settle=0 still=0
while [ $settle -lt 50 ] && [ $still -lt 3 ]; do
	last=$avail
	sleep 0.2
	meminfo
	settle=$((settle + 1))
	if [ $avail -lt $((last + 1024)) ]; then still=$((still + 1)); else still=0; fi
done
echo "EROOT-ROOT-OK uptime=$up memtotal=$total memavail=$avail memfree=$free shmem=$shmem unevictable=$unevictable anon=$anon slab=$slab pcp=$pcp loopwait=$loopwait settle=$settle" >/dev/ttyS1
sync
echo o >/proc/sysrq-trigger
while :; do sleep 60; done
'''


class FixtureError(Exception):
    pass


def fixtures_dir():
    """The fixture cache: $EROOT_FIXTURES, else build-test/fixtures (next to
    the tests' scratch directory when run through meson)."""
    if os.environ.get('EROOT_FIXTURES'):
        return os.environ['EROOT_FIXTURES']
    scratch = os.environ.get('SCRATCH')
    if scratch:  # BUILD/tests/scratch -> BUILD/fixtures
        return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(scratch))),
                            'fixtures')
    return os.path.join(os.path.dirname(TESTS_DIR), 'build-test', 'fixtures')


def fixture(name, *args, cache=None, timeout=1800):
    """Run tests/fixtures/NAME CACHE ARGS and return its KEY=VALUE lines as
    a dict (values unquoted as the shell would)."""
    cmd = [os.path.join(FIXTURES, name), cache or fixtures_dir()] + list(args)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FixtureError('%s: timed out after %d s' % (name, timeout)) from None
    if p.returncode != 0:
        raise FixtureError(p.stderr.decode(errors='replace').strip() or
                           '%s: exit %d' % (name, p.returncode))
    values = {}
    for line in p.stdout.decode().splitlines():
        key, _, value = line.partition('=')
        values[key] = shlex.split(value)[0] if value else ''
    return values


# ------------------------------------------------------------ root disks

def _cache_key(root_dir, marker):
    # The fixtures touch ROOT.done when a root is (re)built.
    root_dir = os.path.realpath(root_dir)
    stamp = root_dir + '.done' if os.path.exists(root_dir + '.done') else root_dir
    script = hashlib.sha256(MARKER_SCRIPT.encode()).hexdigest()[:16] if marker else '-'
    return '%s %d %s\n' % (root_dir, os.stat(stamp).st_mtime_ns, script)


def root_disk(root_dir, out_image, marker=True):
    """An ext4 image of the tree @root_dir, made without mounting (mke2fs -d;
    size: du + 30 % + 64 MiB), with an executable /eroot-marker (see
    MARKER_SCRIPT) when @marker.  Cached: rebuilt only when the root's
    marker file (ROOT.done) or the marker script changed.  Boot it
    read-only (boot() does): then one image serves every boot."""
    key = _cache_key(root_dir, marker)
    keyfile = out_image + '.key'
    try:
        with open(keyfile) as f:
            if f.read() == key and os.path.exists(out_image):
                return out_image
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(out_image)), exist_ok=True)
    du = subprocess.run(['du', '-s', '--block-size=1', root_dir], check=True,
                        stdout=subprocess.PIPE).stdout.split()[0]
    size_mib = (int(du) * 13 // 10 >> 20) + 64
    tmp = out_image + '.tmp'
    for f in (tmp, keyfile):
        if os.path.exists(f):
            os.unlink(f)
    try:
        _run(['mke2fs', '-q', '-F', '-t', 'ext4', '-L', 'eroot-root', '-d', root_dir,
              tmp, '%dM' % size_mib])
        if marker:
            script = tmp + '.marker'
            with open(script, 'w') as f:
                f.write(MARKER_SCRIPT)
            cmds = tmp + '.debugfs'
            with open(cmds, 'w') as f:
                f.write('rm /eroot-marker\nwrite %s /eroot-marker\n'
                        'sif /eroot-marker mode 0100755\nsif /eroot-marker uid 0\n'
                        'sif /eroot-marker gid 0\n' % script)
            try:
                _run(['debugfs', '-w', '-f', cmds, tmp])
            finally:
                os.unlink(script)
                os.unlink(cmds)
            # debugfs reports errors on stdout and exits 0: check the result.
            out = _run(['debugfs', '-R', 'stat /eroot-marker', tmp])
            if 'Mode:  0755' not in out or 'Size: %d' % len(MARKER_SCRIPT) not in out:
                raise RuntimeError('debugfs did not write /eroot-marker:\n' + out)
        os.replace(tmp, out_image)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    with open(keyfile, 'w') as f:
        f.write(key)
    return out_image


def _run(cmd):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out = p.stdout.decode(errors='replace')
    if p.returncode != 0:
        raise RuntimeError('$ %s\nexit %d\n%s' % (' '.join(cmd), p.returncode, out))
    return out


# ------------------------------------------------------------ booting

class Boot:
    """What one boot gave.  Times are host seconds since QEMU was started;
    a console line's time is when the host read it (the kernel replays its
    early lines when the serial console registers, so early times bunch)."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.lines = []          # [(seconds, console line)]
        self.serial = []         # [(seconds, ttyS1 line)]
        self.stderr = ''
        self.rc = None
        self.timed_out = False
        self.seconds = None      # QEMU start to exit
        self.verdict = None      # the first ttyS1 line, or None
        self.verdict_seconds = None
        self.fields = {}         # key=value of the verdict, numbers as numbers
        self.until_seconds = None   # boot(until=...): when its line came

    @property
    def console(self):
        return ''.join(line + '\n' for _, line in self.lines)

    def time_to(self, text):
        """Host seconds to the first console line containing @text, or None."""
        return next((t for t, line in self.lines if text in line), None)

    @property
    def ok(self):
        return bool(self.verdict and self.verdict.split()[0] == VERDICT_OK)

    def summary(self):
        state = 'TIMEOUT' if self.timed_out else 'exit %s' % self.rc
        up = self.fields.get('uptime')
        return '%s in %.2f s, verdict %s (host %s s, guest uptime %s s): %s' % (
            state, self.seconds, 'at' if self.verdict else 'missing',
            '%.2f' % self.verdict_seconds if self.verdict else '-', up or '-',
            self.verdict or '(none)')

    def describe(self, tail=40):
        """For failure messages: the command, the summary, the console's end."""
        lines = [line for _, line in self.lines[-tail:]]
        return '$ %s\n%s\nqemu stderr: %s\nconsole (last %d lines):\n%s' % (
            ' '.join(shlex.quote(c) for c in self.cmd), self.summary(),
            self.stderr.strip() or '(empty)', len(lines), '\n'.join(lines))


def _fields(verdict):
    out = {}
    for word in verdict.split()[1:]:
        key, sep, value = word.partition('=')
        if not sep:
            continue
        for conv in (int, float):
            try:
                value = conv(value)
                break
            except ValueError:
                pass
        out[key] = value
    return out


def boot(kernel, initrd, disk=None, append='', memory='1G', qemu=None,
         qemu_args=(), timeout=300, log_dir=None, until=None):
    """Boot @kernel with @initrd under QEMU TCG and wait for it to power off
    (-no-reboot, panic=-1: a panic ends the VM too) or for @timeout seconds
    (then QEMU is killed and timed_out is set).  With @disk, a raw image is
    attached read-only as /dev/vda and the kernel gets
    "root=/dev/vda ro init=/eroot-marker" (the root_disk() marker).  @append
    goes last on the command line.  @qemu defaults to the PATH's
    qemu-system-x86_64; @qemu_args are added (e.g. -L firmware dirs).  With
    @log_dir, console.log, ttyS1.log and qemu.err are written there.
    With @kernel None the firmware boots what @qemu_args attach (no
    -kernel, -initrd, -append) and the verdict is the first ttyS1 line
    starting with "EROOT-".  With @until, the first console line
    containing it ends the boot (QEMU is killed; until_seconds is set)."""
    qemu = qemu or shutil.which('qemu-system-x86_64') or 'qemu-system-x86_64'
    cmdline = 'console=ttyS0 panic=-1'
    if disk:
        cmdline += ' root=/dev/vda ro init=/eroot-marker'
    if append:
        cmdline += ' ' + append
    # ttyS1 goes to a pipe QEMU opens as /dev/fd/N, so that its line gets a
    # host time too and EOF comes when QEMU exits.
    ser_r, ser_w = os.pipe()
    cmd = [qemu, '-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', memory,
           '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
           '-monitor', 'none', '-serial', 'stdio', '-serial', 'file:/dev/fd/%d' % ser_w]
    if kernel:
        cmd += ['-kernel', kernel]
    if initrd:
        cmd += ['-initrd', initrd]
    if disk:
        cmd += ['-drive', 'file=%s,format=raw,if=virtio,readonly=on' % disk]
    if kernel:
        cmd += ['-append', cmdline]
    cmd += list(qemu_args)
    res = Boot(cmd)
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, pass_fds=(ser_w,))
    except OSError:
        os.close(ser_r)
        raise
    finally:
        os.close(ser_w)   # QEMU holds the only writer: EOF when it exits
    streams = {proc.stdout.fileno(): res.lines, ser_r: res.serial,
               proc.stderr.fileno(): None}
    partial = {fd: b'' for fd in streams}
    err = []
    sel = selectors.DefaultSelector()
    for fd in streams:
        sel.register(fd, selectors.EVENT_READ)
    try:
        deadline = t0 + timeout
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                res.timed_out = True
                proc.kill()
                break
            for key, _ in sel.select(left):
                fd = key.fd
                chunk = os.read(fd, 65536)
                now = time.monotonic() - t0
                if not chunk:
                    sel.unregister(fd)
                    chunk = b'\n' if partial[fd] else b''
                if streams[fd] is None:
                    err.append(chunk)
                    continue
                data = partial[fd] + chunk
                *done, partial[fd] = data.split(b'\n')
                for raw in done:
                    line = raw.decode(errors='replace').rstrip('\r')
                    streams[fd].append((now, line))
                    if (until and streams[fd] is res.lines and until in line and
                            res.until_seconds is None):
                        res.until_seconds = now
                        proc.kill()
        res.rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sel.close()
        os.close(ser_r)
        proc.stdout.close()
        proc.stderr.close()
    res.seconds = time.monotonic() - t0
    res.stderr = b''.join(err).decode(errors='replace')
    for t, line in res.serial:
        # firmware (OVMF) writes its console to every serial port: skip it
        if line.strip() and (kernel or line.startswith('EROOT-')):
            res.verdict, res.verdict_seconds = line.strip(), t
            res.fields = _fields(res.verdict)
            break
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
        for name, text in (('console.log', res.console),
                           ('ttyS1.log', ''.join(l + '\n' for _, l in res.serial)),
                           ('qemu.err', res.stderr)):
            with open(os.path.join(log_dir, name), 'w') as f:
                f.write(text)
    return res


# ------------------------------------------------------------ kernels

Kernel = collections.namedtuple('Kernel', 'name vmlinuz modules_dir kver qemu qemu_args')


def kernels(cache=None):
    """The kernels to boot, each with the QEMU to boot it with:
    '6.1': Debian 12's cloud kernel from the debian-root fixture (modules in
    the fixture's root), bookworm's QEMU; '6.12': the bookworm-backports
    cloud kernel from boot-kit, QEMU 10 (7.2 crashes 6.12 under TCG); '7.3':
    trixie-backports' cloud kernel from kernel-7, QEMU 10.
    The fixtures are built on first use; FixtureError if one fails."""
    root = fixture('debian-root', 'initramfs-tools', cache=cache)
    kit = fixture('boot-kit', cache=cache)
    k7 = fixture('kernel-7', cache=cache)
    qemu10_args = tuple(shlex.split(kit['QEMU10_ARGS']))
    return [
        Kernel(_series(root['KVER']), root['VMLINUZ'], root['ROOT'], root['KVER'],
               kit['QEMU'], ()),
        Kernel(_series(kit['BPO_KVER']), kit['BPO_VMLINUZ'], kit['BPO_MODULES_DIR'],
               kit['BPO_KVER'], kit['QEMU10'], qemu10_args),
        Kernel(_series(k7['K7_KVER']), k7['K7_VMLINUZ'], k7['K7_MODULES_DIR'],
               k7['K7_KVER'], kit['QEMU10'], qemu10_args),
    ]


def _series(kver):
    return '.'.join(kver.split('.')[:2])   # 6.12.95+deb12-cloud-amd64 -> 6.12
