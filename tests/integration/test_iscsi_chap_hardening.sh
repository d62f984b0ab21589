#!/bin/bash
# SPDX-License-Identifier: MIT
#
# test_iscsi_chap_hardening.sh: CHAP as an attacker meets it
# (doc/security.md, "CHAP"):
#   - a CHAP secret under 12 bytes is refused at start and by a reload,
#     unless "allow_short_secrets": true; equal secrets for both
#     directions of mutual CHAP are refused;
#   - mutual-CHAP challenges of 1 and 15 bytes, and one reflecting the
#     target's own, are refused; 16 bytes log in (a raw login in python,
#     iscsi_raw.py, since libiscsi never sends such challenges);
#   - wrong secrets from one address slow down (0.5 s doubling to 8 s
#     between checks) and are counted in /metrics, while another address
#     (127.0.0.2) is not slowed.
IOPD_TEST_TRANSPORTS="iscsi"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

require python3 curl
IOPCTL=${IOPCTL:-$(dirname "$IOPD")/iopctl}
[ -x "$IOPCTL" ] || skip_all "$IOPCTL not built"
RAW="python3 $HERE/iscsi_raw.py"
MUT=iqn.2026-11.test.iopd:mutual
BOB=bob-secret-456789 TGTSEC=target-secret-abcdef

printf '%s' "$BOB" >"$T/bob.secret"
printf '%s\n' "$TGTSEC" >"$T/target.secret"
printf 'short-11byt\n' >"$T/short.secret"
chmod 600 "$T"/*.secret

# config FILE [EXTRA-ISCSI-KEYS] [MUTUAL-SECRET-FILE]
config() {
	cat >"$1" <<EOF
{
  "listen": [],
  "exports": [{"name": "a", "ddm": "ram", "size": "8M"}],
  "iscsi": {
    "listen": "127.0.0.1:0", $2
    "targets": [
      {"name": "$MUT", "luns": [{"export": "a"}],
       "chap": {"user": "bob", "secret_file": "$T/bob.secret"},
       "mutual_chap": {"user": "tgt", "secret_file": "${3:-$T/target.secret}"}}
    ]
  }
}
EOF
}

# refused DESC PATTERN FILE: iopd will not start with FILE and says why.
refused() {
	check_fails "config: $1 is refused at start" timeout 20 "$IOPD" \
		-c "$3"
	if grep -qiE -- "$2" "$T/out"; then
		ok "config: $1: the message says why"
	else
		not_ok "config: $1: the message says why" "want /$2/" "$(cat "$T/out")"
	fi
}

# ------------------------------------------------------------------ 1
# Secrets: short ones and equal pairs.

config "$T/short.json" "" "$T/short.secret"
refused "an 11-byte mutual CHAP secret" "shorter than 12 bytes.*allow_short_secrets" \
	"$T/short.json"
config "$T/equal.json" "" "$T/bob.secret"
refused "equal initiator and target secrets" "must differ" "$T/equal.json"
config "$T/allow.json" '"allow_short_secrets": true,' "$T/short.secret"
if start_iopd -c "$T/allow.json"; then
	check "allow_short_secrets: the short secret logs in" $RAW "$IOPD_ISCSI" \
		"$MUT" bob "$BOB" --mutual-challenge "$(printf '%032x' 7)"
	stop_iopd
fi

config "$T/good.json" ""
cp "$T/good.json" "$T/run.json"
start_iopd -c "$T/run.json" --mgmt-socket "$T/mgmt.sock" || {
	done_testing
	exit 1
}
config "$T/run.json" "" "$T/short.secret"
check_fails "reload: a short secret is refused" "$IOPCTL" -s "$T/mgmt.sock" daemon reload
config "$T/run.json" '"allow_short_secrets": true,' "$T/short.secret"
check "reload: a short secret with allow_short_secrets is taken" \
	"$IOPCTL" -s "$T/mgmt.sock" daemon reload
cp "$T/good.json" "$T/run.json"
check "reload: back to the long secret" "$IOPCTL" -s "$T/mgmt.sock" daemon reload

# ------------------------------------------------------------------ 2
# Mutual-CHAP challenges.  Refusals here count as failures from
# 127.0.0.1 and slow the next checks: the accepted case goes first.

check "mutual CHAP: a 16-byte challenge logs in" $RAW "$IOPD_ISCSI" "$MUT" \
	bob "$BOB" --mutual-challenge "$(printf '%032x' 7)"
for n in 1 15; do
	check_fails "mutual CHAP: a $n-byte challenge is refused" $RAW "$IOPD_ISCSI" \
		"$MUT" bob "$BOB" --mutual-challenge "$(printf "%0$((2 * n))x" 7)"
	is "$(cat "$T/out")" "refused 0x0201" "mutual CHAP: $n bytes: authentication failure"
done
check_fails "mutual CHAP: the target's own challenge reflected is refused" \
	$RAW "$IOPD_ISCSI" "$MUT" bob "$BOB" --mutual-challenge reflect
is "$(cat "$T/out")" "refused 0x0201" "mutual CHAP: reflection: authentication failure"
stop_iopd

# ------------------------------------------------------------------ 3
# Guessing slows down, per address.

start_iopd -c "$T/good.json" --metrics-listen 127.0.0.1:0 || {
	done_testing
	exit 1
}
# Five wrong guesses in a row: the first is answered at once, the next
# ones wait 0.5, 1, 2 and 4 s for their check.
start=$(date +%s%N)
check_fails "five wrong secrets are refused" $RAW "$IOPD_ISCSI" "$MUT" bob wrong --count 5
ms=$((($(date +%s%N) - start) / 1000000))
diag "five wrong guesses: $ms ms: $(cat "$T/out")"
[ "$ms" -ge 7500 ]
pass_if $? "five wrong guesses take at least 7.5 s (got $ms ms)"
[ "$ms" -lt 15000 ]
pass_if $? "... and less than 15 s (got $ms ms)"

start=$(date +%s%N)
check_fails "127.0.0.2: a wrong secret is refused" $RAW "$IOPD_ISCSI" "$MUT" \
	bob wrong --source 127.0.0.2
check "127.0.0.2: the right secret logs in" $RAW "$IOPD_ISCSI" "$MUT" \
	bob "$BOB" --source 127.0.0.2 --mutual-challenge "$(printf '%032x' 9)"
ms=$((($(date +%s%N) - start) / 1000000))
# One failure of its own: its next check waits 0.5 s, no more; had it
# inherited 127.0.0.1's five failures it would wait 8 s.  (The bound
# leaves room for two logins on a loaded machine.)
[ "$ms" -lt 4000 ]
pass_if $? "127.0.0.2 is not slowed by 127.0.0.1's failures (got $ms ms)"

check "metrics" curl -sf "http://$IOPD_METRICS/metrics"
fails=$(sed -n 's/^iopd_auth_failures_total{protocol="iscsi"} //p' "$T/out")
delayed=$(sed -n 's/^iopd_auth_delayed_total{protocol="iscsi"} //p' "$T/out")
is "$fails" 6 "metrics: six CHAP failures counted"
# 127.0.0.1's four later guesses come at once and are held; 127.0.0.2's
# second login is held only if it arrives within 0.5 s of its failure,
# which a loaded machine may not manage.
[ "${delayed:-0}" -ge 4 ] && [ "${delayed:-0}" -le 5 ]
pass_if $? "metrics: four or five checks held (four from 127.0.0.1, at most one from 127.0.0.2) (got '$delayed')"
stop_iopd
done_testing
