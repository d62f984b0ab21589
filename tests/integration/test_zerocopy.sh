#!/bin/bash
# SPDX-License-Identifier: MIT
# Zero-copy READs: a file export on tmpfs sends reads of 16 KiB and more
# straight from a read-only mapping of the file (sendfile if it can't be
# mapped) instead of through a buffer.  The bytes must be exactly those
# of the file, with simple and structured replies, pipelined, over Unix
# and TCP, mixed with writes; a file that shrinks under a read promised
# in full must cost that one client its connection (observable proof
# that the zero-copy path ran; no SIGBUS: only the kernel reads the
# mapping), not the daemon; and clients that hang up, or whose export is
# removed, with mapped replies queued leave the daemon serving.
. "$(dirname "$0")/lib.sh"
require nbdcopy qemu-io cmp python3 truncate

if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" != tmpfs ]; then
	skip_all "/dev/shm is not a tmpfs"
fi
S=$(mktemp -d /dev/shm/iopd-zerocopy.XXXXXX) || {
	not_ok "mktemp -d /dev/shm"
	done_testing
	exit 1
}
on_exit "rm -rf $S"

make_data "$T/src" 48 || { not_ok "make 48 MiB of test data"; done_testing; exit 1; }
cp "$T/src" "$S/disk.img"
cp "$T/src" "$S/shrink.img"
cp "$T/src" "$S/count.img"
cp "$T/src" "$S/victim.img"
cp "$T/src" "$S/stalled.img"
start_iopd --listen "unix:$T/sock" --listen 127.0.0.1:0 \
	--metrics-listen 127.0.0.1:0 "disk=file:$S/disk.img" \
	"shrink=file:$S/shrink.img" "count=file:$S/count.img" \
	"victim=file:$S/victim.img" "stalled=file:$S/stalled.img" \
	--mgmt-socket "$T/mgmt.sock" --drain-timeout 2 ||
	{ done_testing; exit 1; }

for rs in 65536 1048576 4194304; do
	rm -f "$T/back"
	check "nbdcopy --request-size=$rs over Unix reads the file" \
		t nbdcopy --request-size=$rs --requests=8 "$(uri_unix disk)" "$T/back" &&
		check "... byte for byte" cmp "$T/src" "$T/back"
done
rm -f "$T/back"
check "nbdcopy --connections=4 over TCP" \
	t nbdcopy --connections=4 --request-size=1048576 "$(uri_tcp disk)" "$T/back" &&
	check "... byte for byte" cmp "$T/src" "$T/back"

# Writes then zero-copy reads of what was written, at odd offsets and
# lengths either side of the 64 KiB threshold.
check "qemu-io: writes then reads back the patterns" \
	qio "$(uri_unix disk)" \
	"write -P 0x5a 12345 200000" "read -P 0x5a 12345 200000" \
	"write -P 0xa5 3000000 65536" "read -P 0xa5 3000000 65536" \
	"write -P 0x33 7340032 4194304" "read -P 0x33 7340032 4194304" \
	"read -P 0x5a 12345 65535"
# Either side of the 16 KiB mapping threshold.
check "qemu-io: reads across the 16 KiB threshold" \
	qio "$(uri_unix disk)" \
	"write -P 0x77 1000000 16384" "read -P 0x77 1000000 16384" \
	"read -P 0x77 1000000 16383" "read -P 0x77 1000001 16383"

# Raw clients: simple and structured replies, many reads in flight.
check "simple and structured replies carry the file's bytes, pipelined" \
	nbdpy "$S/disk.img" <<'EOF'
import sys, random
from nbdproto import *
img = open(sys.argv[1], "rb").read()
random.seed(7)
for structured in (False, True):
    c = connect("disk", structured=structured)
    reqs = {}
    for i in range(64):
        ln = random.choice([65536, 65536 + 512, 262144, 1 << 20, 3 << 20])
        off = random.randrange(0, len(img) - ln)
        reqs[c.request(CMD_READ, off, ln)] = (off, ln)
    while reqs:
        h, err, data, _ = c.reply()
        off, ln = reqs.pop(h)
        assert err == 0, err
        assert data == img[off:off + ln], "bytes differ at %d+%d" % (off, ln)
    err, data = c.read(len(img) - 65536, 65536)
    assert err == 0 and data == img[-65536:]
    err, _ = c.read(len(img) - 65536, 131072)
    assert err == EINVAL, err  # past the end: an error, not a short send
    assert c.disc()
