# Helpers shared by the benchmark scripts (bench/mkfs.sh, compress.sh,
# archive.sh).  Sourced, not run.  The sourcing script sets prog and bench_dir
# (it needs the latter to find this file); the other places derive from it.
# shellcheck shell=bash disable=SC2154  # prog, bench_dir: set by the sourcing script

repo_root=$(cd "$bench_dir/.." && pwd)
cache_dir=$bench_dir/cache
out_dir=$bench_dir/out

msg()  { printf '%s: %s\n' "$prog" "$*" >&2; }
die()  { msg "error: $*"; exit 1; }

# ensure_commands CMD=PACKAGE...: install (with apt-get) the Debian packages of
# the commands that are missing.  The apt log goes to $out_dir/apt.log.
ensure_commands() {
    local pair missing=()
    for pair in "$@"; do
        command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "missing packages: ${missing[*]} (and no apt-get to install them)"
    msg "installing: ${missing[*]} (log: $out_dir/apt.log)"
    { apt-get update &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    } >"$out_dir/apt.log" 2>&1 ||
        { tail -n 20 "$out_dir/apt.log" >&2; die "installing ${missing[*]} failed"; }
}

# First Debian archive URI in the APT configuration (one-line or deb822 format),
# skipping the security archive.
find_mirror() {
    local f u
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        # deb [options] URI SUITE COMPONENTS...
        u=$(awk '$1 == "deb" {
                    i = 2
                    if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                    if (i <= NF && $i !~ /security/) { print $i; exit }
                }' "$f")
        [ -n "$u" ] && { printf '%s\n' "$u"; return 0; }
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        u=$(awk '$1 == "URIs:" {
                    for (i = 2; i <= NF; i++)
                        if ($i ~ /debian/ && $i !~ /security/) { print $i; exit }
                }' "$f")
        [ -n "$u" ] && { printf '%s\n' "$u"; return 0; }
    done
    return 1
}

# Unmount everything mounted at or below $1 (deepest first), so that removing a
# directory never reaches into the host through a bind mount.
unmount_below() {
    local dir=$1 m
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts |
        sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || msg "warning: cannot unmount $m"
        done
}

# bootstrap_tree SUITE TREE LOG: make TREE a "debootstrap --variant=minbase SUITE"
# tree, unless a finished one is there already (TREE.done marks it).  The mirror is
# $MIRROR or the first Debian one in the APT sources.  The debootstrap output goes
# to LOG and its duration (seconds) to LOG with .seconds in place of .log.
bootstrap_tree() {
    local suite=$1 tree=$2 log=$3
    local stamp=$tree.done partial=$tree.partial seconds=${3%.log}.seconds
    local mirror t0 t1

    if [ -f "$stamp" ] && [ -d "$tree" ]; then
        msg "using cached tree $tree"
        return 0
    fi
    mirror=${MIRROR:-$(find_mirror || echo http://deb.debian.org/debian)}
    if [ -e "$partial" ]; then
        msg "removing leftover $partial"
        unmount_below "$partial"
        rm -rf --one-file-system "$partial"
    fi
    rm -f "$stamp"
    if [ -e "$tree" ]; then
        unmount_below "$tree"
        rm -rf --one-file-system "$tree"
    fi
    mkdir -p "$(dirname "$tree")"
    msg "debootstrap --variant=minbase $suite from $mirror (log: $log)"
    t0=$(date +%s.%N)
    if ! debootstrap --variant=minbase "$suite" "$partial" "$mirror" >"$log" 2>&1; then
        unmount_below "$partial"
        tail -n 20 "$log" >&2
        die "debootstrap failed; see $log (the partial tree $partial is removed on the next run)"
    fi
    t1=$(date +%s.%N)
    unmount_below "$partial"
    mv "$partial" "$tree"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' > "$seconds"
    printf '%s %s\n' "$suite" "$mirror" > "$stamp"
    msg "debootstrap took $(cat "$seconds") s"
}

# find_eroot: print the absolute path of the eroot binary: $EROOT, or else
# build/tools/eroot/eroot in the repository, built with meson/ninja when missing.
find_eroot() {
    local eroot
    if [ -n "${EROOT:-}" ]; then
        eroot=$EROOT
        [ -x "$eroot" ] || die "EROOT=$eroot is not an executable file"
    else
        eroot=$repo_root/build/tools/eroot/eroot
        if [ ! -x "$eroot" ]; then
            msg "$eroot missing, building it (meson setup build && ninja -C build)"
            ( cd "$repo_root"
              [ -d build ] || meson setup build
              ninja -C build ) >"$out_dir/build.log" 2>&1 ||
                { tail -n 30 "$out_dir/build.log" >&2; die "building eroot failed; see $out_dir/build.log"; }
            [ -x "$eroot" ] || die "the build did not produce $eroot"
        fi
    fi
    printf '%s/%s\n' "$(cd "$(dirname "$eroot")" && pwd)" "$(basename "$eroot")"
}

# median of the numbers given as arguments (the lower middle one for an even count)
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
