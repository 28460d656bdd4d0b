#!/usr/bin/env bash
# Builds the page into web/dist/: Tailwind CSS (minified) plus the HTML, JS and icon as they are.
# Installs the pinned packages with `npm ci` only when node_modules is missing or the lock changed.
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.package-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -d node_modules || ! -f $stamp || $(cat "$stamp" 2>/dev/null) != "$want" ]]; then
  echo "build: npm ci (node_modules missing or package-lock.json changed)"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

rm -rf dist
mkdir -p dist
./node_modules/.bin/tailwindcss --input src/input.css --output dist/app.css --minify
cp src/index.html src/*.js src/favicon.svg dist/
echo "build: dist/ ready ($(du -sh dist | cut -f1)): $(cd dist && ls | tr '\n' ' ')"
