#!/usr/bin/env bash
# A real web server for the URL stage's tests and benchmarks: Debian's nginx, unprivileged, all
# of its files (config, TLS test CA and certificate, pages, logs, pid, temp dirs) in one temp dir.
#
#   tests/support/nginx_fixture.sh [DIR]     (DIR: made and removed when not given)
#
# Listens on 127.0.0.1 .. 127.0.0.$HOSTS (HOSTS, default 50: one "host" per address) on three
# ports: plain HTTP/1.1, HTTPS with HTTP/1.1 only, HTTPS offering HTTP/2 (ALPN). Every address
# and port serves the same paths:
#   /page.html[?...]  200 (a static page)        /missing/...   404 (no such file)
#   /gone/...         410                        /redirect/...  301 -> /page.html (relative)
#   /loop/...         302 -> itself (a redirect loop)   /café.html     200 (UTF-8 file name)
# and CLOSED names a port nothing listens on. The certificate is signed by a CA made here (never
# trusted by the system: pass CA to --cacert) for every address, localhost and
# xn--bcher-kva.localhost (bücher.localhost); CAPATH is a directory holding the CA by its hash.
#
# Prints "KEY value" lines: DIR, CA, CAPATH, LOG (access log: addr port protocol connection
# requests-on-connection session-reused status uri), HOSTS, HTTP, HTTPS1, HTTPS2, CLOSED, then
# READY <HTTPS2 port> once every port accepts. Then it waits for end of file on its stdin (its
# parent closed it or died), stops nginx and removes what it made. Exit 3 (with the reason on
# stderr) when nginx or openssl is missing: callers skip. Env: HOSTS, WORKERS (nginx worker
# processes, default 1), KEEPALIVE_REQUESTS (default nginx's 1000).
set -uo pipefail

for tool in nginx openssl; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "nginx_fixture: $tool is not installed (scripts/setup.sh installs nginx-light openssl)" >&2
    exit 3
  fi
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HOSTS=${HOSTS:-50}
WORKERS=${WORKERS:-1}
KEEPALIVE_REQUESTS=${KEEPALIVE_REQUESTS:-1000}

if [ $# -ge 1 ]; then
  DIR=$1; OWN_DIR=0; mkdir -p "$DIR"
else
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/pmap-nginx.XXXXXX"); OWN_DIR=1
fi
DIR=$(cd "$DIR" && pwd)
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ]; then
    kill -TERM "$NGINX_PID" 2>/dev/null
    wait "$NGINX_PID" 2>/dev/null
    NGINX_PID=""
  fi
  if [ "$OWN_DIR" = 1 ]; then rm -rf "$DIR"; fi
}
trap 'cleanup; exit 0' TERM INT HUP
trap cleanup EXIT

make_tls() {
  local sans="DNS:localhost,DNS:xn--bcher-kva.localhost" i
  for ((i = 1; i <= HOSTS; ++i)); do sans+=",IP:127.0.0.$i"; done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$DIR/ca.key" -out "$DIR/ca.pem" -subj "/CN=pmap test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || return 1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$DIR/server.key" -out "$DIR/server.csr" -subj "/CN=pmap test server" \
    2>/dev/null || return 1
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    "$sans" > "$DIR/server.ext"
  openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
    -CAcreateserial -days 2 -extfile "$DIR/server.ext" -out "$DIR/server.pem" \
    2>/dev/null || return 1
  mkdir -p "$DIR/capath"
  ln -sf ../ca.pem "$DIR/capath/$(openssl x509 -hash -noout -in "$DIR/ca.pem").0"
}

listen_lines() {  # port, extra parameters
  local i
  for ((i = 1; i <= HOSTS; ++i)); do echo "    listen 127.0.0.$i:$1 $2;"; done
}

server_block() {  # port, listen parameters
  cat <<CONF
  server {
$(listen_lines "$1" "$2")
    root $DIR/html;
    absolute_redirect off;
    location = /page.html { }
    location /missing/ { }
    location /gone/ { return 410; }
    location /redirect/ { return 301 /page.html; }
    location /loop/ { return 302 \$uri; }
  }
CONF
}

