# Shared helpers for the project's scripts. Sourced, not run.
# shellcheck shell=bash
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${MEMOIR_DATA_DIR:-$ROOT/.data}
say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

# Installs Debian packages that are missing (apt-get update once per run).
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  say "Installing Debian packages: ${missing[*]} (takes a minute)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Waits until a TCP port on loopback accepts connections.
wait_port() {
  local port=$1 what=$2 tries=${3:-120}
  for _ in $(seq "$tries"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && { exec 3>&- 3<&- 2>/dev/null || true; return 0; }
    sleep 0.5
  done
  die "$what did not start listening on 127.0.0.1:$port"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the path of a Go-built tool: $explicit, then on PATH, then $GOPATH/bin; builds it with `go install`
# (showing progress) when there is none. Usage: go_tool <binary> <module path> <version> [explicit path] [its variable]
go_tool() {
  local name=$1 module=$2 version=$3 explicit=${4:-} explicit_var=${5:-an explicit path}
  local gobin; gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
  for candidate in "$explicit" "$(command -v "$name" || true)" "$gobin/$name"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  command -v go >/dev/null ||
    die "no $name found and no Go to build it: install Go (then run this again), or install $name yourself and put it on PATH or give its path ($explicit_var)"
  # Two `make` runs at once (test and demo, two clones) must not both compile it: the second waits, then reuses.
  mkdir -p "$gobin"
  exec 9>"$gobin/.$name.build-lock"
  flock 9
  if [ -x "$gobin/$name" ]; then exec 9>&-; echo "$gobin/$name"; return 0; fi
  say "Building $name $version with Go (first time only; several minutes on 2 cores)"
  local log; log=$(mktemp)
  # Go's own output goes to a log (its errors are shown if the build fails); progress is a count of packages.
  if ! GOFLAGS=-buildvcs=false go install -v "$module@$version" 2>&1 | tee "$log" \
    | awk '{ n++; if (n % 25 == 0) { printf "   … %d packages compiled\n", n > "/dev/stderr" } }'; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    die "go install $module@$version failed (Go's last lines above)"
  fi
  rm -f "$log"
  exec 9>&-
  [ -x "$gobin/$name" ] || die "go install of $name $version reported success but $gobin/$name is missing"
  echo "$gobin/$name"
}
