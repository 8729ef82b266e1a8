#!/usr/bin/env bash
# Run by scripts/two-hosts inside the joiner's network namespace and a private mount
# namespace: starts a private D-Bus system bus and avahi-daemon bound to the veth only, checks
# that avahi-browse resolves the Chinwag hub with its TXT records, then announces a service
# with avahi-publish until told to stop. Usage: avahi-interop.sh WORK IFACE HUB_ID
set -euo pipefail
work=$1 iface=$2 hub_id=$3
mkdir -p /run/avahi-daemon "$work/dbus"
mount -t tmpfs tmpfs /run/avahi-daemon      # avahi's pid file, private to this namespace

cat >"$work/dbus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$work/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
CONF
cat >"$work/avahi.conf" <<CONF
[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=$iface
enable-dbus=yes
ratelimit-interval-usec=0
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
CONF
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$work/dbus/system_bus_socket"
dbus_pid=$(dbus-daemon --config-file="$work/dbus.conf" --fork --print-pid)
avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$work/avahi.conf" >"$work/avahi-daemon.log" 2>&1 &
avahi_pid=$!
publish_pid=""
stop() {
    [ -n "$publish_pid" ] && kill "$publish_pid" 2>/dev/null
    kill "$avahi_pid" 2>/dev/null
    kill "$dbus_pid" 2>/dev/null
    wait 2>/dev/null
}
trap stop EXIT
for _ in $(seq 50); do avahi-browse -at >/dev/null 2>&1 && break; sleep 0.1; done

ok=""
for _ in $(seq 10); do
    timeout 5 avahi-browse -rpt _chinwag._tcp >"$work/avahi-browse.out" 2>&1 || true
    if grep "^=" "$work/avahi-browse.out" | grep -q "\"id=$hub_id\"" \
        && grep "^=" "$work/avahi-browse.out" | grep -q '"name=Two hosts"' \
        && grep "^=" "$work/avahi-browse.out" | grep -q '"proto=2"'; then
        ok=1
        break
    fi
    sleep 0.5
done
if [ -z "$ok" ]; then
    echo "avahi-browse output:"; cat "$work/avahi-browse.out"; echo "avahi-daemon log:"; cat "$work/avahi-daemon.log"
    touch "$work/avahi-failed"
    exit 1
fi
avahi-publish -s "Avahi interop" _chinwag._tcp 7999 "id=avahi-interop-hub" "name=Published by avahi" "proto=2" \
    >"$work/avahi-publish.log" 2>&1 &
publish_pid=$!
touch "$work/avahi-ready"
for _ in $(seq 600); do [ -e "$work/avahi-done" ] && break; sleep 0.1; done
