#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2153  # row commands expand in bash -c; INITRD comes from eval
# Benchmark "eroot mkfs" from archives.  Run as root:  bench/archive.sh [-n RUNS]
#  1. a tar of the minbase tree of bench/mkfs.sh: --tar FILE, --tar - from a pipe,
#     the unpacked tree (anchor: what the archive path costs) and trixie's
#     mkfs.erofs --tar=f (anchor: the other tool); uncompressed and lz4hc;
#  2. the initramfs-tools initrd of tests/fixtures/debian-root: --initramfs -z lz4hc
#     against the classic route (zstd -dc | cpio -idm, Debian 12's mkfs.erofs -zlz4hc).
# Inputs are cached in bench/cache/, images and logs go to bench/out/archive/.
set -euo pipefail
prog=${0##*/}
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=${SUITE:-bookworm}
REF_SUITE=${REF_SUITE:-trixie}
runs=3
# shellcheck source=common.sh
. "$bench_dir/common.sh"
case ${1:-} in
    -n) runs=${2:-}; [[ $runs =~ ^[1-9][0-9]*$ ]] || die "usage: $prog [-n RUNS]" ;;
    '') ;;
    *) die "usage: $prog [-n RUNS]" ;;
esac
[ "$(id -u)" -eq 0 ] || die "must run as root (chroot, mount, cpio -i of device nodes)"
mkdir -p "$cache_dir" "$out_dir"
ensure_commands debootstrap=debootstrap /usr/bin/time=time tar=tar diff=diffutils \
    zstd=zstd cpio=cpio mkfs.erofs=erofs-utils

# ------------------------------------------------------------- inputs ------
tree=$cache_dir/$SUITE-minbase
bootstrap_tree "$SUITE" "$tree" "$cache_dir/debootstrap.log"
ch=$cache_dir/$REF_SUITE      # the chroot with erofs-utils 1.8: compress.sh makes it
[ -x "$ch/usr/bin/mkfs.erofs" ] || REF_SUITE=$REF_SUITE REF_ROOT='' "$bench_dir/compress.sh" --prepare
tarball=$cache_dir/$SUITE-minbase.tar
if [ ! "$tarball" -nt "$tree.done" ]; then    # remade when the tree is
    msg "making $tarball"; tar --xattrs --acls --numeric-owner -C "$tree" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
fi
# The fixture may be rebuilt by the tests at any time: measure a private copy.
fixture=$("$repo_root/tests/fixtures/debian-root" "$repo_root/build-test/fixtures") ||
    die "tests/fixtures/debian-root failed"
initrd_src=$(eval "$fixture"; echo "$INITRD")
initrd=$cache_dir/initrd-initramfs-tools.img
cmp -s "$initrd_src" "$initrd" || cp "$initrd_src" "$initrd"

# -------------------------------------------------------------- setup ------
work=$out_dir/archive img=$out_dir/archive/images log=$out_dir/archive/logs mnt=$out_dir/archive/mnt
cleanup() { local d; for d in "$mnt" "$ch/tmp/bench.tar" "$ch/dev" "$ch/sys" "$ch/proc"; do unmount_below "$d"; done; }
trap cleanup EXIT; trap 'exit 130' INT TERM
unmount_below "$work"; rm -rf --one-file-system "$work"
mkdir -p "$img" "$log" "$mnt" "$work/eroot/tools/eroot" "$work/eroot/lib" "$ch/out"
# A copy of eroot (RUNPATH $ORIGIN/../../lib), so that a rebuild mid-run changes nothing.
eroot_src=$(find_eroot)
cp "$eroot_src" "$work/eroot/tools/eroot/"
cp -L "$(dirname "$eroot_src")"/../../lib/liberoot.so.0 "$work/eroot/lib/"
E=$work/eroot/tools/eroot/eroot
git_state=$(git -C "$repo_root" rev-parse --short HEAD)
[ -z "$(git -C "$repo_root" status --porcelain -- lib include tools meson.build)" ] ||
    git_state="$git_state + uncommitted changes"
