#!/usr/bin/env bash
# Benchmark compressed "eroot mkfs -z" against mkfs.erofs from Debian 13 (trixie,
# run inside a cached trixie chroot) and mksquashfs (the host's), on the Debian
# minbase root tree of bench/mkfs.sh.  Run as root from anywhere:
#   bench/compress.sh [-n RUNS] [--slow-runs N] [--only LIST] [--prepare]
#
# Environment:
#   EROOT       path of the eroot binary (default: build/tools/eroot/eroot under the
#               repository root; built with meson/ninja when missing)
#   SUITE       Debian suite of the source tree (default: bookworm)
#   REF_SUITE   Debian suite whose erofs-utils is measured (default: trixie)
#   MIRROR      Debian mirror (default: the first Debian URI found in the APT sources)
#
# Everything fetched is cached under bench/cache/, every output goes to bench/out/.

set -euo pipefail

prog=${0##*/}
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

SUITE=${SUITE:-bookworm}
REF_SUITE=${REF_SUITE:-trixie}
runs=3
slow_runs=1
only=
prepare_only=0

# shellcheck source=common.sh
. "$bench_dir/common.sh"

# ------------------------------------------------------------ settings -----

# Each setting: a name, a title, the arguments of eroot mkfs, of mkfs.erofs and of
# mksquashfs, and whether it is slow (measured --slow-runs times, not -n times).
# The level is always given to mkfs.erofs, so that both EROFS tools compress at the
# level eroot uses by default (their defaults differ: mkfs.erofs 1.8 uses deflate
# level 1).  mksquashfs has no level for lz4 and xz; for gzip and zstd it gets the
# same level.  Its block size stays the default, 128 KiB.
settings=()
declare -A title_of eroot_args_of mkfs_args_of sq_args_of slow_of extra_args_of
def() {
    settings+=("$1"); title_of[$1]=$2; eroot_args_of[$1]=$3; mkfs_args_of[$1]=$4
    sq_args_of[$1]=$5; slow_of[$1]=$6
}
def lz4        "lz4"                               "-z lz4"            "-zlz4"                    "-comp lz4"                          0
def lz4hc      "lz4hc level 9 (default)"           "-z lz4hc"          "-zlz4hc,level=9"          "-comp lz4 -Xhc"                     0
def lz4hc-12   "lz4hc level 12"                    "-z lz4hc,12"       "-zlz4hc,level=12"         "-comp lz4 -Xhc"                     1
def lzma       "lzma level 6 (default)"            "-z lzma"           "-zlzma,level=6"           "-comp xz"                           1
def lzma-9     "lzma level 9"                      "-z lzma,9"         "-zlzma,level=9"           "-comp xz"                           1
def deflate    "deflate level 6 (eroot's default)" "-z deflate"        "-zdeflate,level=6"        "-comp gzip -Xcompression-level 6"   0
def deflate-9  "deflate level 9"                   "-z deflate,9"      "-zdeflate,level=9"        "-comp gzip -Xcompression-level 9"   1
def zstd       "zstd level 3 (default)"            "-z zstd"           "-zzstd,level=3"           "-comp zstd -Xcompression-level 3"   0
def zstd-19    "zstd level 19"                     "-z zstd,19"        "-zzstd,level=19"          "-comp zstd -Xcompression-level 19"  1
def lz4hc-C64k "lz4hc level 9, pcluster 64 KiB"    "-z lz4hc -C 65536" "-zlz4hc,level=9 -C65536"  "-comp lz4 -Xhc"                     0
def zstd-C64k  "zstd level 3, pcluster 64 KiB"     "-z zstd -C 65536"  "-zzstd,level=3 -C65536"   "-comp zstd -Xcompression-level 3"   0
# mkfs.erofs has two deflate compressors: "deflate" (its own) and "libdeflate"
# (the library eroot uses); the deflate settings measure both.
extra_args_of[deflate]="-zlibdeflate,level=6"
extra_args_of[deflate-9]="-zlibdeflate,level=9"

usage() {
    cat <<EOF
usage: $prog [-n RUNS] [--slow-runs N] [--only LIST] [--prepare]

Builds (once, cached in bench/cache/) the Debian $SUITE minbase tree of bench/mkfs.sh
and a Debian $REF_SUITE minbase chroot with erofs-utils, then for each compression
setting builds the tree with eroot mkfs, with the chroot's mkfs.erofs and with
mksquashfs, and reads each image back cold through the kernel.

  -n RUNS        timed runs per tool for the fast settings (default 3)
  --slow-runs N  timed runs per tool for the slow settings (default 1):
                 $(for s in "${settings[@]}"; do [ "${slow_of[$s]}" = 1 ] && printf '%s ' "$s"; done)
  --only LIST    only these settings (comma-separated) of:
                 ${settings[*]}
  --prepare      only make the tree and the chroot, measure nothing
  -h, --help     this help

Environment: EROOT (eroot binary), SUITE (default bookworm), REF_SUITE (default
trixie), MIRROR.
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        -n) [ $# -ge 2 ] || { usage >&2; exit 2; }; runs=$2; shift 2 ;;
        -n*) runs=${1#-n}; shift ;;
        --slow-runs) [ $# -ge 2 ] || { usage >&2; exit 2; }; slow_runs=$2; shift 2 ;;
        --slow-runs=*) slow_runs=${1#*=}; shift ;;
        --only) [ $# -ge 2 ] || { usage >&2; exit 2; }; only=$2; shift 2 ;;
        --only=*) only=${1#*=}; shift ;;
        --prepare) prepare_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
for n in "$runs" "$slow_runs"; do
    case $n in
        ''|*[!0-9]*|0) msg "error: run counts must be positive integers, got '$n'"; exit 2 ;;
    esac
