#!/bin/sh
# The access point of scripts/test-qemu.sh's Wi-Fi check, run inside the
# guest (copied to its boot partition as ap.sh): the second simulated radio
# (phy1) moved into a network namespace of its own, hostapd (WPA2) and a
# DHCP server on it. `ap.sh probe ADDR` connects from that namespace to
# ADDR:25, and `ap.sh mdns ADDR NAME` asks ADDR's mDNS responder for NAME,
# so the bytes can only travel over the simulated radio.
set -e
ns() { nsenter -t "$(cat /tmp/ap-ns.pid)" -n "$@"; }
case "$1" in
start)
	unshare -n sleep 100000 &
	echo $! > /tmp/ap-ns.pid
	sleep 1
	iw phy phy1 set netns "$(cat /tmp/ap-ns.pid)"
	printf '%s\n' interface=wlan1 driver=nl80211 ssid=smolmail-test hw_mode=g channel=6 \
		country_code=DE ieee80211d=1 wpa=2 wpa_key_mgmt=WPA-PSK rsn_pairwise=CCMP \
		"wpa_passphrase=correct horse battery" > /tmp/hostapd.conf
	printf '%s\n' "start 192.168.77.100" "end 192.168.77.150" "interface wlan1" \
		"lease_file /tmp/udhcpd.leases" "pidfile /tmp/udhcpd-ap.pid" "option subnet 255.255.255.0" > /tmp/udhcpd.conf
	: > /tmp/udhcpd.leases
	ns ip link set lo up
	ns ip link set wlan1 up
	ns ip addr add 192.168.77.1/24 dev wlan1
	ns hostapd -B -P /tmp/hostapd.pid /tmp/hostapd.conf > /tmp/hostapd.log 2>&1
	ns udhcpd /tmp/udhcpd.conf
	echo "access point up"
	;;
probe)
	printf 'QUIT\r\n' | ns nc -w 10 "$2" 25 | head -n 1
	;;
mdns)
	# `ap.sh mdns ADDR [NAME]` (mail.local): a one-shot (legacy unicast, RFC 6762 §6.7)
	# mDNS query for NAME's A record to ADDR:5353, over the radio; tried
	# for up to 30 s (the board probes for its name after the address comes)
	i=0
	while [ "$i" -lt 10 ]; do
		out=$(ns nslookup -type=a -port=5353 -timeout=2 -retry=1 "${3:-mail.local}" "$2" 2>&1) || true
		echo "$out" | grep -q "^Address: *$2\$" && { echo "$out" | grep "^Address: *$2"; exit 0; }
		i=$((i + 1))
	done
	echo "no answer: $out"
	exit 1
	;;
esac
