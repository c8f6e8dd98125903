# Sourced by the experiment scripts.
# logged LOG COMMAND...: runs COMMAND with its standard error in LOG.tmp,
# renamed to LOG when it succeeds (so LOG marks a finished run), and prints
# the log's last line; when it fails, prints the log and exits.
logged() {
	local log=$1
	shift
	"$@" 2>"$log.tmp" || { cat "$log.tmp" >&2; exit 1; }
	mv "$log.tmp" "$log"
	tail -1 "$log" >&2
}
