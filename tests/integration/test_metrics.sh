#!/bin/bash
# SPDX-License-Identifier: MIT
# The Prometheus endpoint (--metrics-listen): off by default; GET /metrics
# with curl returns text that a small parser of the exposition format
# accepts (HELP/TYPE before samples, families contiguous, label syntax,
# no duplicate series, histograms cumulative with +Inf == _count); and
# the counters match the I/O this test performs exactly: a raw NBD
# client's requests by operation (read, write, flush, trim, write_zeroes,
# cache) and their bytes, qemu-io's reads and writes, nbdcopy's bytes in
# both directions, a storage error counted by errno, connections and
# handshakes (ok and failed) per protocol, in-flight back to zero.
. "$(dirname "$0")/lib.sh"
require curl python3 qemu-io nbdcopy

# prom URL: fetch /metrics into $T/prom.txt and check its syntax; the
# samples go to $T/prom.json as {"name{l1=\"v\",...}": value} with labels
# sorted by name.
cat >"$T/prom.py" <<'PYEOF'
import json, re, sys
text = open(sys.argv[1]).read()
errs, samples, types, seen_fam, order = [], {}, {}, set(), []
name_re = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
label_re = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
sample_re = re.compile(r"^(%s)(\{(.*)\})? (\S+)( -?\d+)?$" % name_re)
if not text.endswith("\n"):
    errs.append("the text does not end with a newline")
cur = None
def family(name):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) == "histogram":
            return name[: -len(suf)]
    return name
