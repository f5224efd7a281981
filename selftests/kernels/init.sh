#!/bin/busybox sh
# /init of the guest (busybox sh).  Stage 1, in the initramfs: load the
# modules, put an overlay (tmpfs upper) over the host's / shared read-only,
# mount the API filesystems in it and switch_root.  Stage 2, as PID 1 of
# the new root: run the host's command with its output on the virtio
# port "howlong.out", report "start" and "exit N" on "howlong.status",
# power off.  Kernel messages stay on the console, which the host only
# logs.  A guest of another architecture (FOREIGN=1) cannot run the
# host's programs: given a root of its own architecture on the host
# (FOREIGN_ROOT, from the run's /howlong/env), that is the overlay's
# lower layer and the host's HOSTDIR (the command's tree) is laid over
# it at the same path; without one it stays in the initramfs, with the
# host's / at /lower, and runs the command with busybox (stage_foreign).

B=/run/howlong/busybox

# A failure before the command runs: say why where the host looks, stop.
die() {
	echo "fail $*" >&3
	echo "howlong init: $*" >/dev/console
	poweroff_now
}

poweroff_now() {
	echo o >/proc/sysrq-trigger
	sleep 30
	exit 1		# PID 1 exiting panics; panic=-1 and -no-reboot end qemu
}

# The virtio ports appear once virtio_console has probed the device.
port() {
	for i in $(seq 50); do
		for p in /sys/class/virtio-ports/*; do
			[ "$(cat "$p/name" 2>/dev/null)" = "$1" ] &&
				echo "/dev/${p##*/}" && return 0
		done
		sleep 0.1
	done
	return 1
}

stage1() {
	/bin/busybox --install -s /bin
	export PATH=/bin
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	exec 3>/dev/console
	. /howlong.conf
	[ -f /howlong/env ] && . /howlong/env
	while read -r m; do
		insmod "/modules/$m" || die "insmod $m failed"
	done </modules/order
	st=$(port howlong.status) || die "no virtio port howlong.status"
	exec 3>"$st"

	case $ROOTFS in
	9p)	mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 \
			hostroot /lower ;;
	virtiofs)
		mount -t virtiofs -o ro hostroot /lower ;;
	esac || die "cannot mount the host's / ($ROOTFS)"
	[ "$FOREIGN" = 1 ] && [ -z "$FOREIGN_ROOT" ] && stage_foreign
	mount -t tmpfs -o mode=755 rw /rw
	mkdir /rw/upper /rw/work
	mount -t overlay -o lowerdir=/lower$FOREIGN_ROOT,upperdir=/rw/upper,workdir=/rw/work \
		overlay /newroot || die "cannot mount the overlay"
	if [ -n "$FOREIGN_ROOT" ]; then
		mkdir -p /rw/h/upper /rw/h/work "/newroot$HOSTDIR"
		mount -t overlay -o lowerdir="/lower$HOSTDIR",upperdir=/rw/h/upper,workdir=/rw/h/work \
			overlay "/newroot$HOSTDIR" || die "cannot lay $HOSTDIR over the root"
	fi

	n=/newroot
	mount -t proc proc $n/proc
	mount -t sysfs sysfs $n/sys
	mount -t devtmpfs devtmpfs $n/dev
	ln -sfn /proc/self/fd $n/dev/fd
	ln -sfn /proc/self/fd/0 $n/dev/stdin
	ln -sfn /proc/self/fd/1 $n/dev/stdout
	ln -sfn /proc/self/fd/2 $n/dev/stderr
	mkdir -p $n/dev/pts $n/dev/shm
	mount -t devpts -o newinstance,ptmxmode=0666 devpts $n/dev/pts
	mount -t tmpfs -o mode=1777 shm $n/dev/shm
	# /tmp stays the overlay's (writes go to its tmpfs upper): a tree
	# checked out below the host's /tmp must be there for the tests.
	mount -t tmpfs -o mode=755 run $n/run
	mount -t debugfs debugfs $n/sys/kernel/debug
	mount -t tracefs tracefs $n/sys/kernel/tracing
	mount -t bpf bpf $n/sys/fs/bpf
	mount -t cgroup2 cgroup2 $n/sys/fs/cgroup
	# The kernel's own modules, unpacked on the host, where modprobe
	# looks; /lib may be a symlink into /usr, mkdir follows it.
	mkdir -p "$n/lib/modules/$KVER"
	mount --bind "/lower$MODDIR" "$n/lib/modules/$KVER" ||
		die "cannot bind $MODDIR"
	hostname "howlong-$KNAME"
	# Loopback, as on any machine: tests talk to servers on 127.0.0.1.
	ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up ||
		die "cannot bring up lo"

	mkdir -p $n/run/howlong
	cp /bin/busybox /init /howlong/run $n/run/howlong/
	exec 3>&-
	exec switch_root $n $B sh /run/howlong/init stage2
}

# The API filesystems where the tools look, in the initramfs itself.
stage_foreign() {
	mkdir -p /tmp /run
	mount -t tmpfs -o mode=1777 tmp /tmp
	mount -t tmpfs -o mode=755 run /run
	mount -t debugfs debugfs /sys/kernel/debug
	mount -t tracefs tracefs /sys/kernel/tracing
	mount -t bpf bpf /sys/fs/bpf
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	mkdir -p /dev/shm /dev/pts
	mount -t tmpfs -o mode=1777 shm /dev/shm
	ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
	hostname "howlong-$KNAME"
	out=$(port howlong.out) || die "no virtio port howlong.out"
	echo start >&3
	sh /howlong/run "$out"
	echo "exit $?" >&3
	exec 3>&-
	sync
	echo o >/proc/sysrq-trigger
	sleep 30
}

stage2() {
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	export HOME=/root TERM=dumb
	st=$(port howlong.status) || exit 1
	exec 3>"$st"
	out=$(port howlong.out) || die "no virtio port howlong.out"
	echo start >&3
	# The host's /bin/sh, not busybox: busybox may run its own applets
	# in place of the programs the command names.
	/bin/sh /run/howlong/run "$out"
	echo "exit $?" >&3
	exec 3>&-
	$B sync
	echo o >/proc/sysrq-trigger
	$B sleep 30
}

case "$1" in
"")	stage1 ;;
stage2)	stage2 ;;
esac