done
if [ -n "$only" ]; then
    IFS=, read -ra picked <<< "$only"
    for s in "${picked[@]}"; do
        [ -n "${title_of[$s]+x}" ] || { msg "error: unknown setting '$s' (known: ${settings[*]})"; exit 2; }
    done
    settings=("${picked[@]}")
fi

[ "$(id -u)" -eq 0 ] ||
    die "must run as root (debootstrap, chroot, mount and drop_caches need it)"
mkdir -p "$cache_dir" "$out_dir"
t_start=$(date +%s)

# ---------------------------------------------------------------- tools ----

ensure_commands debootstrap=debootstrap mksquashfs=squashfs-tools /usr/bin/time=time \
    tar=tar diff=diffutils

# ----------------------------------------------------------- the trees -----

tree=$cache_dir/$SUITE-minbase
bootstrap_tree "$SUITE" "$tree" "$cache_dir/debootstrap.log"

chroot_dir=$cache_dir/$REF_SUITE
bootstrap_tree "$REF_SUITE" "$chroot_dir" "$cache_dir/$REF_SUITE-debootstrap.log"

work=$out_dir/compress
img_dir=$work/images
log_dir=$work/logs
mnt=$work/mnt

# Everything this script mounts: the kernel file systems and the source tree in the
# chroot, an image on $mnt.  All of it is unmounted on exit, however it ends.
cleanup() {
    local d
    for d in "$mnt" "$chroot_dir/src" "$chroot_dir/dev" "$chroot_dir/sys" "$chroot_dir/proc"; do
        unmount_below "$d"
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mount_chroot_fs: /proc, /sys and /dev in the chroot (apt and dpkg want them, and
# mkfs.erofs counts the CPUs through /sys for its default number of workers).
mount_chroot_fs() {
    local d
    for d in proc sys dev; do
        mkdir -p "$chroot_dir/$d"
        mountpoint -q "$chroot_dir/$d" && continue
        case $d in
            proc) mount -t proc proc "$chroot_dir/proc" ;;
            sys)  mount -t sysfs sysfs "$chroot_dir/sys" ;;
            dev)  mount --bind /dev "$chroot_dir/dev" ;;
        esac
    done
}

