#!/usr/bin/env bash
# Benchmark "eroot mkfs" against mkfs.erofs, mksquashfs and cpio on a Debian
# minbase root tree.  Run as root from anywhere:  bench/mkfs.sh [-n RUNS] [--no-eroot]
#
# Environment:
#   EROOT    path of the eroot binary (default: build/tools/eroot/eroot under the
#            repository root; built with meson/ninja when missing)
#   SUITE    Debian suite to bootstrap (default: bookworm)
#   MIRROR   Debian mirror (default: the first Debian URI found in the APT sources)
#
# Everything fetched is cached under bench/cache/, every output goes to bench/out/.

set -euo pipefail

prog=${0##*/}
bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

SUITE=${SUITE:-bookworm}
runs=3
with_eroot=1

# shellcheck source=common.sh
. "$bench_dir/common.sh"

usage() {
    cat <<EOF
usage: $prog [-n RUNS] [--no-eroot]

Builds (once, cached in bench/cache/) a Debian $SUITE minbase tree with debootstrap,
then times eroot mkfs, mkfs.erofs (uncompressed), mksquashfs (uncompressed) and
cpio (newc) on it, RUNS times each (default 3), and prints the medians.

  -n RUNS      number of timed runs per tool (default 3)
  --no-eroot   leave eroot out (measure the reference tools only)
  -h, --help   this help

Environment: EROOT (eroot binary), SUITE (default bookworm), MIRROR.
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        -n) [ $# -ge 2 ] || { usage >&2; exit 2; }; runs=$2; shift 2 ;;
        -n*) runs=${1#-n}; shift ;;
        --no-eroot) with_eroot=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
case $runs in
    ''|*[!0-9]*|0) msg "error: -n wants a positive integer, got '$runs'"; exit 2 ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap needs it, and the tree holds root-owned files and device nodes)"
mkdir -p "$cache_dir" "$out_dir"

# ---------------------------------------------------------------- tools ----

ensure_commands debootstrap=debootstrap mkfs.erofs=erofs-utils mksquashfs=squashfs-tools \
    cpio=cpio /usr/bin/time=time

# ------------------------------------------------------------ the tree -----

tree=$cache_dir/$SUITE-minbase
bootstrap_tree "$SUITE" "$tree" "$cache_dir/debootstrap.log"

# --------------------------------------------------------------- eroot -----

eroot=
if [ "$with_eroot" -eq 1 ]; then
    eroot=$(find_eroot) || die "no eroot binary (pass --no-eroot to measure the reference tools only)"
fi

# ------------------------------------------------------------ measuring ----

msg "warm-up: reading the whole tree once"
( cd "$tree" && find . -type f -print0 | xargs -0 -r cat ) > /dev/null

files=$(find "$tree" -type f | wc -l)
dirs=$(find "$tree" -type d | wc -l)
links=$(find "$tree" -type l | wc -l)
others=$(find "$tree" ! -type f ! -type d ! -type l | wc -l)
tree_bytes=$(du -s --apparent-size -B1 "$tree" | cut -f1)

# Each tool: a name, the output file, and a command line run by bash.  $T is the
# tree, $O the output; they are passed through the environment so that no
# quoting is needed here.
names=()
declare -A cmd_of out_of
add_tool() { names+=("$1"); out_of[$1]=$out_dir/$2; cmd_of[$1]=$3; }

# shellcheck disable=SC2016  # expanded later, by bash -c
if [ -n "$eroot" ]; then
    add_tool eroot image.eroot.erofs '"$EROOT_BIN" mkfs -q "$O" "$T"'
fi
# shellcheck disable=SC2016
add_tool mkfs.erofs image.mkfs-erofs.erofs 'mkfs.erofs --quiet "$O" "$T"'
# shellcheck disable=SC2016
add_tool mksquashfs image.squashfs 'mksquashfs "$T" "$O" -noI -noD -noF -noX -no-progress -noappend'
# shellcheck disable=SC2016
add_tool cpio archive.cpio 'cd "$T" && find . -print0 | cpio --null -o -H newc --quiet > "$O"'

