#!/usr/bin/env bash
# Reproduces the serving figures in docs/benchmarks.md (issue 7): builds
# loopml, trains an mf model on a synthetic 10,000-item catalogue, serves it
# with `loopml serve` (prediction logging ON, into the home's SQLite store)
# next to `loopml bench baseline` (a bare net/http handler returning a fixed
# JSON body), and measures on loopback:
#   1. peak requests/s of /invocations (one prediction per request) vs the
#      baseline, side by side, with wrk (closed loop) when installed, else
#      `loopml bench serving --rate 0`;
#   2. latency at 80% of loopml's peak with `loopml bench serving --rate`
#      (open loop, constant rate; peak and rate measured with the same
#      generator, whose raw HTTP/1.1 client costs a few µs per request);
#   3. recommend top-10 over the 10,000 items: peak requests/s;
#   4. how many predictions were logged or dropped (/metrics);
#   5. champion swaps under full load: failed requests and p99 vs steady.
# Queue-full degradation (a deliberately slow store) is a Go benchmark:
#   go test -run '^$' -bench 'LoggedHandler' ./serving
#
#   scripts/bench-serving.sh            (~3 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
bin=$work/loopml
go build -o "$bin" ./cmd/loopml
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
dur=${LOOPML_BENCH_DURATION:-8}
conns=${LOOPML_BENCH_CONNECTIONS:-16}

echo "# $(date -u +%FT%TZ) $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
home=$work/home
"$bin" example movies generate --out "$work/movies" --users 3000 --movies 10000 --months 6 --ratings-per-user 40 --seed 7 >/dev/null
"$bin" train mf --data "$work/movies/ratings.csv" --register recs --home "$home" >/dev/null
"$bin" models alias set recs champion 1 --home "$home" >/dev/null
cat >"$work/endpoints.yaml" <<YAML
endpoints:
  - name: recs
    targets: ["models:/recs@champion"]
    default: true
YAML
"$bin" serve -f "$work/endpoints.yaml" --home "$home" --addr 127.0.0.1:5091 --log-level info >"$work/serve.log" 2>&1 &
pids+=($!)
"$bin" bench baseline --addr 127.0.0.1:5099 >"$work/baseline.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:5091/ping >/dev/null && curl -sf -XPOST http://127.0.0.1:5099/ >/dev/null && break; sleep 0.1; done

user=$(awk -F, 'NR==2 {print $1}' "$work/movies/ratings.csv")
item=$(awk -F, 'NR==2 {print $2}' "$work/movies/ratings.csv")
inv="{\"dataframe_records\": [{\"user_id\": $user, \"item_id\": $item}]}"
rec="{\"user_id\": $user, \"k\": 10}"

peak() { # url body -> requests/s
	if command -v wrk >/dev/null; then
		printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\n' "$2" >"$work/post.lua"
		wrk -t2 -c"$conns" -d"${dur}s" -s "$work/post.lua" "$1" | tee -a "$work/wrk.log" | awk '/Requests\/sec/ {print int($2)}'
	else
		"$bin" bench serving --url "${1%/*}" --path "/${1##*/}" --body "$2" --connections "$conns" --duration "${dur}s" -o json |
			sed 's/.*"throughput":\([0-9.]*\).*/\1/' | cut -d. -f1
	fi
}