erofs_stamp=$cache_dir/$REF_SUITE.erofs-utils
if [ -f "$erofs_stamp" ] && [ -x "$chroot_dir/usr/bin/mkfs.erofs" ]; then
    msg "using cached erofs-utils $(cat "$erofs_stamp") in $chroot_dir"
else
    apt_log=$cache_dir/$REF_SUITE-apt.log
    msg "installing erofs-utils in the $REF_SUITE chroot (log: $apt_log)"
    mount_chroot_fs
    { chroot "$chroot_dir" apt-get update &&
      DEBIAN_FRONTEND=noninteractive chroot "$chroot_dir" \
          apt-get install -y --no-install-recommends erofs-utils
    } >"$apt_log" 2>&1 ||
        { tail -n 20 "$apt_log" >&2; die "installing erofs-utils in $chroot_dir failed; see $apt_log"; }
    # shellcheck disable=SC2016  # ${Version} is dpkg-query's
    chroot "$chroot_dir" dpkg-query -W -f '${Version}\n' erofs-utils > "$erofs_stamp"
    cleanup
fi

[ "$prepare_only" -eq 1 ] && { msg "prepared $tree and $chroot_dir"; exit 0; }

# --------------------------------------------------------------- eroot -----

# The binary is copied (with its library, keeping the layout its RUNPATH
# $ORIGIN/../../lib expects) so that a rebuild during the run changes nothing.
eroot_src=$(find_eroot)
unmount_below "$work"
rm -rf --one-file-system "$work"
mkdir -p "$img_dir" "$log_dir" "$mnt" "$work/eroot/tools/eroot" "$work/eroot/lib"
cp "$eroot_src" "$work/eroot/tools/eroot/eroot"
for lib in "$(dirname "$eroot_src")"/../../lib/liberoot.so.*; do
    [ -f "$lib" ] && cp -L "$lib" "$work/eroot/lib/"
done
eroot=$work/eroot/tools/eroot/eroot
"$eroot" --version >/dev/null 2>&1 || die "the copy $eroot of $eroot_src does not run"
eroot_version=$("$eroot" --version 2>&1 | head -n 1)
eroot_built=$(date -r "$eroot_src" '+%Y-%m-%d %H:%M')
eroot_git=$(cd "$repo_root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(cd "$repo_root" && git status --porcelain -- lib include tools meson.build 2>/dev/null)" ]; then
    eroot_git="$eroot_git + uncommitted changes"
fi

# --------------------------------------------------------------- setup -----

mount_chroot_fs
mkdir -p "$chroot_dir/src" "$chroot_dir/out"
mount --bind "$tree" "$chroot_dir/src"
mount -o remount,bind,ro "$chroot_dir/src"
rm -f "$chroot_dir"/out/*

mkfs_erofs_version=$(chroot "$chroot_dir" mkfs.erofs --version 2>&1 | head -n 1)
mkfs_erofs_workers=$(chroot "$chroot_dir" mkfs.erofs --help 2>&1 |
    sed -n 's/.*--workers=#.*(default: *\([0-9]*\)).*/\1/p')
mksquashfs_version=$(mksquashfs -version 2>&1 | head -n 1)

msg "warm-up: reading the whole tree once"
( cd "$tree" && find . -type f -print0 | xargs -0 -r cat ) > /dev/null

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
files=$(find "$tree" -type f | wc -l)
tree_bytes=$(du -s --apparent-size -B1 "$tree" | cut -f1)
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# ------------------------------------------------------------ measuring ----

