#!/bin/sh
# Makes (once) a minimal Debian 12 root file system without Swift, with only libssh2-1 and libcurl4
# (Foundation's URLSession, for notification webhooks) added, for the test that runs the release
# binary on its own. It is cached at a fixed path (first argument, default
# /var/cache/megaplan-fleet-test-rootfs-curl, named for its package list so a checkout with another
# list never rebuilds it) so reruns cost nothing: debootstrap writes into a temporary folder beside it, renamed into place when complete, under a lock so concurrent runs
# build it once. Needs root, debootstrap and Debian's mirror. Prints the root's path.
set -eu
root=${1:-/var/cache/megaplan-fleet-test-rootfs-curl}
mirror=${MEGAPLAN_FLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9
if [ ! -x "$root/usr/bin/dpkg" ] || [ ! -e "$root/.megaplan-fleet-rootfs-complete" ]; then
    partial="$root.partial"
    rm -rf "$partial" "$root"
    debootstrap --variant=minbase --include=libssh2-1,libcurl4 bookworm "$partial" "$mirror" >"$root.log" 2>&1 || {
        tail -20 "$root.log" >&2
        exit 1
    }
    rm -rf "$partial/var/cache/apt/archives/"*.deb
    touch "$partial/.megaplan-fleet-rootfs-complete"
    mv "$partial" "$root"
fi
printf '%s\n' "$root"
