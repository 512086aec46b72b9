#!/usr/bin/env bash
# The demo job on the embedded defaults: render every shipped template with
# its feed from fixtures/feeds/ (or its own variables) into out/.
set -uo pipefail
bin=${STORYFORGE:-target/release/storyforge}
out=${OUT:-out}
status=0
for t in templates/*.yaml; do
  name=$(basename "$t" .yaml)
  feed=$(ls fixtures/feeds/"$name".{csv,json,yaml,yml} 2>/dev/null | head -n 1)
  if [ -n "$feed" ]; then
    "$bin" render "$t" --data "$feed" --out "$out" --preview || status=1
  else
    "$bin" render "$t" --out "$out" --preview || status=1
  fi
done
echo "Stories and previews are in $out/:"
ls -1 "$out" | sed 's/^/  /'
exit $status
