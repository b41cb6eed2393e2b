#!/usr/bin/env bash
# Installs what this project needs and is missing; quick when everything is there already.
#   bash scripts/setup.sh          npm packages, Jupyter (Debian/Ubuntu apt, as root), the kernel
#   bash scripts/setup.sh --test   the same, plus what the tests use (Chromium; libvulkan1, through which
#                                  Dawn reaches Chromium's SwiftShader driver for the webgpu tests)
# Called by `npm start` and `npm test`, so a newcomer never has to run it by hand.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { echo "[setup] $*"; }

# 1. Node.js 18+ (tfjs and tslab need it).
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 18 ]; then
  say "Node.js 18 or newer is needed (found: $(node --version 2>/dev/null || echo none))."
  say "Install it from https://nodejs.org, or: conda env create -f environment.yml && conda activate whisper-ts"
  exit 1
fi

# 2. npm packages, reinstalled when package-lock.json changed since the last install.
stamp=node_modules/.setup-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "installing npm packages (npm ci) ..."
  # tfjs-node-gpu is optional: its install downloads libtensorflow and fails offline; npm skips it.
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi

# 3. System packages: Jupyter (nbclient/nbconvert to run notebooks, notebook to open them), and
#    Chromium for the browser tests, libvulkan1 for the webgpu tests. Debian's Jupyter lives in /usr/bin/python3.
apt_missing=()
jupyter_python=""
for py in /usr/bin/python3 python3; do
  if "$py" -c 'import nbclient, nbconvert, ipykernel' >/dev/null 2>&1; then jupyter_python="$py"; break; fi
done
[ -n "$jupyter_python" ] || apt_missing+=(jupyter-nbconvert jupyter-client python3-ipykernel)
"${jupyter_python:-/usr/bin/python3}" -c 'import notebook' >/dev/null 2>&1 || apt_missing+=(jupyter-notebook)
if [ "$want_test" = 1 ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then apt_missing+=(chromium); fi
# The tests compare our decoder with ffmpeg's and our WER with NIST sclite (Debian sctk).
if [ "$want_test" = 1 ]; then
  command -v ffmpeg >/dev/null 2>&1 || apt_missing+=(ffmpeg)
  [ -x /usr/lib/sctk/bin/sclite ] || [ -x /usr/bin/sclite ] || apt_missing+=(sctk)
  /sbin/ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || apt_missing+=(libvulkan1) # Dawn, for the webgpu tests (SwiftShader)
fi

if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing with apt: ${apt_missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  else
    say "missing system packages: ${apt_missing[*]}"
    say "install them with:  sudo apt-get install -y ${apt_missing[*]}"
    say "or use conda:       conda env create -f environment.yml && conda activate whisper-ts"
    exit 1
  fi
fi

# 4. The tslab kernel spec lives in kernel/kernels/tslab-whisper (found through JUPYTER_PATH, never
#    installed into ~/.local or /usr/share); check that Jupyter sees it.
# (The list is captured first: `grep -q` closing the pipe early would fail the pipeline under pipefail.)
kernels=$(JUPYTER_PATH="$root/kernel${JUPYTER_PATH:+:$JUPYTER_PATH}" PYDEVD_DISABLE_FILE_VALIDATION=1 \
  "${jupyter_python:-/usr/bin/python3}" -m jupyter_client.kernelspecapp list 2>/dev/null || true)
case "$kernels" in
  *tslab-whisper*) ;;
  *) say "Jupyter does not see the kernel spec in $root/kernel"; exit 1 ;;
esac

# 5. The oneDNN addon (native/; the wasm backend's products run on it by default once it is built):
#    built where g++, make and libdnnl-dev are (as root with apt, they are installed like Jupyter
#    above); never stops setup: without them wasm's own kernels run and build-native.sh prints why in one line.
#    Tried once (stamp native/build/.apt-tried), so that an offline machine does not retry apt at every run.
missing_native=()
command -v g++ >/dev/null 2>&1 || missing_native+=(g++)
command -v make >/dev/null 2>&1 || missing_native+=(make)
[ -f /usr/include/oneapi/dnnl/dnnl.h ] || [ -f /usr/include/dnnl.h ] || [ -f "${CONDA_PREFIX:-/nonexistent}/include/dnnl.h" ] || missing_native+=(libdnnl-dev)
if [ ${#missing_native[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ ! -f native/build/.apt-tried ]; then
  mkdir -p native/build && touch native/build/.apt-tried
  say "installing with apt for the native products: ${missing_native[*]} ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_native[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_native[@]}" >/dev/null 2>&1; } ||
    say "could not install ${missing_native[*]} (wasm's own kernels run)"
elif [ ${#missing_native[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "for the native products (faster on a CPU): sudo apt-get install -y ${missing_native[*]}; then bash scripts/build-native.sh"
fi
bash scripts/build-native.sh || true

# 6. The compiled library the notebooks import (dist/: src/ the library, apps/ and tools/ beside it).
#    A type error stops here with the compiler's message. dist/ is made anew when it still has the
#    layout from before apps/ and tools/ (dist/backend/ instead of dist/src/backend/).
[ -d dist/backend ] && rm -rf dist
if ! npx tsc -p tsconfig.build.json; then
  say "building the library failed (the compiler's message is above)"
  exit 1
fi
say "ready"
