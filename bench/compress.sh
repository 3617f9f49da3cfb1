#!/usr/bin/env bash
# Benchmark compressed "eroot mkfs" against the reference mkfs.erofs (run inside a
# chroot, Debian sid's erofs-utils 1.9.x by default) and mksquashfs, on a big tree:
# the rows of issue 12, built in interleaved pairs, with medians and spreads, the
# cold full read of images through the kernel, a kernel check of every eroot image
# and "eroot fsck" against "fsck.erofs --extract".  Run as root from anywhere:
#   bench/compress.sh [--tree DIR] [-n RUNS] [--slow-runs N] [--only LIST] ...
#
# Environment:
#   EROOT       the eroot binary (default: build-rel/tools/eroot/eroot under the
#               repository root when it exists, else as bench/mkfs.sh finds it)
#   REF_ROOT    an existing chroot holding mkfs.erofs and fsck.erofs (for example
#               a sid chroot); when unset, a Debian $REF_SUITE chroot is made once
#               in bench/cache/ with debootstrap and erofs-utils installed in it
#   REF_SUITE   Debian suite of that chroot (default: sid, for erofs-utils 1.9.x)
#   SUITE       Debian suite of the default tree (default: bookworm minbase)
#   MIRROR      Debian mirror (default: the first Debian URI of the APT sources)
#
# Outputs: bench/out/compress.md (the tables), bench/out/compress.jsonl (one JSON
# object per measurement and per row), images and logs in bench/out/compress/
# (compress-TAG.md and so on with --tag TAG).

set -euo pipefail