# Results, keyed "SETTING|ROW": runs, median wall s, CPU s, peak RSS KiB, image
# bytes, cold read s; note says when a row repeats another's measurement.
declare -A r_runs r_wall r_cpu r_rss r_size r_read r_note
# Every message starts "SETTING: ROW "; those of eroot's row make the exit status 1.
problems=()
eroot_problems=0
problem() {
    problems+=("$*")
    [[ $* =~ ^[^:]+:\ eroot\  ]] && eroot_problems=$((eroot_problems + 1))
    msg "PROBLEM: $*"
}

# One row in the same place as another (the same mksquashfs command line): copy.
declare -A sq_done   # mksquashfs arguments -> "SETTING|mksquashfs" measured with them

# build KEY IMAGE RUNS CMD...: time CMD RUNS times (IMAGE deleted before each run),
# keep the medians.  Returns 1 (after recording a problem) when a run fails.
build() {
    local key=$1 image=$2 n=$3 i log tfile e u s m
    shift 3
    local ws=() cs=() ms=()
    for ((i = 1; i <= n; i++)); do
        msg "  ${key#*|}: build $i/$n"
        rm -f "$image"
        log=$log_dir/${key/|/.}.run$i.log
        tfile=$log_dir/${key/|/.}.run$i.time
        if ! /usr/bin/time -f '%e %U %S %M' -o "$tfile" "$@" >"$log" 2>&1; then
            problem "${key%|*}: ${key#*|} failed (run $i): $* (log: $log: $(tail -n 1 "$log"))"
            return 1
        fi
        [ -s "$image" ] || { problem "${key%|*}: ${key#*|} made no $image: $*"; return 1; }
        read -r e u s m < "$tfile"
        ws+=("$e")
        cs+=("$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')")
        ms+=("$m")
    done
    r_runs[$key]=$n
    r_wall[$key]=$(median "${ws[@]}")
    r_cpu[$key]=$(median "${cs[@]}")
    r_rss[$key]=$(median "${ms[@]}")
    r_size[$key]=$(stat -c %s "$image")
}

# cold_read KEY IMAGE FSTYPE RUNS: mount IMAGE, drop every cache, time reading all
# of it (tar into a pipe: tar skips the data when writing to /dev/null itself),
# unmount; RUNS times, keep the median.
cold_read() {
    local key=$1 image=$2 fstype=$3 n=$4 i log tfile
    local ts=()
    for ((i = 1; i <= n; i++)); do
        log=$log_dir/${key/|/.}.read$i.log
        tfile=$log_dir/${key/|/.}.read$i.time
        if ! mount -t "$fstype" -o ro "$image" "$mnt" >"$log" 2>&1; then
            problem "${key%|*}: ${key#*|} image does not mount: mount -t $fstype -o ro $image $mnt: $(tr '\n' ' ' < "$log")$(dmesg 2>/dev/null | tail -n 3 | tr '\n' ' ')"
            return 1
        fi
        sync
        echo 3 > /proc/sys/vm/drop_caches
        # shellcheck disable=SC2016  # $M is expanded by the inner bash
        if ! M=$mnt /usr/bin/time -f '%e' -o "$tfile" \
               bash -c 'set -o pipefail; tar -C "$M" -cf - . | wc -c' >>"$log" 2>&1; then
            problem "${key%|*}: ${key#*|} image mounts but does not read back: tar -C $mnt -cf - . (image $image, log $log: $(tail -n 2 "$log" | tr '\n' ' ')$(dmesg 2>/dev/null | tail -n 3 | tr '\n' ' '))"
            umount "$mnt" || true
            return 1
        fi
        umount "$mnt"
        ts+=("$(cat "$tfile")")
    done
    r_read[$key]=$(median "${ts[@]}")
}

# Listing of what a tree holds beyond file contents: type, mode, owner, mtime (ns),
# symlink target, device numbers, file sizes.
metadata() {
    ( cd "$1" &&
      find . -printf '%y %m %U %G %T@ %p -> %l\n' | sort &&
      find . \( -type c -o -type b \) -exec stat -c '%n %t:%T' {} + | sort &&
      find . -type f -printf '%p %s\n' | sort )
}

