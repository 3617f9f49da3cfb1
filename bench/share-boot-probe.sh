#!/bin/sh
# bench/share's boot probe (see there): page-cache sharing between an eroot
# initrd's image and the real root, an EROFS image in the same domain.
# Run twice: as an initramfs-tools init-bottom script (the real root is
# mounted at $rootmnt, the initrd's image is still the root), and as the
# real root's init= (PID 1, after the switch).  /share-list holds one line
# "KIND INITRD-PATH ROOT-PATH" per file of equal content in both (KIND:
# mod, lib or other).  It reports on ttyS1, "SHARE ..." lines.
PREREQ="udev"
case $1 in prereqs) echo "$PREREQ"; exit 0 ;; esac
PATH=/usr/sbin:/usr/bin:/sbin:/bin
[ -r /proc/meminfo ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -c /dev/ttyS1 ] || mount -t devtmpfs devtmpfs /dev
out=/dev/ttyS1
mem() {	# cached, avail, free in kB
	while read -r key value _; do
		case $key in
		Cached:) cached=$value ;;
		MemAvailable:) avail=$value ;;
		MemFree:) free=$value ;;
		esac
	done </proc/meminfo
}
# resident kB of the ROOT-PATHs of KIND (util-linux fincore of the root)
resident() {
	kind=$1 sum=0
	paths=$(while read -r k _ r; do [ "$k" = "$kind" ] && echo "/$r"; done </share-list)
	for n in $($chroot fincore -b -n -r -o RES $paths 2>/dev/null); do
		sum=$((sum + n))
	done
	echo $((sum / 1024))
}
readall() {	# KIND, initrd|root
	while read -r k i r; do
		[ "$k" = "$1" ] || continue
		if [ "$2" = initrd ]; then cat "/$i"; else cat "$root/$r"; fi
	done </share-list >/dev/null
}
mounts() {	# the EROFS mounts and whether inode_share stayed on
	while read -r _ _ _ _ mnt _ rest; do
		case $rest in
		*"- erofs "*)
			opts=${rest##* }
			case $opts in *inode_share*) s=on ;; *) s=off ;; esac
			echo "SHARE mount at=$mnt inode_share=$s" >$out ;;
		esac
	done </proc/self/mountinfo
}
if [ $$ != 1 ]; then
	stage=bottom root=${rootmnt:-/root} chroot="chroot $root"
else
	stage=after root=/ chroot=
	# let the old root's release finish: MemAvailable stable (as tests/boot.py)
	mem
	settle=0 still=0
	while [ $settle -lt 50 ] && [ $still -lt 3 ]; do
		last=$avail
		sleep 0.2
		mem
		settle=$((settle + 1))
		if [ $avail -lt $((last + 1024)) ]; then still=$((still + 1)); else still=0; fi
	done
fi
mounts
mem
echo "SHARE $stage start cached=$cached avail=$avail free=$free" >$out
for kind in mod lib other; do
	res0=$(resident $kind)
	mem; c0=$cached
	if [ $stage = bottom ]; then readall $kind initrd; fi
	mem; c1=$cached
	res1=$(resident $kind)
	readall $kind root
	mem
	echo "SHARE $stage kind=$kind res0=$res0 initrd_read=$((c1 - c0)) res1=$res1 root_read=$((cached - c1))" >$out
done
mem
echo "SHARE $stage end cached=$cached avail=$avail free=$free" >$out
if [ $stage = after ]; then
	echo "SHARE-DONE" >$out
	sync
	echo o >/proc/sysrq-trigger
	while :; do sleep 60; done
fi
exit 0