echo "## 1. peak, closed loop, $conns connections, ${dur}s each"
b1=$(peak http://127.0.0.1:5099/invocations "$inv")
l1=$(peak http://127.0.0.1:5091/invocations "$inv")
b2=$(peak http://127.0.0.1:5099/invocations "$inv")
l2=$(peak http://127.0.0.1:5091/invocations "$inv")
echo "baseline: $b1, $b2 req/s; loopml /invocations (logging on): $l1, $l2 req/s; ratio $(( 100 * (l1 + l2) / (b1 + b2) ))%"

gopeak() { # url -> requests/s, closed loop with loopml's own generator (raw HTTP/1.1 client)
	"$bin" bench serving --url "${1%/*}" --path "/${1##*/}" --body "$inv" --connections "$conns" --duration "${dur}s" -o json |
		sed 's/.*"throughput":\([0-9.]*\).*/\1/' | cut -d. -f1
}
open_loop() { # url rate
	"$bin" bench serving --url "${1%/*}" --path "/${1##*/}" --body "$inv" --rate "$2" --connections 64 --duration "${dur}s"
}
echo "## 2. open loop (constant rate, loopml bench serving --rate) at 80% of the peak measured by the same generator"
gb=$(gopeak http://127.0.0.1:5099/invocations)
gl=$(gopeak http://127.0.0.1:5091/invocations)
echo "closed loop, loopml bench serving: baseline $gb req/s, loopml $gl req/s, ratio $(( 100 * gl / gb ))%"
grate=$(( 8 * gl / 10 ))
echo "loopml at 80% of its peak ($grate req/s), three runs:"
for _ in 1 2 3; do open_loop http://127.0.0.1:5091/invocations "$grate"; done
echo "baseline at the same $grate req/s, and at 80% of its own peak ($(( 8 * gb / 10 )) req/s):"
open_loop http://127.0.0.1:5099/invocations "$grate"
open_loop http://127.0.0.1:5099/invocations "$(( 8 * gb / 10 ))"

# 2c. vegeta, only when installed (or VEGETA=/path/to/vegeta): its own peak
# (-rate 0, $conns workers) for both servers, then loopml at 80% of its
# peak. On two shared cores vegeta's own CPU cost caps what it measures.
vegeta=${VEGETA:-$(command -v vegeta || true)}
if [ -n "$vegeta" ]; then
	printf '%s' "$inv" >"$work/inv.json"
	attack() { # url rate [flags] -> vegeta text report
		echo "POST $1" | "$vegeta" attack -rate="$2" -duration="${dur}s" -body="$work/inv.json" \
			-header="Content-Type: application/json" -connections=64 "${@:3}" | "$vegeta" report
	}
	vpeak() { attack "$1" 0 -max-workers="$conns" | awk '/^Requests/ {print int($7)}'; }
	echo "## 2c. vegeta: peak (-rate 0, $conns workers), then open loop at 80% of loopml's peak"
	vb=$(vpeak http://127.0.0.1:5099/invocations)
	vl=$(vpeak http://127.0.0.1:5091/invocations)
	echo "vegeta peak: baseline $vb req/s, loopml $vl req/s, ratio $(( 100 * vl / vb ))%"
	vrate=$(( 8 * vl / 10 ))
	echo "vegeta open loop, loopml at $vrate req/s:"
	attack http://127.0.0.1:5091/invocations "$vrate" | grep -E '^(Requests|Latencies|Success|Status)'
fi

echo "## 3. recommend top-10 over 10,000 items"
r=$(peak http://127.0.0.1:5091/endpoints/recs/recommend "$rec")
echo "recommend: $r req/s"

echo "## 5. champion swaps under full load (closed loop, ${conns} connections, 20 s; the alias moves 3 times)"
"$bin" train mf --data "$work/movies/ratings.csv" --register recs --home "$home" --params factors=48 >/dev/null
"$bin" bench serving --url http://127.0.0.1:5091 --path /invocations --body "$inv" --connections "$conns" --duration 20s | sed 's/^/steady: /'
(for v in 2 1 2; do sleep 5; "$bin" models alias set recs champion "$v" --home "$home" >/dev/null; done) &
"$bin" bench serving --url http://127.0.0.1:5091 --path /invocations --body "$inv" --connections "$conns" --duration 20s | sed 's/^/swaps:  /'
wait $! 2>/dev/null || true
echo "swaps seen by the gateway: $(grep -c 'model swapped' "$work/serve.log" || true)"

echo "## 4. prediction log"
curl -s http://127.0.0.1:5091/metrics | grep -E '^loopml_serving_(prediction_log|requests_total)'