prog=${0##*/}
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

SUITE=${SUITE:-bookworm}
REF_SUITE=${REF_SUITE:-sid}
REF_ROOT=${REF_ROOT:-}
runs=3
slow_runs=1
only=
tree=
read_mode=default
tag=
keep_images=0
prepare_only=0

# shellcheck source=common.sh
. "$bench_dir/common.sh"

# ---------------------------------------------------------------- rows -----

# A row: its name, title, the arguments of eroot mkfs and of mkfs.erofs, the
# mksquashfs anchor it is compared with (or -), whether it is slow (built
# --slow-runs times rather than -n times) and whether its images are read cold
# by default.  The level is always given to both tools.  The anchors are rows of
# mksquashfs alone (default 128 KiB blocks, all CPUs).
rows=()
declare -A title_of eroot_args_of ref_args_of anchor_of slow_of read_of sq_args_of
def() {
    rows+=("$1"); title_of[$1]=$2; eroot_args_of[$1]=$3; ref_args_of[$1]=$4
    anchor_of[$1]=$5; slow_of[$1]=$6; read_of[$1]=$7
}
# name                title                                     eroot mkfs                                   mkfs.erofs                                           anchor   slow read
def none              "none"                                    ""                                           ""                                                   -        0 0
def lz4               "lz4"                                     "-z lz4"                                     "-zlz4"                                              -        0 0
def lz4hc             "lz4hc (level 9)"                         "-z lz4hc,9"                                 "-zlz4hc,level=9"                                    sq-lz4hc 0 1
def lz4hc12           "lz4hc 12"                                "-z lz4hc,12"                                "-zlz4hc,level=12"                                   sq-lz4hc 0 0
def zstd12            "zstd 12"                                 "-z zstd,12"                                 "-zzstd,level=12"                                    sq-zstd  1 0
def deflate6          "deflate 6"                               "-z deflate,6"                               "-zdeflate,level=6"                                  -        0 0
def lz4hc12-C64k      "lz4hc 12 \`-C 65536\`"                   "-z lz4hc,12 -C 65536"                       "-zlz4hc,level=12 -C65536"                           sq-lz4hc 0 0
def zstd              "zstd (level 3)"                          "-z zstd,3"                                  "-zzstd,level=3"                                     sq-zstd  0 0
def lz4hc12-frag      "lz4hc 12 \`-E fragments\`"               "-z lz4hc,12 -E fragments"                   "-zlz4hc,level=12 -Efragments"                       sq-lz4hc 1 0
def lz4hc12-best      "lz4hc 12 \`-C 131072 -E ztailpacking,fragments\`" \
                                                                "-z lz4hc,12 -C 131072 -E ztailpacking,fragments" \
                                                                                                             "-zlz4hc,level=12 -C131072 -Eztailpacking,fragments" sq-lz4hc 1 1
def zstd12-best       "zstd 12 \`-C 131072 -E ztailpacking,fragments\`" \
                                                                "-z zstd,12 -C 131072 -E ztailpacking,fragments" \
                                                                                                             "-zzstd,level=12 -C131072 -Eztailpacking,fragments"  sq-zstd  1 1
def lzma-best         "lzma (level 6) \`-C 131072 -E ztailpacking,fragments\`" \
                                                                "-z lzma,6 -C 131072 -E ztailpacking,fragments" \
                                                                                                             "-zlzma,level=6 -C131072 -Eztailpacking,fragments"   sq-xz    1 1
def lz4hc12-dedupe    "lz4hc 12 \`-E fragments,dedupe\`"        "-z lz4hc,12 -E fragments,dedupe"            "-zlz4hc,level=12 -Efragments,dedupe"                sq-lz4hc 1 0
def lz4hc12-best-dedupe "lz4hc 12 \`-C 131072 -E ztailpacking,fragments,dedupe\`" \
                                                                "-z lz4hc,12 -C 131072 -E ztailpacking,fragments,dedupe" \
                                                                                                             "-zlz4hc,level=12 -C131072 -Eztailpacking,fragments,dedupe" sq-lz4hc 1 1
# The mksquashfs anchors.
anchors=(sq-xz sq-zstd sq-lz4hc)
sq_args_of=([sq-xz]="-comp xz" [sq-zstd]="-comp zstd" [sq-lz4hc]="-comp lz4 -Xhc")
# The fsck row: eroot fsck against fsck.erofs --extract[=DIR], on these rows' eroot images.
fsck_rows=(lz4hc lz4hc12-best)

usage() {
    cat <<EOF
usage: $prog [--tree DIR] [-n RUNS] [--slow-runs N] [--only LIST]
       [--read default|all|none] [--keep-images] [--tag TAG] [--prepare]

For each row (compression setting) builds the tree with eroot mkfs and with the
reference mkfs.erofs in interleaved pairs (eroot first in odd runs, the reference
first in even ones), reads images back cold through the kernel, checks each eroot
image against the tree through a kernel mount, builds the mksquashfs anchors, and
times eroot fsck against fsck.erofs --extract and --extract=DIR.  Medians with
min-max.

  --tree DIR     the source tree (default: the Debian $SUITE minbase tree of
                 bench/mkfs.sh, made with debootstrap in bench/cache/)
  -n RUNS        runs per tool for the rows that are not slow (default 3)
  --slow-runs N  runs per tool for the slow rows (default 1):
                 $(for s in "${rows[@]}"; do [ "${slow_of[$s]}" = 1 ] && printf '%s ' "$s"; done)
                 and the mksquashfs anchors
  --only LIST    only these rows (comma-separated) of:
                 ${rows[*]}
                 ${anchors[*]} fsck
  --read MODE    cold reads for the default rows (lz4hc, the best-ratio ones and
                 the anchors), for all rows, or for none
  --keep-images  keep every image (default: only those the fsck row needs)
  --tag TAG      name the outputs compress-TAG.* (to keep the results of several
                 runs, for example of a benchmark split with --only)
  --prepare      only make the tree and the reference chroot, measure nothing
  -h, --help     this help

Environment: EROOT, REF_ROOT (existing chroot with erofs-utils, e.g. a sid chroot),
REF_SUITE (default sid), SUITE (default bookworm), MIRROR.
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        --tree) [ $# -ge 2 ] || { usage >&2; exit 2; }; tree=$2; shift 2 ;;
        --tree=*) tree=${1#*=}; shift ;;
        -n) [ $# -ge 2 ] || { usage >&2; exit 2; }; runs=$2; shift 2 ;;
        -n*) runs=${1#-n}; shift ;;
        --slow-runs) [ $# -ge 2 ] || { usage >&2; exit 2; }; slow_runs=$2; shift 2 ;;
        --slow-runs=*) slow_runs=${1#*=}; shift ;;
        --only) [ $# -ge 2 ] || { usage >&2; exit 2; }; only=$2; shift 2 ;;
        --only=*) only=${1#*=}; shift ;;
        --read) [ $# -ge 2 ] || { usage >&2; exit 2; }; read_mode=$2; shift 2 ;;
        --read=*) read_mode=${1#*=}; shift ;;
        --keep-images) keep_images=1; shift ;;
        --tag) [ $# -ge 2 ] || { usage >&2; exit 2; }; tag=$2; shift 2 ;;
        --tag=*) tag=${1#*=}; shift ;;
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
case $tag in
    *[!A-Za-z0-9._-]*) msg "error: --tag wants letters, digits, '.', '_' or '-', got '$tag'"; exit 2 ;;
esac
name=compress${tag:+-$tag}
case $read_mode in
    default|all|none) ;;
    *) msg "error: --read wants default, all or none, got '$read_mode'"; exit 2 ;;
esac
with_fsck=1
if [ -n "$only" ]; then
    IFS=, read -ra picked <<< "$only"
    sel_rows=() sel_anchors=() with_fsck=0
    for s in "${picked[@]}"; do
        if [ "$s" = fsck ]; then with_fsck=1
        elif [ -n "${sq_args_of[$s]+x}" ]; then sel_anchors+=("$s")
        elif [ -n "${title_of[$s]+x}" ]; then sel_rows+=("$s")
        else msg "error: unknown row '$s' (known: ${rows[*]} ${anchors[*]} fsck)"; exit 2
        fi
    done
    rows=(${sel_rows[@]+"${sel_rows[@]}"})
    anchors=(${sel_anchors[@]+"${sel_anchors[@]}"})
fi
runs_of() { if [ "${slow_of[$1]:-0}" = 1 ]; then echo "$slow_runs"; else echo "$runs"; fi; }
reads_row() {   # reads_row ROW: whether ROW's images are read cold
    case $read_mode in all) return 0 ;; none) return 1 ;; esac
    [ "${read_of[$1]:-1}" = 1 ]   # anchors: yes
}

[ "$(id -u)" -eq 0 ] ||
    die "must run as root (chroot, mount and drop_caches need it)"
