#!/usr/bin/env bash
# Checks the operations files without Docker or a network: docker-compose.yml (syntax, bind-mount sources), the
# Prometheus rules, their unit tests and config, the Grafana dashboard and provisioning, and that a Temporal dev
# server started with temporal-config/ applies each setting (it starts its own on spare ports).
# Installs the Debian packages docker-compose (for `config`) and prometheus (for promtool) when missing.
# Runs every check, then exits non-zero if any failed.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

apt_install docker-compose prometheus
command -v docker-compose >/dev/null || die "docker-compose is not on PATH after installing it"
command -v promtool >/dev/null || die "promtool is not on PATH after installing prometheus"
command -v node >/dev/null || die "node is needed to check the Grafana dashboard"

failures=()
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs one named check; its output is shown only when it fails.
check() {
  local name=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then
    printf '  ok    %s\n' "$name"
  else
    printf '  FAIL  %s\n' "$name"
    sed 's/^/        /' "$tmp/out"
    failures+=("$name")
  fi
}

# Compose needs the variables it substitutes only to have some value; unset ones default to empty anyway.
compose_config() { docker-compose -f docker-compose.yml config "$@"; }

# Every bind mount and build context in the resolved compose file must exist inside the repository: Docker would
# silently create a missing source as an empty directory (or refuse a file mounted on a directory).
check_bind_mounts() {
  compose_config >"$tmp/compose.yml" || return 1
  python3 - "$ROOT" "$tmp/compose.yml" <<'PY'
import os, sys, yaml
root, path = sys.argv[1], sys.argv[2]
with open(path) as f:
    doc = yaml.safe_load(f)
named = set((doc.get("volumes") or {}).keys())
problems, seen = [], 0
for name, svc in (doc.get("services") or {}).items():
    build = svc.get("build")
    if build:
        ctx = build if isinstance(build, str) else build.get("context", ".")
        ctx = os.path.join(root, ctx) if not os.path.isabs(ctx) else ctx
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        if not os.path.isfile(os.path.join(ctx, dockerfile)):
            problems.append(f"{name}: build context {ctx} has no {dockerfile}")
    for vol in svc.get("volumes") or []:
        if isinstance(vol, dict):
            if vol.get("type") != "bind":
                continue
            source = vol.get("source", "")
        else:
            source = vol.split(":", 1)[0]
            if source in named or not (source.startswith("/") or source.startswith(".")):
                continue
        source = os.path.normpath(os.path.join(root, source))
        seen += 1
        if not (source == root or source.startswith(root + os.sep)):
            problems.append(f"{name}: bind mount {source} is outside the repository")
        elif not os.path.exists(source):
            problems.append(f"{name}: bind mount source {os.path.relpath(source, root)} does not exist")
for p in problems:
    print(p)
if seen == 0:
    print("no bind mounts found: is the compose file parsed correctly?")
    sys.exit(1)
print(f"{seen} bind mounts checked")
sys.exit(1 if problems else 0)
PY
}