rm -f "$out_dir"/*.run*.log "$out_dir"/*.run*.time
declare -A wall cpu rss size
for name in "${names[@]}"; do
    out=${out_of[$name]}
    ws=() cs=() ms=() ss=()
    for ((i = 1; i <= runs; i++)); do
        msg "$name: run $i/$runs"
        rm -f "$out"
        log=$out_dir/$name.run$i.log
        tfile=$out_dir/$name.run$i.time
        if ! T=$tree O=$out EROOT_BIN=$eroot \
             /usr/bin/time -f '%e %U %S %M' -o "$tfile" bash -c "${cmd_of[$name]}" >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            die "$name failed on run $i; see $log"
        fi
        [ -f "$out" ] || die "$name produced no $out"
        read -r e u s m < "$tfile"
        ws+=("$e")
        cs+=("$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')")
        ms+=("$m")
        ss+=("$(stat -c %s "$out")")
    done
    wall[$name]=$(median "${ws[@]}")
    cpu[$name]=$(median "${cs[@]}")
    rss[$name]=$(median "${ms[@]}")
    size[$name]=$(median "${ss[@]}")
done

# Sanity check (not timed): the eroot image must pass its own fsck.
eroot_fsck=
if [ -n "$eroot" ]; then
    if "$eroot" fsck -q "${out_of[eroot]}" >"$out_dir/eroot-fsck.log" 2>&1; then
        eroot_fsck="eroot fsck: clean"
    else
        eroot_fsck="eroot fsck: FAILED (exit $?), see $out_dir/eroot-fsck.log"
    fi
fi

# ------------------------------------------------------------- report ------

report=$out_dir/results.txt
{
    printf 'tree: %s (%s), %s files, %s dirs, %s symlinks, %s other, %.1f MiB of data\n' \
        "$tree" "$SUITE minbase" "$files" "$dirs" "$links" "$others" \
        "$(awk -v b="$tree_bytes" 'BEGIN { print b / 1048576 }')"
    printf 'host: %s, %s CPUs; median of %s runs, tree warm in the page cache\n' \
        "$(uname -r)" "$(nproc)" "$runs"
    [ -n "$eroot" ] && printf 'eroot: %s\n' "$eroot"
    printf '\n%-12s %9s %9s %13s %13s\n' tool "wall s" "CPU s" "peak RSS MiB" "output MiB"
    for name in "${names[@]}"; do
        awk -v n="$name" -v w="${wall[$name]}" -v c="${cpu[$name]}" -v r="${rss[$name]}" -v s="${size[$name]}" \
            'BEGIN { printf "%-12s %9.2f %9.2f %13.1f %13.2f\n", n, w, c, r / 1024, s / 1048576 }'
    done
    printf '\nratio to mkfs.erofs (tool / mkfs.erofs; below 1 is smaller or faster)\n'
    printf '%-12s %9s %9s %13s %13s\n' tool wall CPU "peak RSS" size
    ref=mkfs.erofs
    for name in "${names[@]}"; do
        [ "$name" = "$ref" ] && continue
        awk -v n="$name" \
            -v w="${wall[$name]}" -v c="${cpu[$name]}" -v r="${rss[$name]}" -v s="${size[$name]}" \
            -v W="${wall[$ref]}" -v C="${cpu[$ref]}" -v R="${rss[$ref]}" -v S="${size[$ref]}" '
            function q(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
            BEGIN { printf "%-12s %9s %9s %13s %13s\n", n, q(w, W), q(c, C), q(r, R), q(s, S) }'
    done
    [ -n "$eroot_fsck" ] && printf '\n%s\n' "$eroot_fsck"
    true
} | tee "$report"
msg "results saved in $report"
