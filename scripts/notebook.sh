#!/usr/bin/env bash
# Opens the notebooks in Jupyter, bound to 127.0.0.1, with the project's tslab kernel.
#   npm run notebook            then open the printed http://127.0.0.1:8888/... URL
#   npm run notebook -- --port 9999
# The notebooks import the compiled library (dist/); after editing src/, run `npm run build`
# (or keep `npm run build -- --watch` open in another terminal) and restart the kernel.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
export JUPYTER_PATH="$root/kernel${JUPYTER_PATH:+:$JUPYTER_PATH}"
py=/usr/bin/python3
"$py" -c 'import notebook' 2>/dev/null || py=python3
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)
exec "$py" -m notebook --ip 127.0.0.1 --no-browser --notebook-dir "$root/notebooks" "${extra[@]}" "$@"
