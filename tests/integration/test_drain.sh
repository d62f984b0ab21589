#!/bin/bash
# SPDX-License-Identifier: MIT
# Shutdown must not hang on a client that stops reading its replies: after
# --drain-timeout the remaining connections are closed and iopd exits 1
# (not the 0 of a clean drain), and says so in its log.
. "$(dirname "$0")/lib.sh"
require python3

start_iopd --drain-timeout 1 ram:256M || { done_testing; exit 1; }

mkfifo "$T/sent"
# Eight 32 MiB reads whose replies the client never reads: the server's
# writes stall on a full socket buffer.
nbdpy "$T/sent" <<'PY' &
import struct, sys, time
from nbdproto import *
s = raw_socket()
s.sendall(struct.pack('>I', 3) + struct.pack('>QII', IHAVEOPT, OPT_EXPORT_NAME, 0))
for i in range(8):
    s.sendall(struct.pack('>IHHQQI', REQUEST_MAGIC, 0, CMD_READ, i, 0, 32 << 20))
# Greeting (18), export size and flags (10), the first reply's header
# (16): the server is now sending a reply, so SIGTERM finds a request in
# flight (sent earlier, the server might not have read any yet).
got = b''
while len(got) < 44:
    b = s.recv(44 - len(got))
    assert b, 'closed'
    got += b
open(sys.argv[1], 'w').write('sent\n')
time.sleep(60)
PY
client=$!
register_pid "$client"
on_exit "_reap $client"
read -r -t 30 line <"$T/sent"
is "$line" "sent" "the stalled client sent its requests and got a reply started"

start=$(date +%s)
kill -TERM "$IOPD_PID"
_wait_timeout "$IOPD_PID" 30
st=$?
elapsed=$(($(date +%s) - start))
is "$st" 1 "iopd exits 1 after a drain that had to close connections"
[ "$elapsed" -le 6 ]
pass_if $? "it exits within a few seconds of the 1 s deadline (took ${elapsed}s)"
check "the log says the drain timed out" grep -q "drain timed out" "$IOPD_LOG"
! _sanitizer_report "$IOPD_LOG"
pass_if $? "no sanitizer report" "$(head -n 40 "$IOPD_LOG")"
done_testing
