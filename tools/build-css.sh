#!/usr/bin/env bash
# Rebuild the web page's stylesheet and scripts from GOV.UK Frontend's Sass, without the
# GOV.UK brand (see bot/channels/web/sass/triage.scss). Needs node and npm; fetches the pinned
# packages from the npm registry into a temporary folder. The output is committed, so
# nothing is built or fetched when the bot is installed or run.
set -euo pipefail
cd "$(dirname "$0")/.."

GOVUK_FRONTEND=6.3.0   # keep in step with govuk-frontend-jinja in pyproject.toml (4.1.0)
SASS=1.108.2
AXE=4.14.1             # the accessibility checker the browser tests run (tests/axe/)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm install --silent --no-audit --no-fund --prefix "$work" \
    "govuk-frontend@$GOVUK_FRONTEND" "sass@$SASS" "axe-core@$AXE" >/dev/null

out=bot/channels/web/static
mkdir -p "$out"
"$work/node_modules/.bin/sass" --no-source-map --style=compressed --quiet-deps \
    --load-path="$work/node_modules" \
    bot/channels/web/sass/triage.scss "$out/triage.css"
cp "$work/node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js" "$out/govuk-frontend.min.js"
cat > "$out/NOTICE.txt" <<NOTICE
triage.css and govuk-frontend.min.js are built from GOV.UK Frontend $GOVUK_FRONTEND
(Crown copyright, Government Digital Service; code released under the MIT licence,
https://github.com/alphagov/govuk-frontend). The GOV.UK brand (crown, logotype, crest and the
GDS Transport font) is left out. Rebuilt by tools/build-css.sh.
NOTICE

mkdir -p tests/axe
cp "$work/node_modules/axe-core/axe.min.js" tests/axe/axe.min.js
cp "$work/node_modules/axe-core/LICENSE" tests/axe/LICENSE
echo "govuk-frontend $GOVUK_FRONTEND, axe-core $AXE" > tests/axe/VERSION

# The brand must not creep back in.
if grep -o -e "GDS Transport" -e "govuk-crest" -e "crown" "$out/triage.css"; then
    echo "error: the stylesheet still refers to the GOV.UK brand" >&2
    exit 1
fi
wc -c "$out/triage.css" "$out/govuk-frontend.min.js"
