#!/usr/bin/env bash
# A throwaway Postgres server for the tests (Debian's `postgresql`, from
# scripts/install-test-deps.sh): initdb in a temporary folder as an
# unprivileged user, on a free loopback port, its unix socket in that
# folder too, password authentication over TCP, TLS on (a CA made here,
# $DIR/tls/ca.crt; role `tls_only` may connect only over TLS).
#
#   test-postgres.sh run CMD...     start, run CMD with STORYFORGE_TEST_PG,
#                                   STORYFORGE_TEST_PG_CA and PGPASSWORD set,
#                                   stop and remove (trap)
#   test-postgres.sh start DIR [PID]  start in DIR (empty); print the URL;
#                                   with PID, stop it when that process ends
#   test-postgres.sh stop DIR
set -euo pipefail

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$d" && -x "$d/initdb" ]]; then echo "$d"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  echo "test-postgres: no initdb; run scripts/install-test-deps.sh (Debian's postgresql)" >&2
  exit 1
}

# Runs a command as the unprivileged owner of the data (postgres refuses root).
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# A CA and a certificate for localhost and 127.0.0.1 signed by it, in $1/tls.
make_tls() {
  local d=$1/tls
  mkdir -p "$d"
  command -v openssl >/dev/null 2>&1 \
    || { echo "test-postgres: no openssl; run scripts/install-test-deps.sh" >&2; exit 1; }
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3 \
    -subj "/CN=storyforge test CA" -keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 3 -extfile "$d/ext" -out "$d/server.crt" >/dev/null 2>&1
  chmod 600 "$d/server.key"
}

start() {
  local dir=$1 watch=${2:-} bin port pw
  bin=$(bindir)
  mkdir -p "$dir"
  pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$pw" >"$dir/pw"
  make_tls "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown -R nobody "$dir"; fi
  chmod 700 "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U storyforge --pwfile="$dir/pw" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  # The TLS test's role is refused without TLS (first matching line wins).
  as_owner sed -i '1i hostnossl all tls_only all reject' "$dir/data/pg_hba.conf"
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400 -c ssl=on -c ssl_cert_file=$dir/tls/server.crt -c ssl_key_file=$dir/tls/server.key" \
      start >/dev/null 2>&1; then
      echo "$port" >"$dir/port"
      if [[ -n "$watch" ]]; then
        # Stops the server when the process that asked for it is gone.
        ( while kill -0 "$watch" 2>/dev/null; do sleep 1; done
          as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
          rm -rf "$dir" ) >/dev/null 2>&1 </dev/null &
      fi
      echo "postgres://storyforge@127.0.0.1:$port"
      return
    fi
  done
  cat "$dir/server.log" >&2
  exit 1
}

stop() {
  local dir=$1
  [[ -d "$dir/data" ]] && as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  run)
    shift
    dir=$(mktemp -d)
    trap 'stop "$dir"; rm -rf "$dir"' EXIT
    url=$(start "$dir")
    started=$SECONDS
    echo "test-postgres: server at $url (data in $dir)"
    export STORYFORGE_TEST_PG="$url"
    export STORYFORGE_TEST_PG_CA="$dir/tls/ca.crt"
    PGPASSWORD=$(cat "$dir/pw")
    export PGPASSWORD
    "$@"
    ;;
  *) echo "usage: $0 run CMD... | start DIR [PID] | stop DIR" >&2; exit 2 ;;
esac