# mkfs.erofs 1.8 reads the tar inside the chroot: bind it there read-only; it
# counts the CPUs (default --workers) through /sys.
for d in proc sys dev; do mountpoint -q "$ch/$d" && continue
    case $d in proc) mount -t proc proc "$ch/proc" ;; sys) mount -t sysfs sysfs "$ch/sys" ;;
        dev) mount --bind /dev "$ch/dev" ;; esac; done
touch "$ch/tmp/bench.tar"; mount --bind "$tarball" "$ch/tmp/bench.tar"
mount -o remount,bind,ro "$ch/tmp/bench.tar"; rm -f "$ch"/out/archive-*.erofs
D=$work/initrd-unpacked           # the classic route's directory
export E T=$tarball TREE=$tree CH=$ch I=$initrd D

# ---------------------------------------------------------------- rows -----
# row KEY GROUP LABEL IMAGE CMD: CMD runs under bash -c with IMG set (and pipefail).
rows=(); declare -A grp lab im cmd
row() { rows+=("$1"); grp[$1]=$2; lab[$1]=$3; im[$1]=$4; cmd[$1]=$5; }
for z in none lz4hc; do
    if [ $z = none ]; then ez='' mz=''; else ez="-z lz4hc" mz="-zlz4hc,level=9"; fi
    g="tar, $z"
    row "file.$z" "$g" "eroot mkfs --tar FILE" "$img/file.$z.erofs" "\"\$E\" mkfs -q $ez --tar \"\$T\" \"\$IMG\""
    row "pipe.$z" "$g" "cat FILE \| eroot mkfs --tar -" "$img/pipe.$z.erofs" "cat \"\$T\" | \"\$E\" mkfs -q $ez --tar - \"\$IMG\""
    row "dir.$z" "$g" "eroot mkfs DIR (anchor)" "$img/dir.$z.erofs" "\"\$E\" mkfs -q $ez \"\$IMG\" \"\$TREE\""
    row "ref.$z" "$g" "mkfs.erofs 1.8.6 --tar=f (anchor)" "$ch/out/archive-$z.erofs" \
        "chroot \"\$CH\" mkfs.erofs --quiet $mz --tar=f /out/archive-$z.erofs /tmp/bench.tar"
done
row initrd "initrd, lz4hc" "eroot mkfs --initramfs -z lz4hc" "$img/initrd.erofs" \
    '"$E" mkfs -q -z lz4hc --initramfs "$I" "$IMG"'
row classic "initrd, lz4hc" "zstd -dc \| cpio -idm; mkfs.erofs 1.5 -zlz4hc (anchor)" "$img/classic.erofs" \
    'mkdir "$D" && cd "$D" && zstd -dc "$I" | cpio -idm --quiet && mkfs.erofs --quiet -zlz4hc "$IMG" "$D"'

# ------------------------------------------------------------ measuring ----
msg "warm-up: reading the inputs once"
cat "$tarball" "$initrd" >/dev/null; (cd "$tree" && find . -type f -print0 | xargs -0 cat) >/dev/null
load0=$(cut -d' ' -f1 /proc/loadavg)
declare -A W C M
# Runs are interleaved (run i of every row, then run i+1) so that load from other
# work on the machine spreads over all rows rather than hitting one.
for ((i = 1; i <= runs; i++)); do
    for k in "${rows[@]}"; do
        msg "run $i/$runs: ${lab[$k]//\\/} (${grp[$k]})"
        rm -f "${im[$k]}"; rm -rf --one-file-system "$D"
        t=$log/$k.$i.time
        IMG=${im[$k]} /usr/bin/time -v -o "$t" bash -o pipefail -c "${cmd[$k]}" >"$log/$k.$i.log" 2>&1 ||
            die "${lab[$k]//\\/} failed, see $log/$k.$i.log"
        W[$k]+=" $(awk -F': ' '/Elapsed/ { n = split($2, a, ":"); s = 0; for (j = 1; j <= n; j++) s = s * 60 + a[j]; print s }' "$t")"
        C[$k]+=" $(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { print u + s }' "$t")"
        M[$k]+=" $(awk -F': ' '/Maximum resident/ { print $2 }' "$t")"
    done
