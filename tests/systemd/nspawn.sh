#!/usr/bin/env bash
# The service under a real systemd: boots Debian 12 (systemd 252) in
# systemd-nspawn, installs the Debian package with `apt install`, and checks
# what an operator relies on:
#   start to READY with STATUS=, the quick-start samples loaded, `ingestd
#   status` as the service user, `journalctl -u ingestd -p warning` empty on
#   a clean run, journal fields (INGESTD_JOB=orders), reload with a good and
#   a broken configuration, stop with a load in flight (drains, exit 0, the
#   rest loaded on the next start, every row once), watchdog enforcement, a
#   missing credential (the start limit ends the loop), a bad configuration
#   (not restarted), and purge.
#
# Usage: tests/systemd/nspawn.sh PACKAGE.deb   (as root; prints PASS/FAIL lines)
#   NSPAWN_TREE=DIR    a debootstrapped tree to copy instead of making one
#   NSPAWN_KEEP=1      keep the scratch folder
# Needs systemd-nspawn (systemd-container), debootstrap and a Debian mirror
# (the host's own apt sources). Ends with exit 0 only if every check passed.
set -euo pipefail
DEB=$(realpath "$1")
T0=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ingestd-nspawn.XXXXXX")
ROOTFS=$WORK/root
NSPAWN_PID=
FAILS=0
cleanup() {
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    inside systemctl poweroff >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$NSPAWN_PID" 2>/dev/null || true
  fi
  if [ "${NSPAWN_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { # NAME COMMAND...: passes when COMMAND succeeds
  local name=$1; shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

# ------------------------------------------------------------ the tree
mirror() {
  local u
  u=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)
  [ -n "$u" ] || u=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -1)
  echo "${u:-http://deb.debian.org/debian}"
}
if [ -n "${NSPAWN_TREE:-}" ]; then
  cp -a "$NSPAWN_TREE" "$ROOTFS"
else
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,sqlite3 \
    bookworm "$ROOTFS" "$(mirror)" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log"; exit 1; }
fi
ln -sf /dev/null "$ROOTFS/etc/systemd/system/systemd-firstboot.service"
echo ingestd-test >"$ROOTFS/etc/hostname"
cp "$DEB" "$ROOTFS/root/ingestd.deb"
echo "tree ready in $(( $(date +%s) - T0 )) s"

# ------------------------------------------------------------ boot
systemd-nspawn --quiet --boot --register=no --keep-unit -D "$ROOTFS" \
  >"$WORK/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!
PID1=
for _ in $(seq 1 100); do
  PID1=$(pgrep -P "$NSPAWN_PID" | head -1 || true)
  [ -n "$PID1" ] && [ "$(cat /proc/"$PID1"/comm 2>/dev/null)" = systemd ] && break
  PID1=
  sleep 0.1
done
[ -n "$PID1" ] || { cat "$WORK/console.log"; echo "FAIL the container did not boot"; exit 1; }
inside() { nsenter -t "$PID1" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
state=
for _ in $(seq 1 150); do
  state=$(inside systemctl is-system-running 2>/dev/null || true)
  case $state in running|degraded) break ;; esac
  sleep 0.2
done
echo "booted ($state) in $(( $(date +%s) - T0 )) s"

# ------------------------------------------------------------ helpers
rows() { inside sqlite3 /var/lib/ingestd/orders.db 'SELECT count(*) FROM orders' 2>/dev/null || echo 0; }
distinct() { inside sqlite3 /var/lib/ingestd/orders.db 'SELECT count(DISTINCT id) FROM orders' 2>/dev/null || echo 0; }
prop() { inside systemctl show -p "$1" --value ingestd; }
wait_for() { # SECONDS COMMAND...: until COMMAND succeeds
  local n=$(( $1 * 10 )); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}
is_active() { [ "$(prop ActiveState)" = active ] && [ "$(prop SubState)" = running ]; }
rows_are() { [ "$(rows)" = "$1" ]; }
since() { inside journalctl --no-pager -q -u ingestd --since "@$1" "${@:2}"; }
now() { inside date +%s; }
drop_in() { # NAME TEXT: a drop-in for the unit, then daemon-reload
  inside mkdir -p /etc/systemd/system/ingestd.service.d
  printf '[Service]\n%s\n' "$2" | inside tee "/etc/systemd/system/ingestd.service.d/$1.conf" >/dev/null
  inside systemctl daemon-reload
}
no_drop_in() {
  inside rm -f "/etc/systemd/system/ingestd.service.d/$1.conf"
  inside systemctl daemon-reload
}

