# Turns a UCI file into the shell variables functions.sh's config_load sets.
# Handles what the tests use: one quoted or bare value per line.
function val(s) {
	sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s)
	if (s ~ /^'.*'$/ || s ~ /^".*"$/) s = substr(s, 2, length(s) - 2)
	return s
}
function q(s) { gsub(/'/, "'\\''", s); return "'" s "'" }
function rest(s) { sub(/^[ \t]*[a-z]+[ \t]+[^ \t]+[ \t]+/, "", s); return s }
/^[ \t]*(#|$)/ { next }
$1 == "config" {
	# Unnamed sections get a libuci-style "cfgXXXXXX" name (uci export -n).
	n++
	sec = (NF >= 3) ? val($3) : sprintf("cfg%02x%04x", n, 4660)
	print "CONFIG_SECTIONS=\"$CONFIG_SECTIONS " sec "\""
	print "CONFIG_" sec "_cfgtype=" q($2)
	next
}
$1 == "option" { print "CONFIG_" sec "_" $2 "=" q(val(rest($0))); next }
$1 == "list" {
	v = "CONFIG_" sec "_" $2
	print v "=\"${" v ":+$" v " }\"" q(val(rest($0)))
	next
}
