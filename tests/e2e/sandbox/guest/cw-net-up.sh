#!/bin/sh
# Runs inside a sandbox worker before ssh.service: gives the worker's end of
# the nspawn bridge link the address the harness chose for this boot.
# CW_IFACE and CW_ADDRESS come from /etc/cw-worker/net.env (EnvironmentFile=).
set -eu

iface=${CW_IFACE:?}
address=${CW_ADDRESS:?}

ip link set lo up
if [ -w "/proc/sys/net/ipv6/conf/$iface/disable_ipv6" ]; then
  # IPv4 only: no router solicitations or other IPv6 chatter on the bridge.
  echo 1 > "/proc/sys/net/ipv6/conf/$iface/disable_ipv6"
fi
ip addr replace "$address" dev "$iface"
ip link set "$iface" up
