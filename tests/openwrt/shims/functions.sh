# Test stand-in for OpenWrt's /lib/functions.sh and /lib/functions/procd.sh:
# the UCI helpers read a config file like libuci would (for the simple
# quoting used in tests), the procd and json helpers append each call to
# $SHIM_LOG, one line per call, so a test can compare the exact sequence.
# With $SHIM_OPS set, each call also goes there tab-separated, for procd.py
# (the procd model rc.common hands the service message to). With $SHIM_ROOT
# set, mkdir also makes the directory under that root.
# POSIX sh (runs under dash, like busybox ash on a router).

SHIM_LOG=${SHIM_LOG:?set SHIM_LOG}
SHIM_UCI_DIR=${SHIM_UCI_DIR:?set SHIM_UCI_DIR}
SHIM_DIR=${SHIM_DIR:?set SHIM_DIR}

# One line per call: the words as given; an empty word or one with spaces
# or quotes is shown in single quotes, so argument boundaries stay visible.
_log() {
	local _out="" _a
	for _a in "$@"; do
		case "$_a" in
			"" | *[!A-Za-z0-9_./:*+=@-]*) _a="'$_a'" ;;
		esac
		_out="$_out${_out:+ }$_a"
	done
	printf '%s\n' "$_out" >>"$SHIM_LOG"
	[ -z "${SHIM_OPS:-}" ] || {
		_out=""
		for _a in "$@"; do _out="$_out${_out:+	}$_a"; done
		printf '%s\n' "$_out" >>"$SHIM_OPS"
	}
}

# --- UCI (functions.sh) ---
# config_load NAME: turns $SHIM_UCI_DIR/NAME into shell variables
# CONFIG_<sec>_<opt>, CONFIG_<sec>_cfgtype and CONFIG_SECTIONS, as functions.sh
# does (lists are joined by spaces into the option variable).
config_load() {
	_log config_load "$1"
	CONFIG_SECTIONS=""
	eval "$(awk -f "$SHIM_DIR/uci2sh.awk" "$SHIM_UCI_DIR/$1")"
}

config_get() {
	local _var="$1" _sec="$2" _opt="$3" _def="$4" _v
	eval "_v=\${CONFIG_${_sec}_${_opt}-\$_def}"
	eval "$_var=\$_v"
}

config_get_bool() {
	local _tmp
	config_get _tmp "$2" "$3" "$4"
	case "$_tmp" in
		1|on|true|yes|enabled) _tmp=1 ;;
		0|off|false|no|disabled) _tmp=0 ;;
		*) _tmp="$4" ;;
	esac
	eval "$1=\$_tmp"
}

config_foreach() {
	local _fn="$1" _type="$2" _sec _t
	shift 2
	for _sec in $CONFIG_SECTIONS; do
		eval "_t=\$CONFIG_${_sec}_cfgtype"
		[ -z "$_type" ] || [ "$_t" = "$_type" ] || continue
		"$_fn" "$_sec" "$@"
	done
}

# --- procd (procd.sh) ---
procd_open_instance() { _log procd_open_instance "$@"; }
procd_set_param() { _log procd_set_param "$@"; }
procd_append_param() { _log procd_append_param "$@"; }
procd_close_instance() { _log procd_close_instance; }
procd_open_data() { _log procd_open_data; }
procd_close_data() { _log procd_close_data; }
procd_add_reload_trigger() { _log procd_add_reload_trigger "$@"; }
procd_add_reload_data_trigger() { _log procd_add_reload_data_trigger "$@"; }
procd_set_config_changed() { _log procd_set_config_changed "$@"; }

# --- jshn ---
json_add_array() { _log json_add_array "$@"; }
json_add_object() { _log json_add_object "$@"; }
json_add_string() { _log json_add_string "$@"; }
json_close_object() { _log json_close_object; }
json_close_array() { _log json_close_array; }

# --- commands the init script runs on the router ---
mkdir() {
	_log mkdir "$@"
	[ -n "${SHIM_ROOT:-}" ] || return 0
	local _d
	for _d in "$@"; do
		case "$_d" in
		"$SHIM_ROOT"/*) command mkdir -p "$_d" ;;
		/*) command mkdir -p "$SHIM_ROOT$_d" ;;
		esac
	done
}
logger() { _log logger "$@"; }
