# SPDX-License-Identifier: MIT
# bash completion for iopctl: source it, or install it as
# /usr/share/bash-completion/completions/iopctl.  Subcommands come from
# iopctl itself (--list-commands), so they never go stale.
_iopctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} i words=() family=""
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-s | --socket | -t | --timeout | -c | --connect | --token-file | \
			--tls-ca | --tls-cert | --tls-key | --tls-psk | \
			--tls-psk-identity | --tls-server-name) ((i++)) ;;
		-*) ;;
		*) words+=("${COMP_WORDS[i]}") ;;
		esac
	done
	case ${COMP_WORDS[COMP_CWORD - 1]} in
	-s | --socket | --token-file | --tls-ca | --tls-cert | --tls-key | --tls-psk)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	esac
	if [ ${#words[@]} -eq 0 ]; then
		COMPREPLY=($(compgen -W "$(iopctl --list-commands 2>/dev/null |
			cut -d' ' -f1 | sort -u) call help --json --socket --timeout --help" -- "$cur"))
	elif [ ${#words[@]} -eq 1 ]; then
		family=${words[0]}
		COMPREPLY=($(compgen -W "$(iopctl --list-commands 2>/dev/null |
			awk -v f="$family" '$1 == f { print $2 }')" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "--help --json" -- "$cur"))
	fi
}
complete -F _iopctl iopctl