EOF

# Zero-copy reads are READs like any other for the metrics.
check "five 1 MiB reads and one refused" nbdpy <<'EOF'
from nbdproto import *
c = connect("count")
for i in range(5):
    err, d = c.read(i << 20, 1 << 20)
    assert err == 0 and len(d) == 1 << 20
assert c.read((48 << 20) - 65536, 131072)[0] == EINVAL
assert c.disc()
EOF
if check "scrape /metrics" t curl -sf -o "$T/prom.txt" "http://$IOPD_METRICS/metrics"; then
	# (the NBD engine refuses the out-of-range one itself: never counted)
	check "metrics count them: 5 reads, 5 MiB, no error" python3 - "$T/prom.txt" <<'EOF'
import re, sys
want = {"iopd_requests_total": 5, "iopd_bytes_total": 5 << 20,
        "iopd_request_errors_total": 0}
got = {}
for line in open(sys.argv[1]):
    m = re.match(r'(\w+)\{([^}]*)\} (\S+)$', line.strip())
    if not m or m.group(1) not in want:
        continue
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
    if labels.get("device") == "count" and labels.get("op") == "read":
        got[m.group(1)] = float(m.group(3))
assert got == want, (got, want)
EOF
fi

# Shrink the file under a client that has asked for its tail: the reply
# header promised the bytes, so the connection must end (no hang, no
# crash), and everybody else goes on.
check "a file that shrank under a read ends that connection" \
	nbdpy "$S/shrink.img" <<'EOF'
import os, sys
from nbdproto import *
c = connect("shrink", structured=False)
size = os.path.getsize(sys.argv[1])
err, data = c.read(size - (1 << 20), 1 << 20)
assert err == 0 and len(data) == 1 << 20
os.truncate(sys.argv[1], size // 2)
c.request(CMD_READ, size - (1 << 20), 1 << 20)
assert closed_by_peer(c.s), "connection stayed open"
EOF
check "the daemon still serves the other export" \
	qio "$(uri_unix disk)" "read -P 0x5a 12345 200000"
iopd_alive "daemon alive after the shrink"

# Clients that hang up with mapped replies queued (the socket full, the
# rest waiting in the output queue): the connection's mapping goes only
# with its queue.
check "twenty clients hang up behind 64 queued 1 MiB reads each" \
	nbdpy <<'EOF'
from nbdproto import *
for n in range(20):
    c = connect("disk", structured=bool(n & 1))
    for i in range(64):
        c.request(CMD_READ, (i % 40) << 20, 1 << 20)
    c.close()
EOF
check "... the daemon still reads the file right" \
	qio "$(uri_unix disk)" "read -P 0x5a 12345 200000" "read -P 0x77 1000000 16384"

# An export removed while a client that stopped reading has mapped
# replies queued: closed after the drain timeout, the daemon goes on.
nbdpy "$T/sent" >/dev/null 2>&1 <<'EOF' &
import sys, time
from nbdproto import *
c = connect("stalled")
for i in range(64):
    c.request(CMD_READ, (i % 40) << 20, 1 << 20)
open(sys.argv[1], "w").write("sent\n")
time.sleep(60)
EOF
STALLED=$!
for _ in $(seq 200); do [ -s "$T/sent" ] && break; t python3 -c 'import time; time.sleep(0.05)'; done
check "export remove under a stalled client with mapped replies queued" \
	t "${IOPCTL:-$(dirname "$IOPD")/iopctl}" -s "$IOPD_MGMT" export remove stalled
kill "$STALLED" 2>/dev/null
wait "$STALLED" 2>/dev/null
# And under fio's 1 MiB reads in flight.
remove_under_load victim "$(uri_unix victim)" --rw=randread --bs=1m --size=48m
rm -f "$T/back"
check "the daemon still serves disk" \
	t nbdcopy --request-size=1048576 "$(uri_unix disk)" "$T/back" &&
	check "... with the patterns written" qio "$(uri_unix disk)" \
		"read -P 0x5a 12345 200000" "read -P 0x33 7340032 4194304"
iopd_alive "daemon alive after the removals"
stop_iopd
done_testing
