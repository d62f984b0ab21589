#!/bin/bash
# SPDX-License-Identifier: MIT
# nbdcopy in and out of RAM and file exports, with multi-conn and many
# requests in flight, and from one iopd export to another; the copies are
# compared byte for byte (cmp, qemu-img compare).
. "$(dirname "$0")/lib.sh"
require nbdcopy nbdinfo qemu-img cmp python3

make_data "$T/src" 64 || { not_ok "make 64 MiB of test data"; done_testing; exit 1; }
for f in disk disk2; do truncate -s 64M "$T/$f.img"; done

start_iopd ram=ram:64M ram2=ram:64M ram3=ram:64M \
	"disk=file:$T/disk.img" "disk2=file:$T/disk2.img" || { done_testing; exit 1; }

# roundtrip DESC URI [NBDCOPY-OPTIONS...]: file -> export -> file, cmp.
roundtrip() {
	local desc=$1 uri=$2
	shift 2
	rm -f "$T/back"
	check "$desc: nbdcopy $* file -> $uri" t nbdcopy "$@" "$T/src" "$uri" &&
		check "$desc: nbdcopy $* $uri -> file" t nbdcopy "$@" "$uri" "$T/back" &&
		check "$desc: data read back equals data written" cmp "$T/src" "$T/back"
}

roundtrip "ram" "$(uri_unix ram)"
check "ram: qemu-img compare with the source" \
	t qemu-img compare -f raw -F raw "$T/src" "$(uri_unix ram)"
# nbdcopy turns the zero runs into zero requests; a sparse RAM disk keeps
# them as zeroes.
if check "ram: nbdinfo --map" t nbdinfo --map --json "$(uri_unix ram)"; then
	cp "$T/out" "$T/map.json"
	check "ram: the 1 MiB zero run reads as zero in the map, data around it does not" \
		map_check "$T/map.json" 64M zero:16M:1M data:15M:1M data:17M:1M
fi

roundtrip "file" "$(uri_unix disk)"
check "file: the backing file holds the data" cmp "$T/src" "$T/disk.img"
check "file: qemu-img compare with the source" \
	t qemu-img compare -f raw -F raw "$T/src" "$(uri_unix disk)"

roundtrip "multi-conn" "$(uri_unix ram2)" --connections=4 --requests=16
roundtrip "multi-conn over TCP" "$(uri_tcp disk2)" --connections=4 --requests=16 --request-size=1048576

# nbd -> nbd, between two exports of one daemon, and between two daemons
# (one over TCP)
check "nbd -> nbd: nbdcopy disk -> ram3" \
	t nbdcopy --connections=2 "$(uri_unix disk)" "$(uri_unix ram3)"
check "nbd -> nbd: ram3 equals the source (qemu-img compare)" \
	t qemu-img compare -f raw -F raw "$T/src" "$(uri_unix ram3)"
sock1=$IOPD_SOCK
pid1=$IOPD_PID
if start_iopd other=ram:64M; then
	check "nbd -> nbd across daemons, unix -> tcp" \
		t nbdcopy "$(uri_unix ram3 "$sock1")" "$(uri_tcp other)"
	check "second daemon's copy equals the source" \
		t qemu-img compare -f raw -F raw "$T/src" "$(uri_tcp other)"
	stop_iopd
fi
iopd_alive "first daemon alive after the copies" "$pid1"
stop_iopd "$pid1"
done_testing