mkdir -p "$cache_dir" "$out_dir"
t_start=$(date +%s)
elapsed() { echo $(( $(date +%s) - t_start )); }

# ---------------------------------------------------------------- tools ----

ensure_commands mksquashfs=squashfs-tools /usr/bin/time=time tar=tar diff=diffutils
if [ -z "$tree" ] || [ -z "$REF_ROOT" ]; then
    ensure_commands debootstrap=debootstrap
fi

# ------------------------------------------------------ tree and chroot -----

if [ -n "$tree" ]; then
    [ -d "$tree" ] || die "--tree $tree is not a directory"
    tree=$(cd "$tree" && pwd)
    tree_desc=$tree
else
    tree=$cache_dir/$SUITE-minbase
    bootstrap_tree "$SUITE" "$tree" "$cache_dir/debootstrap.log"
    tree_desc="$tree (Debian $SUITE minbase)"
fi

# Everything this script mounts is listed here and unmounted on exit, however it
# ends; what others mounted in a shared chroot is left alone.
our_mounts=()
cleanup() {
    local i
    for ((i = ${#our_mounts[@]} - 1; i >= 0; i--)); do
        unmount_below "${our_mounts[i]}"
    done
    [ -z "${mnt:-}" ] || unmount_below "$mnt"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$REF_ROOT" ]; then
    chroot_dir=$(cd "$REF_ROOT" 2>/dev/null && pwd) || die "REF_ROOT=$REF_ROOT is not a directory"
    chroot "$chroot_dir" mkfs.erofs --version >/dev/null 2>&1 ||
        die "no working mkfs.erofs in REF_ROOT=$chroot_dir"
    ref_desc="the chroot $chroot_dir"
else
    chroot_dir=$cache_dir/$REF_SUITE
    bootstrap_tree "$REF_SUITE" "$chroot_dir" "$cache_dir/$REF_SUITE-debootstrap.log"
    stamp=$cache_dir/$REF_SUITE.erofs-utils
    if [ -f "$stamp" ] && chroot "$chroot_dir" mkfs.erofs --version >/dev/null 2>&1; then
        msg "using cached erofs-utils $(cat "$stamp") in $chroot_dir"
    else
        # apt and dpkg want /proc, /sys and /dev
        for d in proc sys dev; do
            mkdir -p "$chroot_dir/$d"
            mountpoint -q "$chroot_dir/$d" && continue
            case $d in
                proc) mount -t proc proc "$chroot_dir/proc" ;;
                sys)  mount -t sysfs sysfs "$chroot_dir/sys" ;;
                dev)  mount --bind /dev "$chroot_dir/dev" ;;
            esac
            our_mounts+=("$chroot_dir/$d")
        done
        apt_log=$cache_dir/$REF_SUITE-apt.log
        msg "installing erofs-utils in the $REF_SUITE chroot (log: $apt_log)"
        { chroot "$chroot_dir" apt-get update &&
          DEBIAN_FRONTEND=noninteractive chroot "$chroot_dir" \
              apt-get install -y --no-install-recommends erofs-utils
        } >"$apt_log" 2>&1 ||
            { tail -n 20 "$apt_log" >&2; die "installing erofs-utils in $chroot_dir failed; see $apt_log"; }
        # shellcheck disable=SC2016  # ${Version} is dpkg-query's
        chroot "$chroot_dir" dpkg-query -W -f '${Version}\n' erofs-utils > "$stamp"
    fi
    ref_desc="Debian $REF_SUITE erofs-utils $(cat "$stamp") in the chroot $chroot_dir"
fi
ref_version=$(chroot "$chroot_dir" mkfs.erofs --version 2>&1 | head -n 1)
case $ref_version in
    *\ 1.9.*|*\ [2-9].*) ;;
    *) msg "warning: the reference is $ref_version; issue 12 compares with 1.9.x (REF_ROOT=, REF_SUITE=sid)" ;;
esac

[ "$prepare_only" -eq 1 ] && { msg "prepared $tree and $chroot_dir"; exit 0; }

# --------------------------------------------------------------- eroot -----

# The binary is copied (with its library, keeping the layout its RUNPATH
# $ORIGIN/../../lib expects) so that a rebuild during the run changes nothing.
if [ -z "${EROOT:-}" ] && [ -x "$repo_root/build-rel/tools/eroot/eroot" ]; then
    EROOT=$repo_root/build-rel/tools/eroot/eroot
fi
eroot_src=$(find_eroot)
work=$out_dir/$name
img_dir=$work/images
log_dir=$work/logs
mnt=$work/mnt
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
eroot_git=$(git -C "$(dirname "$eroot_src")" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$(dirname "$eroot_src")" status --porcelain -- :/lib :/include :/tools :/meson.build 2>/dev/null)" ]; then
    eroot_git="$eroot_git + uncommitted changes"
fi
eroot_note=
if ldd "$eroot" 2>/dev/null | grep -q 'libasan\|libubsan'; then
    eroot_note=" (WARNING: built with sanitizers, its times mean nothing)"
    msg "warning: $eroot_src is built with sanitizers; set EROOT to a release build"
fi

# ---------------------------------------------------------------- setup ----