for ln, line in enumerate(text.splitlines(), 1):
    if line.startswith("#"):
        m = re.match(r"^# (HELP|TYPE) (%s) ?(.*)$" % name_re, line)
        if not m:
            if line.startswith("# HELP") or line.startswith("# TYPE"):
                errs.append("line %d: bad comment: %r" % (ln, line))
            continue
        kind, name, rest = m.groups()
        if kind == "TYPE":
            if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                errs.append("line %d: bad type %r" % (ln, rest))
            if name in types:
                errs.append("line %d: second TYPE for %s" % (ln, name))
            types[name] = rest
        if name != cur:
            if name in seen_fam:
                errs.append("line %d: family %s is not contiguous" % (ln, name))
            seen_fam.add(name)
            cur = name
        continue
    if not line.strip():
        continue
    m = sample_re.match(line)
    if not m:
        errs.append("line %d: not a sample: %r" % (ln, line))
        continue
    name, _, lbl, val, _ = m.groups()
    fam = family(name)
    if fam not in types:
        errs.append("line %d: %s has no TYPE line before it" % (ln, name))
    if fam != cur:
        errs.append("line %d: sample of %s outside its family block" % (ln, fam))
    labels = {}
    if lbl:
        rest = lbl
        while rest:
            lm = re.match(label_re + r"(,|$)", rest)
            if not lm:
                errs.append("line %d: bad labels %r" % (ln, lbl))
                break
            if lm.group(1) in labels:
                errs.append("line %d: label %s twice" % (ln, lm.group(1)))
            labels[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
    try:
        v = float(val)
    except ValueError:
        errs.append("line %d: bad value %r" % (ln, val))
        continue
    if types.get(fam) == "counter" and not name.endswith("_total"):
        errs.append("line %d: counter %s does not end in _total" % (ln, name))
    key = name + "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"
    if key in samples:
        errs.append("line %d: duplicate series %s" % (ln, key))
    samples[key] = v
    order.append((name, labels, v))
# histograms: per label set, buckets ascending and cumulative, +Inf == count
for fam, ty in types.items():
    if ty != "histogram":
        continue
    groups = {}
    for name, labels, v in order:
        if name == fam + "_bucket":
            rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
            groups.setdefault(rest, []).append((labels.get("le"), v))
    for rest, buckets in groups.items():
        les = [float(le) for le, _ in buckets]
        counts = [c for _, c in buckets]
        if les != sorted(les) or les[-1] != float("inf"):
            errs.append("%s%s: le not ascending or no +Inf: %s" % (fam, rest, les))
        if counts != sorted(counts):
            errs.append("%s%s: buckets not cumulative: %s" % (fam, rest, counts))
        lk = ",".join('%s="%s"' % kv for kv in rest)
        cnt = samples.get(fam + "_count{" + lk + "}")
        if cnt is None or samples.get(fam + "_sum{" + lk + "}") is None:
            errs.append("%s%s: no _count or _sum" % (fam, rest))
        elif cnt != counts[-1]:
            errs.append("%s%s: _count %s != +Inf bucket %s" % (fam, rest, cnt, counts[-1]))
json.dump(samples, open(sys.argv[2], "w"))
for e in errs[:20]:
    print(e)
sys.exit(1 if errs else 0)
PYEOF

prom() {
	t curl -sf -o "$T/prom.txt" "http://$IOPD_METRICS/metrics" &&
		python3 "$T/prom.py" "$T/prom.txt" "$T/prom.json"
}

# m SERIES: the value of one series in the last scrape (labels sorted by
# name), as an integer; "none" if absent.
m() {
	python3 - "$T/prom.json" "$1" <<'PYEOF'
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("none" if v is None else "%d" % v)
PYEOF
}
dev() { echo "$1{device=\"$2\",iop=\"$2\"${3:+,$3}}"; }

# ------------------------------------------------------- off by default

start_iopd a=ram:1M || { done_testing; exit 1; }
is "$IOPD_METRICS" "" "no metrics endpoint without --metrics-listen"
grep -q "metrics on" "$IOPD_LOG"
pass_if $((!$?)) "and the log does not mention one" "$(cat "$IOPD_LOG")"
stop_iopd

# ---------------------------------------------------------- endpoint

head -c 1M /dev/urandom >"$T/f.img"
start_iopd --metrics-listen 127.0.0.1:0 --mgmt-socket "$T/mgmt.sock" a=ram:64M b=ram:8M "f=file:$T/f.img" ||
	{ done_testing; exit 1; }
[ -n "$IOPD_METRICS" ]
pass_if $? "the ready fd names the metrics socket" "$(cat "$IOPD_LOG")"

check "GET /metrics before any client: valid exposition format" prom
grep -q '^# TYPE iopd_requests_total counter$' "$T/prom.txt"
pass_if $? "iopd_requests_total is declared a counter" "$(head -20 "$T/prom.txt")"
is "$(m "$(dev iopd_requests_total a 'op="read"')")" none "no series for a device nobody opened yet"

code=$(t curl -s -o /dev/null -w '%{http_code}' "http://$IOPD_METRICS/nosuch")
is "$code" 404 "another path is 404"
code=$(t curl -s -o /dev/null -w '%{http_code}' -X POST "http://$IOPD_METRICS/metrics")
is "$code" 405 "POST is 405"
ctype=$(t curl -s -o /dev/null -w '%{content_type}' "http://$IOPD_METRICS/metrics")
is "$ctype" "text/plain; version=0.0.4; charset=utf-8" "content type of the text format"

# --------------------------------------------- exact requests and bytes

check "raw client: 3 writes, 2 reads, flush, trim, zeroes, cache" nbdpy <<'PYEOF'
from nbdproto import *
c = connect("a")
for i in range(3):
    assert c.write(4096 * i, bytes([i + 1]) * 4096) == 0
err, d = c.read(0, 8192)
assert err == 0 and d == b"\x01" * 4096 + b"\x02" * 4096
err, d = c.read(8192, 4096)
assert err == 0 and d == b"\x03" * 4096
assert c.cmd(CMD_FLUSH, 0, 0)[0] == 0
assert c.cmd(CMD_TRIM, 65536, 4096)[0] == 0
assert c.cmd(CMD_WRITE_ZEROES, 131072, 8192)[0] == 0
assert c.cmd(CMD_CACHE, 0, 4096)[0] == 0
c.disc()
PYEOF
check "scrape after it: valid" prom
for want in read:2:12288 write:3:12288 flush:1:0 trim:1:4096 write_zeroes:1:8192 cache:1:4096; do
	IFS=: read -r op n bytes <<<"$want"
	is "$(m "$(dev iopd_requests_total a "op=\"$op\"")")" "$n" "requests_total{op=$op} == $n"
	is "$(m "$(dev iopd_bytes_total a "op=\"$op\"")")" "$bytes" "bytes_total{op=$op} == $bytes"
	is "$(m "$(dev iopd_request_errors_total a "op=\"$op\"")")" 0 "request_errors_total{op=$op} == 0"
done
is "$(m "$(dev iopd_request_duration_seconds_count a)")" 9 "latency histogram count == 9 requests"
is "$(m "$(dev iopd_request_duration_seconds_bucket a 'le="+Inf"')")" 9 "its +Inf bucket too"
is "$(m "$(dev iopd_requests_in_flight a)")" 0 "nothing in flight"
is "$(m "$(dev iopd_sessions a)")" 0 "no session open after DISC"
is "$(m "$(dev iopd_sessions_total a)")" 1 "one session so far"
is "$(m 'iopd_handshakes_total{protocol="nbd",result="ok"}')" 1 "one handshake ok"
is "$(m 'iopd_connections{protocol="nbd"}')" 0 "no connection open"

# qemu-io: one write and one read of 64 KiB (it may add a flush on close)
check "qemu-io writes and reads 64 KiB" qio "$(uri_unix a)" "write -P 0x5a 1M 64k" "read -P 0x5a 1M 64k"
check "scrape: valid" prom
is "$(m "$(dev iopd_requests_total a 'op="write"')")" 4 "qemu-io's write counted"
is "$(m "$(dev iopd_bytes_total a 'op="write"')")" $((12288 + 65536)) "and its bytes"
is "$(m "$(dev iopd_requests_total a 'op="read"')")" 3 "qemu-io's read counted"
is "$(m "$(dev iopd_bytes_total a 'op="read"')")" $((12288 + 65536)) "and its bytes"

# nbdcopy: 8 MiB of random data in and out of b, over several connections
head -c 8M /dev/urandom >"$T/in.bin"
check "nbdcopy 8 MiB into b" t nbdcopy "$T/in.bin" "$(uri_unix b)"
check "nbdcopy 8 MiB out of b" t nbdcopy "$(uri_unix b)" "$T/out.bin"
check "the copy is intact" cmp "$T/in.bin" "$T/out.bin"
check "scrape: valid" prom
is "$(m "$(dev iopd_bytes_total b 'op="write"')")" 8388608 "b: bytes written == 8 MiB"
is "$(m "$(dev iopd_bytes_total b 'op="read"')")" 8388608 "b: bytes read == 8 MiB"
python3 - "$T/prom.json" <<'PYEOF' >"$T/out" 2>&1
import json, sys
s = json.load(open(sys.argv[1]))
for d in ("a", "b"):
    req = sum(v for k, v in s.items()
              if k.startswith("iopd_requests_total{") and 'iop="%s"' % d in k)
    cnt = s['iopd_request_duration_seconds_count{device="%s",iop="%s"}' % (d, d)]
    assert req == cnt, (d, req, cnt)
    assert req > 0
PYEOF
pass_if $? "per export, histogram count == sum of requests over operations" "$(cat "$T/out")"

# ------------------------------------------------------- errors by errno

# The file shrinks under the export: a read past its new end is an
# error from storage (the engine still believes the old size).
truncate -s 0 "$T/f.img"
check "a read of the shrunken file fails" nbdpy <<'PYEOF'
from nbdproto import *
c = connect("f")
err, d = c.read(65536, 4096)
assert err != 0, "read succeeded"
c.disc()
PYEOF
check "scrape: valid" prom
is "$(m "$(dev iopd_request_errors_total f 'op="read"')")" 1 "f: one read error"
is "$(m "$(dev iopd_requests_total f 'op="read"')")" 1 "f: one read request"
is "$(m "$(dev iopd_bytes_total f 'op="read"')")" 0 "f: no bytes read"
errs=$(python3 -c '
import json,sys
s=json.load(open(sys.argv[1]))
print(int(sum(v for k,v in s.items() if k.startswith("iopd_errors_total{") and "iop=\"f\"" in k)))' "$T/prom.json")
is "$errs" 1 "f: errors by errno add up to 1"

# --------------------------------------- connections and handshakes

check "a client that sends a bad option magic is dropped" nbdpy <<'PYEOF'
from nbdproto import *
import struct
c = Client().greet()
c.send(struct.pack(">QII", 0x1234567812345678, OPT_GO, 0))
assert closed_by_peer(c.s)
PYEOF
check "scrape: valid" prom
is "$(m 'iopd_handshakes_total{protocol="nbd",result="failed"}')" 1 "one failed handshake"
conns=$(m 'iopd_connections_total{protocol="nbd"}')
ok_hs=$(m 'iopd_handshakes_total{protocol="nbd",result="ok"}')
[ "$conns" != none ] && [ "$ok_hs" != none ] && [ "$conns" -ge $((ok_hs + 1)) ] && [ "$ok_hs" -ge 6 ]
pass_if $? "connections_total ($conns) >= handshakes ok ($ok_hs) + failed, ok >= 6"
is "$(m 'iopd_connections{protocol="nbd"}')" 0 "no connection open at the end"

# A client holding a connection is seen as open: it says so on a fifo
# once its handshake is done, then waits to be killed.
mkfifo "$T/held"
nbdpy >"$T/held" <<'PYEOF' &
from nbdproto import *
import sys, time
c = connect("a")
print("connected", flush=True)
time.sleep(120)
PYEOF
holder=$!
register_pid "$holder"
line=""
read -r -t 30 line <"$T/held"
is "$line" connected "a client connects and stays"
check "scrape: valid" prom
is "$(m 'iopd_connections{protocol="nbd"}')" 1 "an idle client is one open connection"
is "$(m "$(dev iopd_sessions a)")" 1 "and one open session on a"
_reap "$holder"

# --------------------------------------------- the same through iopctl

IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
if [ -x "$IOPCTL" ]; then
	check "scrape: valid" prom
	check "iopctl --json stats show" t "$IOPCTL" -s "$IOPD_MGMT" --json stats show
	python3 - "$T/out" "$T/prom.json" <<'PYEOF' >"$T/cmp" 2>&1
import json, sys
st, prom = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = []
for d in st["devices"]:
    lab = 'device="%s",iop="%s"' % (d["device"], d["iop"])
    for fam, key in (("iopd_requests_total", "requests"), ("iopd_bytes_total", "bytes"),
                     ("iopd_request_errors_total", "errors")):
        for op, v in d[key].items():
            p = prom.get('%s{%s,op="%s"}' % (fam, lab, op))
            if p != v:
                bad.append("%s %s %s: rpc %s, metrics %s" % (d["iop"], key, op, v, p))
    if d["latency"]["count"] != prom.get("iopd_request_duration_seconds_count{%s}" % lab):
        bad.append("%s latency count differs" % d["iop"])
for p in st["protocols"]:
    for k, fam in (("connections_total", "iopd_connections_total"),):
        if prom.get('%s{protocol="%s"}' % (fam, p["protocol"])) != p[k]:
            bad.append("%s %s differs" % (p["protocol"], k))
    if prom.get('iopd_handshakes_total{protocol="%s",result="failed"}' % p["protocol"]) != p["handshakes_failed"]:
        bad.append("handshakes_failed differs")
if len(st["devices"]) < 3:
    bad.append("devices: %s" % [d["iop"] for d in st["devices"]])
print("\n".join(bad))
sys.exit(1 if bad else 0)
PYEOF
	pass_if $? "stats.show has the figures /metrics has" "$(cat "$T/cmp")"
	check "iopctl stats devices" t "$IOPCTL" -s "$IOPD_MGMT" stats devices
	grep -qE '^a +a +3 +4 ' "$T/out"
	pass_if $? "a table row for a: 3 reads, 4 writes" "$(cat "$T/out")"
	check "iopctl stats protocols" t "$IOPCTL" -s "$IOPD_MGMT" stats protocols
	grep -qE '^nbd ' "$T/out"
	pass_if $? "a table row for nbd" "$(cat "$T/out")"
else
	skip "iopctl stats" "$IOPCTL not built"
fi

iopd_alive "iopd still serving"
stop_iopd
done_testing