# verify KEY IMAGE FSTYPE: mount IMAGE and compare what the kernel reads with the
# tree: contents with diff -r, and for eroot's images the metadata too (with the
# listing above).  Then eroot fsck, on the EROFS images of every tool (for the
# mkfs.erofs ones, a check of eroot's reader).  Not timed.
declare -A v_status
verify() {
    local key=$1 image=$2 fstype=$3 log=$log_dir/${1/|/.}.verify.log st
    local set=${key%|*} row=${key#*|}
    if ! mount -t "$fstype" -o ro "$image" "$mnt" >"$log" 2>&1; then
        st="does not mount"   # already a problem, from cold_read
    else
        if diff -r --no-dereference "$tree" "$mnt" >>"$log" 2>&1; then
            st="kernel read = tree"
        else
            problem "$set: $row image: what the kernel reads differs from the tree: diff -r --no-dereference $tree $mnt (mount -t $fstype -o ro $image $mnt; $(grep -ac '^diff\|^Only in\|^File' "$log") files differ, log $log: $(grep -am 1 '^diff\|^Only in\|^File' "$log"))"
            st="kernel read DIFFERS from the tree"
        fi
        if [ "$row" = eroot ]; then
            if diff <(metadata "$tree") <(metadata "$mnt") >>"$log" 2>&1; then
                st="$st (contents and metadata)"
            else
                problem "$set: $row image: the metadata the kernel reads differs from the tree (mount -t $fstype -o ro $image $mnt; log $log)"
                st="$st, metadata DIFFERS"
            fi
        fi
        umount "$mnt"
    fi
    if [ "$fstype" = erofs ]; then
        if "$eroot" fsck -q "$image" >>"$log" 2>&1; then
            st="$st, eroot fsck clean"
        else
            local rc=$?
            problem "$set: $row image: eroot fsck -q $image exits $rc: $(grep -am 2 '^eroot fsck' "$log" | tr '\n' ' ')"
            st="$st, eroot fsck FAILED (exit $rc)"
        fi
    fi
    v_status[$key]=$st
}

declare -A load_before load_after
for set in "${settings[@]}"; do
    if [ "${slow_of[$set]}" = 1 ]; then n=$slow_runs; else n=$runs; fi
    msg "$set: ${title_of[$set]} ($n run(s) per tool; $(( $(date +%s) - t_start )) s so far)"
    load_before[$set]=$(loadavg)
    read -ra ea <<< "${eroot_args_of[$set]}"
    read -ra ma <<< "${mkfs_args_of[$set]}"
    read -ra sa <<< "${sq_args_of[$set]}"

    img=$img_dir/$set.eroot.erofs
    if build "$set|eroot" "$img" "$n" "$eroot" mkfs -q "${ea[@]}" "$img" "$tree"; then
        cold_read "$set|eroot" "$img" erofs "$n" || true
        verify "$set|eroot" "$img" erofs
    fi

    # mkfs.erofs runs in the chroot, on the tree bind-mounted at /src, writing to
    # /out; the image is then moved out of the chroot.
    rows=(mkfs.erofs)
    [ -n "${extra_args_of[$set]:-}" ] && rows+=(mkfs.erofs-libdeflate)
    for row in "${rows[@]}"; do
        if [ "$row" = mkfs.erofs ]; then args=("${ma[@]}"); else read -ra args <<< "${extra_args_of[$set]}"; fi
        inside=/out/$set.$row.erofs
        img=$img_dir/$set.$row.erofs
        if build "$set|$row" "$chroot_dir$inside" "$n" \
                chroot "$chroot_dir" mkfs.erofs --quiet "${args[@]}" "$inside" /src; then
            mv "$chroot_dir$inside" "$img"
            cold_read "$set|$row" "$img" erofs "$n" || true
            verify "$set|$row" "$img" erofs
        fi
    done

    img=$img_dir/$set.squashfs
    key="$set|mksquashfs"
    prev=${sq_done[${sq_args_of[$set]}]:-}
    if [ -n "$prev" ]; then
        # the same command line as an earlier setting: same image, measured once
        for a in r_runs r_wall r_cpu r_rss r_size r_read v_status; do
            declare -n arr=$a
            # shellcheck disable=SC2004  # associative, not arithmetic
            [ -n "${arr[$prev]+x}" ] && arr[$key]=${arr[$prev]}
            unset -n arr
        done
        r_note[$key]="(the ${prev%|*} row: same command)"
    elif build "$key" "$img" "$n" mksquashfs "$tree" "$img" "${sa[@]}" -no-progress -quiet -noappend; then
        cold_read "$key" "$img" squashfs "$n" || true
        verify "$key" "$img" squashfs
        sq_done[${sq_args_of[$set]}]=$key
    fi
    load_after[$set]=$(loadavg)
done

# ------------------------------------------------------------- report ------

t_total=$(( $(date +%s) - t_start ))
mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }
fmt_row() {   # KEY LABEL
    local k=$1
    if [ -z "${r_runs[$k]+x}" ]; then
        printf '%-22s %5s  %s\n' "$2" - "FAILED (see problems below)"
        return
    fi
    awk -v l="$2" -v n="${r_runs[$k]}" -v w="${r_wall[$k]}" -v c="${r_cpu[$k]}" \
        -v r="${r_rss[$k]}" -v s="${r_size[$k]}" -v t="${r_read[$k]:-}" -v note="${r_note[$k]:-}" '
        BEGIN { printf "%-22s %5d %8.2f %8.2f %9.1f %9.2f %10s%s\n", l, n, w, c, r / 1024,
                       s / 1048576, t == "" ? "FAILED" : sprintf("%.2f", t), note == "" ? "" : "  " note }'
}
ratios() {    # KEY REFKEY: the five ratios KEY / REFKEY, or nothing when a row failed
    local k=$1 K=$2
    [ -n "${r_runs[$k]+x}" ] && [ -n "${r_runs[$K]+x}" ] || return 0
    awk -v w="${r_wall[$k]}" -v c="${r_cpu[$k]}" -v r="${r_rss[$k]}" -v s="${r_size[$k]}" -v t="${r_read[$k]:-}" \
        -v W="${r_wall[$K]}" -v C="${r_cpu[$K]}" -v R="${r_rss[$K]}" -v S="${r_size[$K]}" -v T="${r_read[$K]:-}" '
        function q(a, b) { return (a != "" && b > 0) ? sprintf("%.2f", a / b) : "n/a" }
        BEGIN { printf "%8s %8s %9s %9s %10s\n", q(w, W), q(c, C), q(r, R), q(s, S), q(t, T) }'
}
fmt_ratio() { # KEY REFKEY LABEL
    local v
    v=$(ratios "$1" "$2")
    printf '%-22s %5s %s\n' "$3" "" "${v:-     n/a}"
}