# Inside the chroot, under a directory of our own: the tree (read-only) at
# $in/src, the image directory at $in/out, fsck.erofs's extraction at $in/x.
in=/tmp/eroot-bench.$$
mkdir -p "$chroot_dir$in/src" "$chroot_dir$in/out"
our_mounts+=("$chroot_dir$in/src" "$chroot_dir$in/out")
mount --bind "$tree" "$chroot_dir$in/src"
mount -o remount,bind,ro "$chroot_dir$in/src"
mount --bind "$img_dir" "$chroot_dir$in/out"
remove_chroot_dir() {
    cleanup
    rm -rf --one-file-system "${chroot_dir:?}$in/x"
    rmdir "$chroot_dir$in/src" "$chroot_dir$in/out" "$chroot_dir$in" 2>/dev/null || true
}
trap remove_chroot_dir EXIT

ref_workers=$(chroot "$chroot_dir" mkfs.erofs --help 2>&1 |
    sed -n 's/.*--workers=#.*(default: *\([0-9]*\)).*/\1/p')
sq_version=$(mksquashfs -version 2>&1 | head -n 1)

warm_tree() { tar -C "$tree" -cf - . | cat > /dev/null; }
msg "warm-up: reading the whole tree once"
warm_tree
files=$(find "$tree" -type f | wc -l)
entries=$(find "$tree" | wc -l)
tree_bytes=$(find "$tree" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# ------------------------------------------------------------- records -----

jsonl=$out_dir/$name.jsonl
: > "$jsonl"
jstr() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
# jl KEY VALUE...: one JSON object, after "t_s" (seconds since the start); a
# VALUE made of digits (and a dot) is a number, "null" and "[...]" are JSON already, anything else a string.
jl() {
    local sep=, out
    out="{\"t_s\":$(elapsed)"
    while [ $# -ge 2 ]; do
        if [ "$1" != eroot_git ] &&   # a short hash can be all digits
           { [[ $2 =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || [[ $2 =~ ^(null|\[.*\])$ ]]; }; then out+="$sep\"$1\":$2"
        else out+="$sep\"$1\":$(jstr "$2")"; fi
        sep=,; shift 2
    done
    printf '%s}\n' "$out" >> "$jsonl"
}

problems=()
eroot_problems=0
problem() {   # problem TOOL TEXT: TOOL is eroot, mkfs.erofs, mksquashfs or fsck.erofs
    problems+=("$2")
    [ "$1" = eroot ] && eroot_problems=$((eroot_problems + 1))
    msg "PROBLEM: $2"
}

# Per run values, space-separated lists keyed "ROW|TOOL|METRIC", METRIC one of
# wall, cpu, rss (KiB), size (bytes), read (s).
declare -A val
add() { val[$1]="${val[$1]:-}${val[$1]:+ }$2"; }

# timed KEY RUN LOG CMD...: run CMD under GNU time, add its wall, CPU and peak RSS
# to KEY's lists.  Returns 1 when CMD fails.
timed() {
    local key=$1 run=$2 log=$3 tfile=$3.time e u s m
    shift 3
    if ! /usr/bin/time -f '%e %U %S %M' -o "$tfile" "$@" >"$log" 2>&1; then
        return 1
    fi
    read -r e u s m < "$tfile"
    add "$key|wall" "$e"
    add "$key|cpu" "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
    add "$key|rss" "$m"
    jl kind time row "${key%%|*}" tool "${key#*|}" run "$run" wall_s "$e" \
        cpu_s "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')" peak_rss_kib "$m"
}

# build ROW TOOL RUN IMAGE CMD...: one timed build; IMAGE is deleted first.
build() {
    local row=$1 tool=$2 run=$3 image=$4 log=$log_dir/$1.$2.build$3.log size
    shift 4
    msg "  $row: $tool build $run ($(elapsed) s so far)"
    rm -f "$image"
    if ! timed "$row|$tool" "$run" "$log" "$@"; then
        problem "$tool" "$row: $tool failed (run $run): $* (log $log: $(tail -n 1 "$log"))"
        return 1
    fi
    [ -s "$image" ] || { problem "$tool" "$row: $tool made no $image: $*"; return 1; }
    size=$(stat -c %s "$image")
    if [ -n "${val[$row|$tool|size]:-}" ] && [ "$tool" = eroot ] &&
       [ "${val[$row|$tool|size]%% *}" != "$size" ]; then
        problem eroot "$row: eroot image sizes differ between runs: ${val[$row|$tool|size]} and $size"
    fi
    add "$row|$tool|size" "$size"
    jl kind build row "$row" tool "$tool" run "$run" bytes "$size"
}

# mounted IMAGE FSTYPE: mount IMAGE read-only on $mnt (a file-backed EROFS mount
# or a loop device, as mount(8) decides); prints how.
mount_image() {
    local image=$1 fstype=$2 log=$3
    mount -t "$fstype" -o ro "$image" "$mnt" >>"$log" 2>&1 || return 1
    awk -v m="$mnt" '$2 == m { print ($1 ~ /^\/dev\/loop/) ? "loop device" : "file-backed" }' /proc/mounts | tail -n 1
}

# cold_read ROW TOOL RUN IMAGE FSTYPE: mount, drop every cache, time reading all
# of it (tar into a pipe: GNU tar skips the data when its archive is /dev/null),
# unmount.
declare -A mount_how
cold_read() {
    local row=$1 tool=$2 run=$3 image=$4 fstype=$5 log=$log_dir/$1.$2.read$3.log how tfile
    tfile=$log.time
    : > "$log"
    if ! how=$(mount_image "$image" "$fstype" "$log"); then
        problem "$tool" "$row: $tool image does not mount: mount -t $fstype -o ro $image $mnt: $(tr '\n' ' ' < "$log")$(dmesg 2>/dev/null | tail -n 3 | tr '\n' ' ')"
        return 1
    fi
    mount_how[$fstype]=$how
    sync
    echo 3 > /proc/sys/vm/drop_caches
    # shellcheck disable=SC2016  # $M is expanded by the inner bash
    if ! M=$mnt /usr/bin/time -f '%e' -o "$tfile" \
           bash -c 'set -o pipefail; tar -C "$M" -cf - . | wc -c' >>"$log" 2>&1; then
        problem "$tool" "$row: $tool image mounts but does not read back: tar -C $mnt -cf - . (image $image, log $log: $(tail -n 2 "$log" | tr '\n' ' ')$(dmesg 2>/dev/null | tail -n 3 | tr '\n' ' '))"
        umount "$mnt" || true
        return 1
    fi
    umount "$mnt"
    add "$row|$tool|read" "$(cat "$tfile")"
    jl kind read row "$row" tool "$tool" run "$run" fstype "$fstype" mount "$how" wall_s "$(cat "$tfile")"
}

# What a tree holds beyond file contents: type, mode, owner, mtime (ns), symlink
# target, device numbers, file sizes.
metadata() {
    ( cd "$1" &&
      find . -printf '%y %m %U %G %T@ %p -> %l\n' | sort &&
      find . \( -type c -o -type b \) -exec stat -c '%n %t:%T' {} + | sort &&
      find . -type f -printf '%p %s\n' | sort )
}

# verify ROW IMAGE: mount eroot's IMAGE and compare what the kernel reads with the
# tree, contents (diff -r) and metadata.  Not timed; it also warms the tree again
# after the cold reads dropped it from the page cache.
declare -A v_status
verify() {
    local row=$1 image=$2 log=$log_dir/$1.eroot.verify.log st
    : > "$log"
    if ! mount_image "$image" erofs "$log" >/dev/null; then
        problem eroot "$row: eroot image does not mount: mount -t erofs -o ro $image $mnt (log $log)"
        v_status[$row]="does NOT mount"
        return
    fi
    if diff -r --no-dereference "$tree" "$mnt" >>"$log" 2>&1; then
        st="kernel read = tree"
    else
        problem eroot "$row: what the kernel reads of the eroot image differs from the tree: diff -r --no-dereference $tree $mnt (mount -t erofs -o ro $image $mnt; log $log: $(grep -am 1 '^diff\|^Only in\|^File' "$log"))"
        st="kernel read DIFFERS"
    fi
    if diff <(metadata "$tree") <(metadata "$mnt") >>"$log" 2>&1; then
        st="$st, metadata too"
    else
        problem eroot "$row: the metadata the kernel reads of the eroot image differs from the tree (log $log)"
        st="$st, metadata DIFFERS"
    fi
    umount "$mnt"
    v_status[$row]=$st
    jl kind verify row "$row" tool eroot status "$st"
}

# ------------------------------------------------------------ measuring ----

declare -A load_before load_after
keep() {   # keep ROW: whether ROW's eroot image is kept for the fsck row
    local r
    [ "$keep_images" = 1 ] && return 0
    [ "$with_fsck" = 1 ] || return 1
    for r in "${fsck_rows[@]}"; do [ "$r" = "$1" ] && return 0; done
    return 1
}

for row in "${rows[@]}"; do
    n=$(runs_of "$row")
    msg "$row: ${title_of[$row]} ($n pair(s); $(elapsed) s so far)"
    load_before[$row]=$(loadavg)
    warm_tree
    read -ra ea <<< "${eroot_args_of[$row]}"
    read -ra ra <<< "${ref_args_of[$row]}"
    e_img=$img_dir/$row.eroot.erofs
    r_img=$img_dir/$row.mkfs.erofs.erofs
    ok_e=1 ok_r=1
    for ((i = 1; i <= n; i++)); do
        order=(eroot mkfs.erofs)
        [ $((i % 2)) -eq 0 ] && order=(mkfs.erofs eroot)
        for tool in "${order[@]}"; do
            if [ "$tool" = eroot ]; then
                [ "$ok_e" = 1 ] || continue
                build "$row" eroot "$i" "$e_img" \
                    "$eroot" mkfs -q ${ea[@]+"${ea[@]}"} "$e_img" "$tree" || ok_e=0
            else
                [ "$ok_r" = 1 ] || continue
                build "$row" mkfs.erofs "$i" "$r_img" \
                    chroot "$chroot_dir" mkfs.erofs --quiet ${ra[@]+"${ra[@]}"} \
                    "$in/out/${r_img##*/}" "$in/src" || ok_r=0
            fi
        done
    done
    if reads_row "$row"; then
        for ((i = 1; i <= n; i++)); do
            order=(eroot mkfs.erofs)
            [ $((i % 2)) -eq 0 ] && order=(mkfs.erofs eroot)
            for tool in "${order[@]}"; do
                if [ "$tool" = eroot ]; then
                    [ "$ok_e" = 1 ] && { cold_read "$row" eroot "$i" "$e_img" erofs || ok_e=0; }
                else
                    [ "$ok_r" = 1 ] && { cold_read "$row" mkfs.erofs "$i" "$r_img" erofs || ok_r=0; }
                fi
            done
        done
    fi
    [ "$ok_e" = 1 ] && verify "$row" "$e_img"
    rm -f "$r_img"
    keep "$row" || rm -f "$e_img"
    load_after[$row]=$(loadavg)
done

for a in ${anchors[@]+"${anchors[@]}"}; do
    n=$slow_runs   # measured for their size mostly; they take long
    msg "$a: mksquashfs ${sq_args_of[$a]} ($n run(s); $(elapsed) s so far)"
    load_before[$a]=$(loadavg)
    warm_tree
    read -ra sa <<< "${sq_args_of[$a]}"
    img=$img_dir/$a.squashfs
    ok=1
    for ((i = 1; i <= n; i++)); do
        build "$a" mksquashfs "$i" "$img" \
            mksquashfs "$tree" "$img" "${sa[@]}" -no-progress -quiet -noappend || { ok=0; break; }
    done
    if [ "$ok" = 1 ] && reads_row "$a"; then
        for ((i = 1; i <= n; i++)); do
            cold_read "$a" mksquashfs "$i" "$img" squashfs || break
        done
    fi
    [ "$keep_images" = 1 ] || rm -f "$img"
    load_after[$a]=$(loadavg)
done

# The fsck row: eroot fsck, fsck.erofs --extract (decodes every file, writes
# nothing: the same work as eroot fsck) and fsck.erofs --extract=DIR (also writes
# the files, into a directory of the chroot removed untimed after each run), all
# on the same eroot image, in rotating order.
fsck_done=()
if [ "$with_fsck" = 1 ]; then
    warm_tree
    for row in "${fsck_rows[@]}"; do
        img=$img_dir/$row.eroot.erofs
        if [ ! -s "$img" ]; then
            msg "fsck-$row: building its eroot image (untimed)"
            read -ra ea <<< "${eroot_args_of[$row]}"
            "$eroot" mkfs -q "${ea[@]}" "$img" "$tree" >"$log_dir/fsck-$row.mkfs.log" 2>&1 ||
                { problem eroot "fsck-$row: eroot mkfs failed (log $log_dir/fsck-$row.mkfs.log)"; continue; }
        fi
        key=fsck-$row
        n=$runs   # cheap next to the builds: always -n runs
        load_before[$key]=$(loadavg)
        msg "$key: eroot fsck against fsck.erofs --extract[=DIR] ($n run(s) each; $(elapsed) s so far)"
        for ((i = 1; i <= n; i++)); do
            order=(eroot fsck.erofs fsck.erofs-x)
            order=("${order[@]:$(((i - 1) % 3))}" "${order[@]:0:$(((i - 1) % 3))}")
            for tool in "${order[@]}"; do
                log=$log_dir/$key.$tool.run$i.log
                rm -rf --one-file-system "${chroot_dir:?}$in/x"
                case $tool in
                    eroot) cmd=("$eroot" fsck -q "$img") ;;
                    fsck.erofs) cmd=(chroot "$chroot_dir" fsck.erofs --extract "$in/out/${img##*/}") ;;
                    fsck.erofs-x) cmd=(chroot "$chroot_dir" fsck.erofs --extract="$in/x" "$in/out/${img##*/}") ;;
                esac
                timed "$key|$tool" "$i" "$log" "${cmd[@]}" ||
                    problem "${tool%-x}" "$key: ${cmd[*]} failed on eroot's image (run $i, log $log: $(tail -n 1 "$log"))"
            done
        done
        rm -rf --one-file-system "${chroot_dir:?}$in/x"
        [ "$keep_images" = 1 ] || rm -f "$img"
        load_after[$key]=$(loadavg)
        fsck_done+=("$key")
    done
fi

# ------------------------------------------------------------- report ------

t_total=$(elapsed)

# stats LIST: "median min max" of the numbers in LIST (space-separated)
stats() {
    # shellcheck disable=SC2086  # LIST is split on purpose
    [ -n "$1" ] && printf '%s\n' $1 | sort -g |
        awk '{ v[NR] = $1 } END { printf "%s %s %s\n", v[int((NR + 1) / 2)], v[1], v[NR] }'
}
# pair_ratios A B: the ratios A[i] / B[i] of two lists of the same runs
pair_ratios() {
    awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); m = split(b, y, " ")
        for (i = 1; i <= n && i <= m; i++) if (y[i] > 0) printf "%.4f ", x[i] / y[i] }'
}
# ratio_cell A B: "median (min-max)" of the pair ratios, "-" when missing
ratio_cell() {
    local r s
    r=$(pair_ratios "$1" "$2")
    [ -n "$r" ] || { echo -; return; }
    s=$(stats "$r")
    awk -v s="$s" 'BEGIN { split(s, v, " ")
        if (v[2] == v[3]) printf "%.3f", v[1]; else printf "%.3f (%.3f-%.3f)", v[1], v[2], v[3] }'
}
# abs_cell LIST SCALE DIGITS: "median (min-max)" of LIST / SCALE
abs_cell() {
    local s
    s=$(stats "$1") || true
    [ -n "$s" ] || { echo -; return; }
    awk -v s="$s" -v k="$2" -v d="$3" 'BEGIN { split(s, v, " ")
        f = "%." d "f"
        if (v[2] == v[3]) printf f, v[1] / k
        else printf f " (" f "-" f ")", v[1] / k, v[2] / k, v[3] / k }'
}
# jtriple STATS: "median min max" as a JSON array, null when empty
jtriple() { if [ -n "$1" ]; then printf '[%s]' "${1// /,}"; else echo null; fi; }
last() { local l=${1:-}; echo "${l##* }"; }
g() { echo "${val[$1]:-}"; }

