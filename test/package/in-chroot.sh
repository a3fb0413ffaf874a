#!/bin/sh
# in-chroot.sh LOWER TMP DEB DATABASE_URL ARCHIVES: installs DEB with apt-get
# into a fresh root (an overlay of the cached chroot LOWER, its changes in
# TMP) and runs the package's programs there. Run it under
# `unshare --mount --propagation private`: every mount goes with the
# namespace, the cached chroot is never written, and ARCHIVES keeps the
# downloaded dependencies for the next run. Sections of the output start
# with "== name".
set -eu
lower=$1 tmp=$2 deb=$3 db_url=$4 archives=$5
root=$tmp/root
mkdir -p "$tmp/upper" "$tmp/work" "$root" "$archives/partial"
mount -t overlay overlay \
    -o "lowerdir=$lower,upperdir=$tmp/upper,workdir=$tmp/work" "$root"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind "$archives" "$root/var/cache/apt/archives"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

install() {
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "/tmp/${deb##*/}" 2>&1
}
echo "== install"
# The chroot's package lists are those of the day it was made: after a
# Debian point release the versions they name may be gone from the mirror.
install || { in_root apt-get update -q 2>&1 && install; }
echo "== version"
in_root welcomedlyd --version
echo "== migrate"
in_root env DATABASE_URL="$db_url" welcomedlyd migrate 2>&1
echo "== doctor"
# No Asterisk is reachable from here (a closed port): the doctor must say
# so with its fix, find the database fine, and fail.
in_root env DATABASE_URL="$db_url" ARI_URL=http://127.0.0.1:9 welcomedlyd doctor 2>&1 &&
    echo "doctor exit=0" || echo "doctor exit=$?"
echo "== ctl"
in_root welcomedlyctl --help | head -n 1
echo "== user"
in_root stat -c '%U:%G %a' /var/lib/welcomedly /etc/welcomedly/welcomedly.env
echo "== conffiles"
# shellcheck disable=SC2016 # dpkg-query's own ${field}, not the shell's.
in_root dpkg-query -W -f='${Conffiles}\n' welcomedly
echo "== unit"
ls "$root/lib/systemd/system/welcomedly.service"
echo "== end"