# ------------------------------------------------------------ install and start
START=$(now)
if inside apt-get install -y -q /root/ingestd.deb >"$WORK/apt.log" 2>&1; then
  pass "apt install ./ingestd.deb"
else
  tail -20 "$WORK/apt.log"; fail "apt install ./ingestd.deb"; exit 1
fi
check "the service is enabled and running after install" wait_for 30 is_active
# --man=no: a minimal system has no man(1) to look the page up with.
verify=$(inside systemd-analyze verify --man=no ingestd.service 2>&1 || echo "exit $?")
check "systemd-analyze verify of the installed unit is silent" test -z "$verify"
[ -z "$verify" ] || echo "$verify"
for page in "man 1 ingestd:/usr/share/man/man1/ingestd.1.gz" \
    "bash completion:/usr/share/bash-completion/completions/ingestd" \
    "zsh completion:/usr/share/zsh/vendor-completions/_ingestd" \
    "fish completion:/usr/share/fish/vendor_completions.d/ingestd.fish"; do
  check "installed: ${page%%:*}" inside test -s "${page#*:}"
done
status=$(prop StatusText)
check "STATUS= reports the workers ($status)" grep -q "workers" <<<"$status"
check "the journal says ready" wait_for 10 sh -c "nsenter -t $PID1 -a journalctl -q -u ingestd -o cat | grep -q '^ready'"

inside sh -c 'install -o ingestd -g ingestd -m 0640 /usr/share/doc/ingestd/examples/samples/orders/*.csv /var/lib/ingestd/landing/orders/'
check "the quick-start samples load (1500 rows)" wait_for 60 rows_are 1500
check "loaded files are archived" wait_for 20 sh -c "[ \$(nsenter -t $PID1 -a ls /var/lib/ingestd/archive/orders | wc -l) -ge 2 ]"
st=$(inside runuser -u ingestd -- ingestd status --config /etc/ingestd/ingestd.toml 2>&1 || true)
check "ingestd status as the service user reaches the daemon" grep -q "orders" <<<"$st"
fields=$(inside journalctl --no-pager -q -o cat INGESTD_JOB=orders 2>/dev/null || true)
check "journalctl INGESTD_JOB=orders returns the job's lines" grep -q "file done" <<<"$fields"
other=$(inside journalctl --no-pager -q -o cat INGESTD_JOB=nope 2>/dev/null || true)
check "journalctl INGESTD_JOB=other returns nothing" test -z "$other"
warnings=$(since "$START" -p warning)
check "journalctl -u ingestd -p warning is empty on a clean run" test -z "$warnings"
[ -z "$warnings" ] || echo "$warnings" | head -20

# ------------------------------------------------------------ reload
t=$(now)
inside systemctl reload ingestd
check "reload (good configuration): still running" wait_for 10 is_active
check "reload (good configuration): the journal says so" wait_for 10 sh -c "nsenter -t $PID1 -a journalctl -q -u ingestd --since @$t -o cat | grep -qi 'reload'"
inside cp /etc/ingestd/ingestd.toml /root/ingestd.toml.good
printf '[jobs.orders\nbroken' | inside tee -a /etc/ingestd/ingestd.toml >/dev/null
t=$(now)
inside systemctl reload ingestd || true
sleep 1
check "reload (broken configuration): still running on the old one" is_active
check "reload (broken configuration): the error is in the journal" wait_for 10 sh -c "nsenter -t $PID1 -a journalctl -q -u ingestd --since @$t -p err -o cat | grep -q ."
inside cp /root/ingestd.toml.good /etc/ingestd/ingestd.toml