md=$out_dir/$name.md
# shellcheck disable=SC2016  # the backquotes are Markdown's
{
    printf '# eroot mkfs against mkfs.erofs and mksquashfs\n\n'
    printf -- '- date: %s; total run time %d min %02d s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
        $((t_total / 60)) $((t_total % 60))
    printf -- '- tree: %s: %s entries, %s files, %.1f MiB of file data\n' "$tree_desc" "$entries" "$files" \
        "$(awk -v b="$tree_bytes" 'BEGIN { print b / 1048576 }')"
    printf -- '- host: %s, %s CPUs, %s GiB RAM; load average at the start %s\n' "$(uname -r)" "$(nproc)" \
        "$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" "$load_start"
    printf -- '- eroot: %s (%s, %s)%s; --workers: one per core\n' "$eroot_version" "$eroot_git" "$eroot_src" "$eroot_note"
    printf -- '- reference: %s, %s; --workers default %s\n' "$ref_version" "$ref_desc" "${ref_workers:-?}"
    printf -- '- mksquashfs: %s (host), 128 KiB blocks, all CPUs\n' "$sq_version"
    printf -- '- runs: %s pair(s) per row, %s for the slow rows and the anchors; builds interleaved (eroot first in odd runs), tree warm\n' \
        "$runs" "$slow_runs"
    printf -- '- cold read: mount -o ro (erofs: %s, squashfs: %s), drop_caches, tar -cf - of the mount | wc -c\n' \
        "${mount_how[erofs]:-?}" "${mount_how[squashfs]:-?}"
    printf -- '- ratios: eroot / reference, median of the per-pair ratios (min-max); below 1: eroot smaller, faster, leaner\n\n'

    printf '| row | eroot / ref size | eroot MiB | ref MiB | eroot / squashfs size | wall | peak RSS | cold read | pairs | check |\n'
    printf '|---|---|---|---|---|---|---|---|---|---|\n'
    for row in "${rows[@]}"; do
        es=$(last "$(g "$row|eroot|size")") rs=$(last "$(g "$row|mkfs.erofs|size")")
        a=${anchor_of[$row]} as=$(last "$(g "${a}|mksquashfs|size")")
        sizer=- sqr=- emib=- rmib=-
        [ -n "$es" ] && emib=$(awk -v b="$es" 'BEGIN { printf "%.1f", b / 1048576 }')
        [ -n "$rs" ] && rmib=$(awk -v b="$rs" 'BEGIN { printf "%.1f", b / 1048576 }')
        [ -n "$es" ] && [ -n "$rs" ] && sizer=$(awk -v a="$es" -v b="$rs" 'BEGIN { printf "%.3f", a / b }')
        [ -n "$es" ] && [ -n "$as" ] && sqr=$(awk -v a="$es" -v b="$as" -v n="${sq_args_of[$a]}" \
            'BEGIN { printf "%.3f (`%s`)", a / b, n }')
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${title_of[$row]}" "$sizer" "$emib" "$rmib" "$sqr" \
            "$(ratio_cell "$(g "$row|eroot|wall")" "$(g "$row|mkfs.erofs|wall")")" \
            "$(ratio_cell "$(g "$row|eroot|rss")" "$(g "$row|mkfs.erofs|rss")")" \
            "$(ratio_cell "$(g "$row|eroot|read")" "$(g "$row|mkfs.erofs|read")")" \
            "$(runs_of "$row")" "${v_status[$row]:-not checked}"
        jl kind row row "$row" title "${title_of[$row]}" eroot_args "${eroot_args_of[$row]}" \
            ref_args "${ref_args_of[$row]}" pairs "$(runs_of "$row")" \
            eroot_bytes "${es:-null}" ref_bytes "${rs:-null}" size_ratio "${sizer/-/null}" \
            anchor "$a" anchor_bytes "${as:-null}" \
            wall_ratio "$(jtriple "$(stats "$(pair_ratios "$(g "$row|eroot|wall")" "$(g "$row|mkfs.erofs|wall")")" || true)")" \
            rss_ratio "$(jtriple "$(stats "$(pair_ratios "$(g "$row|eroot|rss")" "$(g "$row|mkfs.erofs|rss")")" || true)")" \
            read_ratio "$(jtriple "$(stats "$(pair_ratios "$(g "$row|eroot|read")" "$(g "$row|mkfs.erofs|read")")" || true)")" \
            check "${v_status[$row]:-not checked}"
    done
    for key in ${fsck_done[@]+"${fsck_done[@]}"}; do
        for ref in fsck.erofs fsck.erofs-x; do
            if [ "$ref" = fsck.erofs ]; then what='--extract'; else what='--extract=DIR'; fi
            printf '| `eroot fsck` vs `fsck.erofs %s` (%s image of eroot) | - | - | - | - | %s | %s | - | %s | - |\n' \
                "$what" "${key#fsck-}" \
                "$(ratio_cell "$(g "$key|eroot|wall")" "$(g "$key|$ref|wall")")" \
                "$(ratio_cell "$(g "$key|eroot|rss")" "$(g "$key|$ref|rss")")" "$runs"
            jl kind row row "$key" title "eroot fsck vs fsck.erofs $what (${key#fsck-} image of eroot)" \
                ref "$ref" pairs "$runs" \
                wall_ratio "$(jtriple "$(stats "$(pair_ratios "$(g "$key|eroot|wall")" "$(g "$key|$ref|wall")")" || true)")" \
                rss_ratio "$(jtriple "$(stats "$(pair_ratios "$(g "$key|eroot|rss")" "$(g "$key|$ref|rss")")" || true)")"
        done
    done
    printf '\nAbsolute figures, median (min-max): wall and cold read in s, peak RSS in MiB.\n\n'
    printf '| row | tool | wall s | CPU s | peak RSS MiB | image MiB | cold read s |\n|---|---|---|---|---|---|---|\n'
    for row in "${rows[@]}" ${anchors[@]+"${anchors[@]}"} ${fsck_done[@]+"${fsck_done[@]}"}; do
        for tool in eroot mkfs.erofs mksquashfs fsck.erofs fsck.erofs-x; do
            [ -n "$(g "$row|$tool|wall")" ] || continue
            sz=$(last "$(g "$row|$tool|size")")
            printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$row" "$tool" \
                "$(abs_cell "$(g "$row|$tool|wall")" 1 2)" "$(abs_cell "$(g "$row|$tool|cpu")" 1 2)" \
                "$(abs_cell "$(g "$row|$tool|rss")" 1024 1)" \
                "$([ -n "$sz" ] && awk -v b="$sz" 'BEGIN { printf "%.2f", b / 1048576 }' || echo -)" \
                "$(abs_cell "$(g "$row|$tool|read")" 1 2)"
            jl kind summary row "$row" tool "$tool" bytes "${sz:-null}" \
                wall_s "$(jtriple "$(stats "$(g "$row|$tool|wall")" || true)")" \
                cpu_s "$(jtriple "$(stats "$(g "$row|$tool|cpu")" || true)")" \
                peak_rss_kib "$(jtriple "$(stats "$(g "$row|$tool|rss")" || true)")" \
                read_s "$(jtriple "$(stats "$(g "$row|$tool|read")" || true)")"
        done
    done

    printf '\nCommand lines (IMAGE, TREE; mkfs.erofs and fsck.erofs run as chroot %s ...):\n\n' "$chroot_dir"
    for row in "${rows[@]}"; do
        printf -- '- %s: `eroot mkfs -q%s IMAGE TREE`, `mkfs.erofs --quiet%s IMAGE TREE`; load %s -> %s\n' "$row" \
            "${eroot_args_of[$row]:+ ${eroot_args_of[$row]}}" "${ref_args_of[$row]:+ ${ref_args_of[$row]}}" "${load_before[$row]}" "${load_after[$row]:-?}"
    done
    for a in ${anchors[@]+"${anchors[@]}"}; do
        printf -- '- %s: `mksquashfs TREE IMAGE %s -no-progress -quiet -noappend`; load %s -> %s\n' "$a" \
            "${sq_args_of[$a]}" "${load_before[$a]}" "${load_after[$a]:-?}"
    done
    for key in ${fsck_done[@]+"${fsck_done[@]}"}; do
        printf -- '- %s: `eroot fsck -q IMAGE`, `fsck.erofs --extract IMAGE` (row fsck.erofs), `fsck.erofs --extract=DIR IMAGE` (row fsck.erofs-x, DIR removed between runs); load %s -> %s\n' \
            "$key" "${load_before[$key]}" "${load_after[$key]:-?}"
    done

    if [ ${#problems[@]} -gt 0 ]; then
        printf '\nPROBLEMS (%d, %d of them with eroot):\n\n' "${#problems[@]}" "$eroot_problems"
        printf -- '- %s\n' "${problems[@]}"
    else
        printf '\nNo problems: every build succeeded, every image mounted and read back, every eroot image matched the tree.\n'
    fi
} | tee "$md"
jl kind meta date "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" tree "$tree" entries "$entries" files "$files" \
    tree_bytes "$tree_bytes" eroot "$eroot_version" eroot_git "$eroot_git" reference "$ref_version" \
    mksquashfs "$sq_version" runs "$runs" slow_runs "$slow_runs" total_s "$t_total" problems "${#problems[@]}"
msg "results in $md and $jsonl (images and logs in $work)"
[ "$eroot_problems" -eq 0 ]