# The dashboard parses, uses the provisioned datasource uid, and every query is valid PromQL (checked by promtool
# as recording rules). Every memoir_* metric it or alerts.yml names exists in src/metrics.ts, and every memoir:*
# series it reads is recorded in alerts.yml.
check_dashboard() {
  # `|| return 1` because errexit is off inside a function that runs under `if`.
  node - "$tmp" <<'JS' || return 1
const fs = require('fs');
const path = require('path');
const tmp = process.argv[2];
const problems = [];
const dash = JSON.parse(fs.readFileSync('ops/grafana/dashboards/memoir.json', 'utf8'));
const dsFile = fs.readFileSync('ops/grafana/provisioning/datasources/prometheus.yml', 'utf8');
const dsUid = (dsFile.match(/^\s*uid:\s*['"]?([\w-]+)/m) || [])[1];
if (!dsUid) problems.push('no uid in ops/grafana/provisioning/datasources/prometheus.yml');
if (!dash.uid || !dash.title) problems.push('dashboard needs a uid and a title');
if (typeof dash.schemaVersion !== 'number') problems.push('dashboard has no schemaVersion');
const exprs = [];
const ids = new Set();
for (const p of dash.panels || []) {
  if (ids.has(p.id)) problems.push(`panel id ${p.id} is used twice`);
  ids.add(p.id);
  if (p.type === 'row') continue;
  const foreign = [p.datasource, ...(p.targets || []).map((t) => t.datasource)].some((d) => d && d.uid !== dsUid);
  if (!p.datasource || foreign) problems.push(`panel "${p.title}" does not use datasource uid ${dsUid}`);
  if (!p.gridPos || p.gridPos.x + p.gridPos.w > 24) problems.push(`panel "${p.title}" has a bad gridPos`);
  for (const t of p.targets || []) exprs.push([p.title, t.expr]);
}
for (const a of dash.annotations?.list || []) if (a.expr) exprs.push([a.name, a.expr]);
for (const v of dash.templating?.list || []) if (v.definition) exprs.push([`variable ${v.name}`, null]);
if (exprs.length === 0) problems.push('dashboard has no queries');
// Grafana variables become plain values so promtool can parse the queries.
const promql = (e) => e.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?(\w+)\}?/g, '.*');
const rules = exprs
  .filter(([, e]) => e)
  .map(([title, e], i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(promql(e))}\n        labels: { panel: ${JSON.stringify(title)} }`);
fs.writeFileSync(path.join(tmp, 'dashboard-queries.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`);

const catalogue = new Set([...fs.readFileSync('src/metrics.ts', 'utf8').matchAll(/name:\s*'(memoir_\w+)'/g)].map((m) => m[1]));
const alerts = fs.readFileSync('ops/prometheus/alerts.yml', 'utf8');
const recorded = new Set([...alerts.matchAll(/^\s*- record:\s*(\S+)/gm)].map((m) => m[1]));
const uses = (text, where) => {
  for (const [name] of text.matchAll(/\bmemoir_[a-z0-9_]+/g)) {
    const base = name.replace(/_(bucket|count|sum)$/, '');
    if (!catalogue.has(base) && !base.startsWith('memoir_process_')) problems.push(`${where} uses ${name}, which src/metrics.ts does not define`);
  }
  for (const [name] of text.matchAll(/\bmemoir:[a-z0-9_:]+/g))
    if (!recorded.has(name)) problems.push(`${where} reads ${name}, which ops/prometheus/alerts.yml does not record`);
};
uses(exprs.map(([, e]) => e || '').join('\n'), 'the dashboard');
uses(alerts.replace(/^\s*#.*$/gm, '').replace(/^\s*- record:.*$/gm, ''), 'alerts.yml');
for (const p of new Set(problems)) console.log(p);
console.log(`${exprs.length} dashboard queries, ${catalogue.size} catalogue metrics, ${recorded.size} recording rules`);
process.exit(problems.length ? 1 : 0);
JS
  promtool check rules "$tmp/dashboard-queries.yml"
}

check_provisioning() {
  python3 - <<'PY'
import sys, yaml
ok = True
for f, key in (("ops/grafana/provisioning/datasources/prometheus.yml", "datasources"),
               ("ops/grafana/provisioning/dashboards/memoir.yml", "providers")):
    with open(f) as fh:
        doc = yaml.safe_load(fh)
    if doc.get("apiVersion") != 1 or not doc.get(key):
        print(f"{f}: expected apiVersion: 1 and a non-empty {key} list")
        ok = False
sys.exit(0 if ok else 1)
PY
}

# The compose Temporal server and the embedded dev server must run with the same dynamic config.
check_dynamic_config() {
  python3 - <<'PY'
import json, sys, yaml
with open("temporal-config/dynamic-config.yaml") as fh:
    compose = {k: v[0]["value"] for k, v in yaml.safe_load(fh).items()}
with open("temporal-config/dev-server.json") as fh:
    dev = json.load(fh)["dynamicConfig"]
if compose != dev:
    print(f"dynamic-config.yaml {compose}\n  differs from dev-server.json {dev}")
    sys.exit(1)
PY
}

# The Dockerfile without Docker: every file its build reads is in the build context (.dockerignore, Docker's rules:
# the last matching pattern wins, `!` re-includes), the runtime stage copies the compiled output and the command, and
# nothing in it runs TypeScript (no tsx, no ts file): production runs dist/.
check_dockerfile() {
  python3 - <<'PY'
import fnmatch, os, re, sys
with open("Dockerfile") as fh:
    lines = [l.strip() for l in re.sub(r"\\\n", " ", fh.read()).splitlines()]
patterns = [p.strip() for p in open(".dockerignore") if p.strip() and not p.startswith("#")]
def ignored(path):
    result = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        alts = [pat, pat[3:]] if pat.startswith("**/") else [pat]
        if any(fnmatch.fnmatch(pre, a) for pre in prefixes for a in alts):
            result = not neg
    return result
problems = []
# What `npm run build` reads (scripts/setup.sh rebuilds when one of these changes).
needed = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json", "scripts/build.ts",
          "scripts/build-client.ts", "packages/client/package.json", "packages/client/tsconfig.json", "packages/client/src/index.ts",
          "src/index.ts", "workflows/index.ts", "activities/index.ts", "temporal-config/search-attributes.json", "bin/memoir.js"]
for f in needed:
    if not os.path.exists(f): problems.append(f"{f} does not exist")
    elif ignored(f): problems.append(f".dockerignore excludes {f}, which the image build needs")
stages = [i for i, l in enumerate(lines) if l.upper().startswith("FROM ")]
if len(stages) < 2: problems.append("expected a build stage and a runtime stage")
final = lines[stages[-1]:] if stages else lines
for l in lines:
    m = re.match(r"COPY\s+(?!--from)(.*)", l, re.I)
    if m:
        *sources, _dest = m.group(1).split()
        for src in sources:
            if src != "." and (not os.path.exists(src) or ignored(src)):
                problems.append(f"COPY {src}: not in the build context")
text = "\n".join(final)
for want in ("COPY --from=build /app/dist", "npm ci --omit=dev", 'ENTRYPOINT ["node", "bin/memoir.js"]'):
    if want not in text: problems.append(f"the runtime stage lacks: {want}")
if re.search(r"\btsx\b|\.ts\b", "\n".join(l for l in final if not l.startswith("#"))):
    problems.append("the runtime stage mentions tsx or a .ts file: production must run the compiled output")
for p in problems: print(p)
sys.exit(1 if problems else 0)
PY
}

say "Checking the operations files"
check "docker-compose.yml is valid (docker-compose config)" compose_config -q
check "compose bind mounts and build context exist in the repository" check_bind_mounts
check "Dockerfile: build inputs in the context, runtime stage runs dist/" check_dockerfile
check "promtool check rules ops/prometheus/alerts.yml" promtool check rules ops/prometheus/alerts.yml
check "promtool test rules ops/prometheus/alerts.test.yml" promtool test rules ops/prometheus/alerts.test.yml
check "promtool check config ops/prometheus/prometheus.yml" promtool check config ops/prometheus/prometheus.yml
check "Temporal dynamic config: compose and dev server agree" check_dynamic_config
# Starts its own file-backed dev server on spare ports and observes each tuned setting (scripts/check-temporal-config.ts).
check "Temporal dev server applies temporal-config (poll rate, eager activities, WAL, known keys)" \
  npx tsx scripts/check-temporal-config.ts
check "Grafana provisioning files" check_provisioning
check "Grafana dashboard (JSON, datasource, PromQL, metric names)" check_dashboard

if [ ${#failures[@]} -gt 0 ]; then
  die "${#failures[@]} operations check(s) failed: ${failures[*]}"
fi
say "All operations checks passed"
