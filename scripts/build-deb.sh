#!/usr/bin/env bash
# Builds the Debian package of writeback with dpkg-deb alone (no extra cargo tool to
# install): /usr/bin/writeback, the hardened unit, the man page, the example config and
# the docs, with a control file whose version is the workspace's.
#
# Usage: scripts/build-deb.sh [BINARY]
#   without BINARY: `cargo build --release -p writeback-cli` and package that (as shipped)
#   with BINARY:    package that file instead (CI packages the binary its tests built,
#                   so the check costs seconds, not another build of the whole tree)
# Prints the path of the .deb (target/debian/writeback_<version>_<arch>.deb).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked -p writeback-cli --bin writeback >&2
  bin=target/release/writeback
fi
[ -x "$bin" ] || { echo "build-deb: $bin is not an executable" >&2; exit 1; }
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
[ -n "$version" ] || { echo "build-deb: no version in Cargo.toml [workspace.package]" >&2; exit 1; }
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -D -m 0755 "$bin" "$stage/usr/bin/writeback"
strip --strip-debug "$stage/usr/bin/writeback"
install -D -m 0644 packaging/writeback.service "$stage/lib/systemd/system/writeback.service"
install -d "$stage/usr/share/man/man1"
gzip -9n < packaging/writeback.1 > "$stage/usr/share/man/man1/writeback.1.gz"
install -D -m 0644 examples/config/writeback.toml "$stage/usr/share/doc/writeback/examples/writeback.toml"
install -m 0644 README.md docs/operations.md "$stage/usr/share/doc/writeback/"
install -D -m 0755 packaging/debian/postinst "$stage/DEBIAN/postinst"
# The binary links only the C library and the GCC runtime (rustls, no OpenSSL).
libs=$(objdump -p "$stage/usr/bin/writeback" | awk '/NEEDED/ {print $2}' | sort -u | tr '\n' ' ')
for lib in $libs; do
  case "$lib" in
    libc.so.6|libm.so.6|libgcc_s.so.1|ld-linux*|libdl.so.2|libpthread.so.0|librt.so.1) ;;
    *) echo "build-deb: the binary needs $lib, which the control file does not depend on" >&2; exit 1 ;;
  esac
done
size=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: writeback
Version: $version-1
Architecture: $arch
Maintainer: writeback maintainers
Section: net
Priority: optional
Installed-Size: $size
Depends: libc6 (>= 2.34), libgcc-s1
Description: password writeback from cloud identity services to on-premises directories
 Writes passwords reset or changed in a cloud identity service back to on-premises
 directories (OpenLDAP, Active Directory, Samba AD, 389 DS). Installs the writeback
 binary, a hardened systemd unit (not enabled: write /etc/writeback/writeback.toml
 first), an example config and the man page.
CONTROL
mkdir -p target/debian
deb="target/debian/writeback_${version}-1_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >&2
echo "$deb"
