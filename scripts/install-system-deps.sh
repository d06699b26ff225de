#!/usr/bin/env bash
# Debian packages meshtap's tests, bench and lab use. Idempotent; needs root.
set -euo pipefail
pkgs=(iptables iproute2 iputils-ping procps util-linux openssl curl haproxy redis-server redis-tools postgresql-15 postgresql-client-15 mariadb-server mariadb-client chromium tshark dnsmasq-base bind9-dnsutils kmod)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# nat REDIRECT and owner matches need these; harmless when built in
modprobe -q iptable_nat 2>/dev/null || true
modprobe -q xt_owner 2>/dev/null || true
# the lab DNATs service VIPs on the node: its bridge must pass frames through iptables
modprobe -q br_netfilter 2>/dev/null || true
