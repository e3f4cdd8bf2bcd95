#!/usr/bin/env bash
# Runs the README's first quick-start command as a new user would, on this checkout:
# the command is read from README.md (the first ```sh block), started in its own process
# group, and must bring up the whole marketplace. Then two paid chat completions go through
# the renter gateway on one session (the first opens it with one transaction, the second
# sends none; the gateway settles it with the host when it stops), Ctrl-C
# (SIGINT to the whole process group, as a terminal sends it) stops it, and every process it
# started must have exited and every port it used must be free again.
# Prints `quickstart: ok` or `quickstart: FAILED: <why>` and exits non-zero on failure.
#
#   bash scripts/check-quickstart.sh [--timeout SECONDS]   (default 1500: install + first build)
set -uo pipefail
cd "$(dirname "$0")/.."

timeout_s=1500
[ "${1:-}" = "--timeout" ] && timeout_s="${2:-1500}"
gateway="http://127.0.0.1:8787"
ports=(8545 42069 8787 8081 8082)
log="$(mktemp -t fabstir-quickstart.XXXXXX.log)"

fail() {
  echo "quickstart: FAILED: $*"
  echo "---- last lines of the quick start's output ($log) ----"
  tail -n 60 "$log"
  [ -n "${pgid:-}" ] && kill -KILL -- "-$pgid" 2>/dev/null
  # The local chain runs in its own process group (it outlives the rest at shutdown).
  pkill -KILL -f "hardhat node --hostname 127.0.0.1 --port 8545" 2>/dev/null
  exit 1
}

cmd="$(awk '/^```sh$/ { inblock = 1; next } /^```$/ { if (inblock) exit } inblock' README.md)"
[ -n "$cmd" ] || fail "README.md has no \`\`\`sh block"
echo "quickstart: running the README's first command: $cmd"

for p in "${ports[@]}"; do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && fail "port $p is already in use before the start"
done

# setsid: the command leads its own process group, so the group can be signalled like a
# terminal's foreground job, and every process it leaves behind can be found.
setsid bash -c "$cmd" >"$log" 2>&1 &
pgid=$!
started=$(date +%s)

until curl -sf "$gateway/health" >/dev/null 2>&1; do
  kill -0 "$pgid" 2>/dev/null || fail "the command exited before the gateway answered"
  [ $(($(date +%s) - started)) -lt "$timeout_s" ] || fail "the gateway did not answer within ${timeout_s} s"
  sleep 3
done
echo "quickstart: the marketplace is up after $(($(date +%s) - started)) s"

ask() {
  local body="{\"model\":\"fabstir-tiny-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"$1\"}],\"max_tokens\":16}"
  local answer code
  answer="$(curl -s -m 180 -w '\n%{http_code}' "$gateway/v1/chat/completions" \
    -H 'content-type: application/json' -d "$body")"
  code="${answer##*$'\n'}"
  answer="${answer%$'\n'*}"
  [ "$code" = "200" ] || fail "the paid request answered HTTP $code: $answer"
  printf '%s' "$answer"
}
# Two answers on one session: the first opens it (one transaction), the second sends none.
first="$(ask "What is a GPU?")"
second="$(ask "What is a CPU?")"
node -e '
  const [a, b] = process.argv.slice(1).map((t) => JSON.parse(t));
  for (const r of [a, b]) {
    const f = r.fabstir ?? {};
    if (typeof r.choices?.[0]?.message?.content !== "string") throw new Error("no answer text");
    if (!f.session_id || BigInt(f.cost ?? 0) <= 0n) throw new Error("the answer was not paid for: " + JSON.stringify(f));
  }
  if (a.fabstir.session_id !== b.fabstir.session_id) throw new Error("the second answer did not reuse the session");
  if (a.fabstir.transactions !== 1 || b.fabstir.transactions !== 0) throw new Error("expected 1 then 0 transactions: " + JSON.stringify([a.fabstir, b.fabstir]));
  console.log(`quickstart: session ${a.fabstir.session_id} with ${a.fabstir.host}: 2 answers, ${b.fabstir.spent} wei signed for, 1 transaction`);
' "$first" "$second" || fail "the answers are not paid on one session: $first $second"

kill -INT -- "-$pgid" 2>/dev/null
for _ in $(seq 1 90); do
  pgrep -g "$pgid" >/dev/null || break
  sleep 1
done
if pgrep -g "$pgid" >/dev/null; then
  left="$(ps -o pid=,args= -g "$pgid")"
  fail "processes still running 90 s after Ctrl-C: $left"
fi
for p in "${ports[@]}"; do
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && fail "port $p is still open after Ctrl-C"
done
grep -q "stopped" "$log" || fail "the marketplace did not report a clean stop"
grep -q "1 of 1 gateway sessions settled by their hosts" "$log" ||
  fail "the gateway's session was not settled by its host at Ctrl-C"
echo "quickstart: ok (Ctrl-C stopped every process and freed every port)"