done
load1=$(cut -d' ' -f1 /proc/loadavg)

# Not timed: every image must mount and read back as its source (initrd: as cpio unpacked it).
declare -A ok
for k in "${rows[@]}"; do
    ref=$tree; [ "${grp[$k]}" = "initrd, lz4hc" ] && ref=$D
    if ! mount -t erofs -o ro "${im[$k]}" "$mnt" 2>"$log/$k.diff"; then ok[$k]="DOES NOT MOUNT"; continue; fi
    if diff -r --no-dereference "$ref" "$mnt" >>"$log/$k.diff" 2>&1; then ok[$k]="= source"
    else ok[$k]="DIFFERS ($log/$k.diff)"; fi
    umount "$mnt"
    if [[ $k != ref.* && $k != classic ]] && ! "$E" fsck -q "${im[$k]}" >>"$log/$k.diff" 2>&1; then
        ok[$k]+=", fsck FAILED"; fi
done

# -------------------------------------------------------------- report -----
# shellcheck disable=SC2086  # mdn ARRAY KEY: median of KEY's samples, split on purpose
mdn() { local -n a=$1; median ${a[$2]}; }
q() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
ratios() { printf '%s / %s / %s' "$(q "$(mdn W "$1")" "$(mdn W "$2")")" \
    "$(q "$(mdn M "$1")" "$(mdn M "$2")")" "$(q "$(stat -c %s "${im[$1]}")" "$(stat -c %s "${im[$2]}")")"; }
{
    printf '%s, %s, %s CPUs, load average %s before, %s after; median of %s runs\n' \
        "$(date -u '+%Y-%m-%d')" "$(uname -r)" "$(nproc)" "$load0" "$load1" "$runs"
    printf 'eroot: %s at %s (built %s); mkfs.erofs %s (%s chroot), %s (host)\n' \
        "$("$E" --version | head -n 1)" "$git_state" "$(date -r "$eroot_src" '+%H:%M')" \
        "$(cat "$cache_dir/$REF_SUITE.erofs-utils")" "$REF_SUITE" "$(dpkg-query -W -f '${Version}' erofs-utils)"
    printf 'tar: %s (%.1f MiB); initrd: %s (%.1f MiB, zstd)\n\n' "${tarball#"$repo_root/"}" \
        "$(q "$(stat -c %s "$tarball")" 1048576)" "${initrd_src#"$repo_root/"}" "$(q "$(stat -c %s "$initrd")" 1048576)"
    printf '| input | command | wall s | CPU s | peak RSS MiB | image MiB | eroot/DIR: wall / RSS / size | eroot/anchor: wall / RSS / size | check |\n'
    printf '|---|---|---|---|---|---|---|---|---|\n'
    for k in "${rows[@]}"; do
        vd='' va=''
        case $k in file.* | pipe.*) vd=$(ratios "$k" "dir.${k#*.}"); va=$(ratios "$k" "ref.${k#*.}") ;;
            dir.*) va=$(ratios "$k" "ref.${k#*.}") ;; initrd) va=$(ratios initrd classic) ;; esac
        printf '| %s | `%s` | %.2f | %.2f | %.1f | %.2f | %s | %s | %s |\n' "${grp[$k]}" "${lab[$k]}" \
            "$(mdn W "$k")" "$(mdn C "$k")" "$(q "$(mdn M "$k")" 1024)" \
            "$(q "$(stat -c %s "${im[$k]}")" 1048576)" "${vd:--}" "${va:--}" "${ok[$k]}"
    done
} | tee "$out_dir/archive-results.txt"
msg "saved in $out_dir/archive-results.txt (images and logs in $work)"
! grep -qE 'DIFFERS|DOES NOT MOUNT|FAILED' "$out_dir/archive-results.txt"   # exit 1 when a check failed
