#!/bin/bash
# SPDX-License-Identifier: MIT
# iSCSI benchmark: iscsi-perf against iopd's iSCSI target and
# against tgt serving the same 1 GiB tmpfs image, in the same run.
#
#   bench/iscsi.sh [--quick] [--out DIR] [--runtime SECONDS] [--reps N]
#                  [--iopd PATH] [--json FILE]
#
# Writes DIR/iscsi.json and DIR/iscsi.md (default DIR:
# bench/results/<date>-iscsi/).  bench/run.sh calls it with --json FILE
# before bench.py, and bench/report.py puts its table in the main report
# (bench/iscsi_bench.py, section()).  Unknown options (bench.py's) are
# ignored, so run.sh can pass its own arguments through.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

declare -A pkg=([iscsi-perf]=libiscsi-bin [iscsi-readcapacity16]=libiscsi-bin
	[tgtd]=tgt [tgtadm]=tgt [python3]=python3 [make]=make)
missing=()
for tool in "${!pkg[@]}"; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("${pkg[$tool]}")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y "${missing[@]}" >&2 ||
		{ apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; }
fi
case " $* " in
*" --iopd"*) ;;
*) make -C "$repo" all >&2 ;;
esac
exec python3 "$repo/bench/iscsi_bench.py" "$@"