write_config() {  # http, https1, https2 ports
  local user=""
  if [ "$(id -u)" = 0 ]; then user="user $(id -un);"; fi  # workers keep root: the dir is 0700
  cat > "$DIR/nginx.conf" <<CONF
$user
worker_processes $WORKERS;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
events { worker_connections 4096; }
http {
  log_format fixture '\$server_addr \$server_port \$server_protocol \$connection '
                     '\$connection_requests \$ssl_session_reused \$status \$request_uri';
  access_log $DIR/access.log fixture;
  client_body_temp_path $DIR/tmp/body;
  proxy_temp_path $DIR/tmp/proxy;
  fastcgi_temp_path $DIR/tmp/fastcgi;
  uwsgi_temp_path $DIR/tmp/uwsgi;
  scgi_temp_path $DIR/tmp/scgi;
  keepalive_requests $KEEPALIVE_REQUESTS;
  ssl_certificate $DIR/server.pem;
  ssl_certificate_key $DIR/server.key;
  ssl_session_cache shared:pmap:1m;
$(server_block "$1" "")
$(server_block "$2" "ssl")
$(server_block "$3" "ssl http2")
}
CONF
}

accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports below the kernel's ephemeral range, so that no client connection holds one.
read -r EPHEMERAL_LOW _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || EPHEMERAL_LOW=32768
random_port() { echo $((10000 + (RANDOM * 32768 + RANDOM) % (EPHEMERAL_LOW - 10000))); }

mkdir -p "$DIR/html/missing" "$DIR/tmp"
echo "<html><body>pmap fixture page</body></html>" > "$DIR/html/page.html"
cp "$DIR/html/page.html" "$DIR/html/café.html"  # a non-ASCII path: requested as /caf%C3%A9.html
if ! make_tls; then echo "nginx_fixture: openssl failed to make the test CA" >&2; exit 1; fi

for attempt in 1 2 3 4 5; do
  HTTP=$(random_port); HTTPS1=$(random_port); HTTPS2=$(random_port); CLOSED=$(random_port)
  if accepts "$CLOSED"; then continue; fi
  write_config "$HTTP" "$HTTPS1" "$HTTPS2"
  : > "$DIR/error.log"
  rm -f "$DIR/nginx.pid"
  "$NGINX" -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log" </dev/null &
  NGINX_PID=$!
  for ((tick = 0; tick < 100; ++tick)); do
    if ! kill -0 "$NGINX_PID" 2>/dev/null; then break; fi
    # nginx writes its pid file once every socket is bound (it keeps retrying a busy port for
    # 2.5 s, while the others already accept)
    if [ -s "$DIR/nginx.pid" ] && accepts "$HTTP" \
       && (exec 3<>"/dev/tcp/127.0.0.$HOSTS/$HTTPS2") 2>/dev/null; then
      printf 'DIR %s\nCA %s\nCAPATH %s\nLOG %s\nHOSTS %s\n' "$DIR" "$DIR/ca.pem" \
        "$DIR/capath" "$DIR/access.log" "$HOSTS"
      printf 'HTTP %s\nHTTPS1 %s\nHTTPS2 %s\nCLOSED %s\nREADY %s\n' "$HTTP" "$HTTPS1" \
        "$HTTPS2" "$CLOSED" "$HTTPS2"
      read -r _ || true  # until the parent closes our stdin (or dies)
      exit 0
    fi
    sleep 0.05
  done
  kill -TERM "$NGINX_PID" 2>/dev/null
  wait "$NGINX_PID" 2>/dev/null
  NGINX_PID=""
  if ! grep -q "Address already in use" "$DIR/error.log"; then break; fi
done
echo "nginx_fixture: nginx did not start:" >&2
cat "$DIR/error.log" >&2
exit 1