# ------------------------------------------------------------ stop with a load in flight
BIG=400000
inside sh -c "awk -v n=$BIG 'BEGIN { print \"id,customer_id,customer_name,amount,currency,created_at,status,note\";
  for (i = 1; i <= n; i++) printf \"%d,%d,name %d,%d.%02d,EUR,2026-11-03 10:00:00,paid,\\n\", 1000000 + i, i % 977, i, i % 5000, i % 100 }' \
  > /var/lib/ingestd/landing/big.tmp && chown ingestd:ingestd /var/lib/ingestd/landing/big.tmp &&
  mv /var/lib/ingestd/landing/big.tmp /var/lib/ingestd/landing/orders/big.csv"
mid() { local r; r=$(rows); [ "$r" -gt 1500 ] && [ "$r" -lt $((1500 + BIG)) ]; }
if wait_for 60 mid; then
  inside systemctl stop ingestd
  at_stop=$(rows)
  check "stop with a load in flight: exit 0 (Result=$(prop Result), status $(prop ExecMainStatus))" \
    test "$(prop Result)" = success -a "$(prop ExecMainStatus)" = 0
  check "stop with a load in flight: some rows were loaded, not all ($at_stop)" \
    test "$at_stop" -gt 1500 -a "$at_stop" -lt $((1500 + BIG))
  inside systemctl start ingestd
  check "the rest loads on the next start" wait_for 120 rows_are $((1500 + BIG))
  check "every row once" test "$(distinct)" = $((1500 + BIG))
  idle() { prop StatusText | grep -q ' 0 rows/s'; }
  check "STATUS= rows/s falls to 0 once idle ($(prop StatusText))" wait_for 30 idle
else
  fail "stop with a load in flight: the load was never seen in progress (rows $(rows))"
fi

# ------------------------------------------------------------ watchdog
drop_in watchdog "WatchdogSec=2s"
inside systemctl restart ingestd
wait_for 30 is_active || true
t=$(now)
inside sh -c 'kill -STOP $(systemctl show -p MainPID --value ingestd)'
check "watchdog: a frozen daemon is killed" wait_for 20 sh -c "nsenter -t $PID1 -a journalctl -q -u ingestd --since @$t -o cat | grep -qi 'watchdog timeout'"
no_drop_in watchdog
inside systemctl reset-failed ingestd 2>/dev/null || true
inside systemctl restart ingestd
check "watchdog: running again after a restart" wait_for 30 is_active

# ------------------------------------------------------------ a missing credential
drop_in credential "LoadCredential=db-password:/etc/ingestd/credentials/db-password
RestartSec=200ms"
t=$(now)
inside systemctl restart ingestd || true
limited() { nsenter -t "$PID1" -a journalctl -q --since "@$t" -o cat | grep -q 'Start request repeated too quickly'; }
check "a missing credential: the start limit ends the restarts" wait_for 60 limited
check "a missing credential: the unit is failed" test "$(prop ActiveState)" = failed
no_drop_in credential
inside systemctl reset-failed ingestd

# ------------------------------------------------------------ a bad configuration
printf '[jobs.orders\nbroken' | inside tee -a /etc/ingestd/ingestd.toml >/dev/null
t=$(now)
inside systemctl restart ingestd 2>/dev/null || true
sleep 7
check "a bad configuration: failed, not restarted (NRestarts=$(prop NRestarts))" \
  test "$(prop ActiveState)" = failed -a "$(prop NRestarts)" = 0
check "a bad configuration: the error is in the journal" sh -c "nsenter -t $PID1 -a journalctl -q -u ingestd --since @$t -o cat | grep -q 'ingestd.toml'"
inside cp /root/ingestd.toml.good /etc/ingestd/ingestd.toml
inside systemctl reset-failed ingestd
inside systemctl start ingestd
check "fixed configuration: running again" wait_for 30 is_active

# ------------------------------------------------------------ purge
inside apt-get purge -y -q ingestd >"$WORK/purge.log" 2>&1 || { tail "$WORK/purge.log"; fail "apt purge"; }
left=$(inside sh -c 'ls -d /var/lib/ingestd /etc/ingestd /lib/systemd/system/ingestd.service /usr/bin/ingestd 2>/dev/null; getent passwd ingestd' || true)
check "purge leaves nothing behind" test -z "$left"
[ -z "$left" ] || echo "left: $left"

echo "$FAILS failed; $(( $(date +%s) - T0 )) s in all"
[ "$FAILS" = 0 ]