report=$out_dir/compress-results.txt
{
    printf 'tree: %s (%s minbase), %s files, %.1f MiB of data\n' \
        "$tree" "$SUITE" "$files" "$(awk -v b="$tree_bytes" 'BEGIN { print b / 1048576 }')"
    printf 'host: %s, %s CPUs, %s GiB RAM; load average at the start %s (above 0 means\n' \
        "$(uname -r)" "$(nproc)" "$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" "$load_start"
    printf '      other work on the machine, which inflates wall times)\n'
    printf 'eroot: %s (%s, built %s); --workers default: one per core = %s\n' \
        "$eroot_version" "$eroot_git" "$eroot_built" "$(nproc)"
    printf 'mkfs.erofs: %s (Debian %s erofs-utils %s, run in the chroot %s); --workers default: %s\n' \
        "$mkfs_erofs_version" "$REF_SUITE" "$(cat "$erofs_stamp")" "$chroot_dir" "${mkfs_erofs_workers:-?}"
    printf 'mksquashfs: %s (host); block size 128 KiB (default), all CPUs\n' "$mksquashfs_version"
    printf 'every tool runs with its default number of threads on the %s CPUs\n' "$(nproc)"
    printf 'build: median of %s runs (%s run(s) for the slow settings:' "$runs" "$slow_runs"
    for s in "${settings[@]}"; do [ "${slow_of[$s]}" = 1 ] && printf ' %s' "$s"; done
    printf '), the tree warm in the page cache\n'
    printf 'cold read: mount -o ro, drop_caches, time tar -cf - of the whole mount | wc -c; median of as many runs\n'
    printf 'total run time: %d min %02d s\n' $((t_total / 60)) $((t_total % 60))
    for set in "${settings[@]}"; do
        printf '\n== %s: %s ==   (load average %s before, %s after)\n' "$set" "${title_of[$set]}" \
            "${load_before[$set]}" "${load_after[$set]:-?}"
        printf '   eroot mkfs -q %s IMAGE TREE\n' "${eroot_args_of[$set]}"
        printf '   chroot %s mkfs.erofs --quiet %s /out/IMAGE /src\n' "$REF_SUITE" "${mkfs_args_of[$set]}"
        [ -n "${extra_args_of[$set]:-}" ] &&
            printf '   chroot %s mkfs.erofs --quiet %s /out/IMAGE /src   (row mkfs.erofs-libdeflate)\n' \
                "$REF_SUITE" "${extra_args_of[$set]}"
        printf '   mksquashfs TREE IMAGE %s -no-progress -quiet -noappend\n' "${sq_args_of[$set]}"
        printf '%-22s %5s %8s %8s %9s %9s %10s\n' row runs "wall s" "CPU s" "RSS MiB" "size MiB" "cold rd s"
        fmt_row "$set|eroot" eroot
        fmt_row "$set|mkfs.erofs" mkfs.erofs
        [ -n "${extra_args_of[$set]:-}" ] && fmt_row "$set|mkfs.erofs-libdeflate" mkfs.erofs-libdeflate
        fmt_row "$set|mksquashfs" mksquashfs
        fmt_ratio "$set|eroot" "$set|mkfs.erofs" "eroot / mkfs.erofs"
        [ -n "${extra_args_of[$set]:-}" ] && fmt_ratio "$set|eroot" "$set|mkfs.erofs-libdeflate" "eroot / ..-libdeflate"
        for row in eroot mkfs.erofs mkfs.erofs-libdeflate mksquashfs; do
            if [ -n "${v_status[$set|$row]+x}" ]; then
                printf 'check %s: %s\n' "$row" "${v_status[$set|$row]}"
            fi
        done
    done

    printf '\n== summary: eroot / mkfs.erofs (below 1: eroot faster, leaner or smaller) ==\n'
    printf '%-12s %8s %8s %9s %9s %10s   %s\n' setting wall CPU "peak RSS" size "cold read" "eroot size / tree"
    for set in "${settings[@]}"; do
        v=$(ratios "$set|eroot" "$set|mkfs.erofs")
        ratio=n/a
        [ -n "${r_size[$set|eroot]:-}" ] &&
            ratio=$(awk -v s="${r_size[$set|eroot]}" -v t="$tree_bytes" 'BEGIN { printf "%.3f", s / t }')
        printf '%-12s %s   %s\n' "$set" "${v:-     n/a}" "$ratio"
    done

    if [ ${#problems[@]} -gt 0 ]; then
        printf '\nPROBLEMS (%d, %d of them with eroot):\n' "${#problems[@]}" "$eroot_problems"
        printf -- '- %s\n' "${problems[@]}"
    else
        printf '\nno problems: every build succeeded, every image mounted and read back\n'
    fi
} | tee "$report"
msg "results saved in $report (images and logs in $work)"
[ "$eroot_problems" -eq 0 ]
