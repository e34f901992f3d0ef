#!/bin/sh
# in-rootfs.sh ROOT DIR PROGRAM [ARG...] — runs PROGRAM (a path inside ROOT) chrooted in ROOT, in
# DIR, with the caller's environment. It runs in a mount namespace of its own in which the host's
# /dev, /proc and /tmp (where the tests keep their scratch files, sshd keys and known_hosts) are
# bound into ROOT at the same paths; the mounts vanish with the namespace, so ROOT stays as it was.
# Nothing else of the host is visible: the program finds its libraries in ROOT alone. Needs root.
set -eu
[ $# -ge 3 ] || { echo "usage: in-rootfs.sh ROOT DIR PROGRAM [ARG...]" >&2; exit 64; }
exec /usr/bin/unshare --mount --propagation private /bin/sh -c '
    set -eu
    root=$1 dir=$2
    shift 2
    /usr/bin/mount --rbind /dev "$root/dev"
    /usr/bin/mount -t proc proc "$root/proc"
    /usr/bin/mount --bind /tmp "$root/tmp"
    exec /usr/sbin/chroot "$root" /usr/bin/env -C "$dir" "$@"' in-rootfs.sh "$@"
