#!/usr/bin/env bash
# Compiles what the CLI, the worker and the Slack receiver run (common, config, workflows,
# activities, worker, client) into dist/, and bundles the CLI (scripts/bundle-cli.js), only when a
# source changed since the last build, so bin/lifeboat starts plain Node on JavaScript and never
# runs stale code.
#
# - Fresh or not is decided by mtimes: the build's stamp is made before tsc reads anything, so an
#   edit during a build makes the next call build again; a file added or removed changes its
#   folder's mtime. A fresh check costs one `find` (milliseconds).
# - Types are not checked here (`make lint` does); tsc only emits, incrementally.
# - Each build goes to a folder of its own and dist/current is switched to it atomically: a process
#   still running an older build keeps importing from that one. One build at a time (flock).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
dist="$root/dist"
cd "$root"
SOURCES=(common config workflows activities worker client)
INPUTS=(package-lock.json tsconfig.json tsconfig.build.json scripts/build.sh scripts/bundle-cli.js)

stale() {
  [ ! -e "$dist/current/.stamp" ] || [ -n "$(find "${SOURCES[@]}" "${INPUTS[@]}" -newer "$dist/current/.stamp" -print -quit)" ]
}

stale || exit 0
mkdir -p "$dist/builds"
exec 9>"$dist/.lock"
flock 9
stale || exit 0 # built by another call while this one waited

echo "[lifeboat] compiling the sources into dist/ (they changed since the last build)" >&2
next="$dist/.next"
mkdir -p "$next"
touch "$dist/.stamp.next"
if ! node_modules/.bin/tsc -p tsconfig.build.json --noCheck --incremental --tsBuildInfoFile "$next/.tsbuildinfo" --outDir "$next" >&2; then
  echo "✖ the sources do not compile (see above); bin/lifeboat runs nothing stale" >&2
  exit 1
fi
# Files the code reads beside itself (SQL), as in the sources.
find "${SOURCES[@]}" -type f ! -name '*.ts' -exec cp --parents {} "$next" \;
# The CLI, bundled beside that output so it starts fast (bin/lifeboat runs cli/start.js).
rm -rf "$next/cli"
if ! node scripts/bundle-cli.js "$next" >&2; then
  echo "✖ the CLI does not bundle (see above); bin/lifeboat runs nothing stale" >&2
  exit 1
fi

build="$(date +%s%N)"
cp -r "$next" "$dist/builds/$build"
rm -f "$dist/builds/$build/.tsbuildinfo"
# The code cache of `lifeboat --help` (client/code-cache.ts), made in the build's own folder: every
# other command's is made by its first successful run.
node "$dist/builds/$build/cli/start.js" --help >/dev/null
mv "$dist/.stamp.next" "$dist/builds/$build/.stamp"
ln -sfn "builds/$build" "$dist/current.next"
mv -T "$dist/current.next" "$dist/current"
# Older builds go, but the two before this one stay for processes still running them.
find "$dist/builds" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | head -n -3 | while read -r old; do rm -rf "${dist:?}/builds/$old"; done
