#!/bin/bash
# keygen writes [control] key_path with mode 0600 and never prints the key;
# it refuses to overwrite an existing key without --force.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
mkdir -p live
w_config "$W/live/tls.crt" "$W/live/tls.key"
sed -i "s|key_path = \"$W/control.key\"|key_path = \"$W/keys/control.key\"|" config.toml

"$CERTWATCH" keygen --config config.toml >out1 2>&1 || t_fail "keygen failed: $(cat out1)"
[ -f keys/control.key ] || t_fail "no key written"
[ "$(stat -c %a keys/control.key)" = 600 ] || t_fail "key mode is $(stat -c %a keys/control.key)"
[ "$(stat -c %a keys)" = 700 ] || t_fail "new key directory mode is $(stat -c %a keys)"
secret=$(awk '{print $2}' keys/control.key)
[ -n "$secret" ] || t_fail "cannot read the key back"
grep -qF "$secret" out1 && t_fail "keygen printed the key"
grep -q "keys/control.key" out1 || t_fail "keygen did not name the file: $(cat out1)"
t_pass "keygen: mode 0600 in a 0700 directory, key not printed"

cp keys/control.key before.key
"$CERTWATCH" keygen --config config.toml >out2 2>&1
rc=$?
[ "$rc" -eq 73 ] || t_fail "second keygen exited $rc, expected 73 (EX_CANTCREAT): $(cat out2)"
grep -q -- '--force' out2 || t_fail "the refusal does not mention --force: $(cat out2)"
cmp -s before.key keys/control.key || t_fail "the key changed without --force"
t_pass "keygen without --force on an existing key: exit 73, key untouched"

"$CERTWATCH" keygen --config config.toml --force >out3 2>&1 || t_fail "keygen --force failed: $(cat out3)"
cmp -s before.key keys/control.key && t_fail "--force did not write a new key"
[ "$(stat -c %a keys/control.key)" = 600 ] || t_fail "forced key mode is $(stat -c %a keys/control.key)"
grep -qF "$(awk '{print $2}' keys/control.key)" out3 && t_fail "keygen --force printed the key"
t_pass "keygen --force: a new key, mode 0600"

IVICLI_CONFIG="$W/config.toml" "$CERTWATCH" keygen --force >out4 2>&1 ||
	t_fail "keygen with \$IVICLI_CONFIG failed: $(cat out4)"
t_pass "keygen finds the config through \$IVICLI_CONFIG"
