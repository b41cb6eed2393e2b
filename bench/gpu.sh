#!/usr/bin/env bash
# The GPU benchmark in one command (issue 16): on a machine with a GPU, for whisper-tiny on webgpu
# (Dawn, npm webgpu) and on tfjs-node-gpu when it is installed:
#   - the adapter (and the GPU as nvidia-smi sees it),
#   - encoder seconds per 30 s window and decoder tokens/s (bench/gpu.ts),
#   - training seconds per example, A and B as in bench/train.ts (batch 8, LoRA q/v; A trains through
#     the encoder, B only the decoder on cached encoder outputs), in one process with no worker threads.
# Everything within BUDGET seconds (default 480); what did not fit says so. Logs and JSON in out/gpu/.
#
#   bash bench/gpu.sh                    on a GPU machine (node_modules and ../shared in place)
#   QUICK=1 bash bench/gpu.sh            toy sizes (200 frames, 4 tokens, batch 2, 1 step): checks the
#                                        script on a software adapter; with no GPU it uses SwiftShader
#
# Dawn reaches the GPU through Vulkan: a driver's ICD file in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d
# (in a container: NVIDIA_DRIVER_CAPABILITIES must include graphics, or be all) and libvulkan1.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=out/gpu
mkdir -p "$out"
start=$(date +%s)
budget=${BUDGET:-480}
left() { echo $(( budget - ($(date +%s) - start) )); }
tsx=node_modules/.bin/tsx

if [ "${QUICK:-0}" = 1 ]; then
  infer_args=(--frames 200 --reps 1 --tokens 4)
  train_env=(BATCH=2 STEPS=1 MICRO_A=2 FRAMES=200)
  [ -z "${VK_ICD_FILENAMES:-}" ] && ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1 &&
    [ -f /usr/lib/chromium/vk_swiftshader_icd.json ] && export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
else
  infer_args=(--frames 3000 --reps 3 --tokens 64)
  train_env=(BATCH=8 STEPS=2 MICRO_A=8)
fi

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"
echo "Vulkan ICDs: $(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | grep json | tr '\n' ' ')${VK_ICD_FILENAMES:+ VK_ICD_FILENAMES=$VK_ICD_FILENAMES}"
echo "NVIDIA_DRIVER_CAPABILITIES=${NVIDIA_DRIVER_CAPABILITIES:-unset}; node $(node --version); $(nproc) cores"

# The backend of each run is forced: a backend that cannot start says why and the next one runs.
backends=(webgpu)
if node -e "require('@tensorflow/tfjs-node-gpu')" >/dev/null 2>&1; then backends+=(tensorflow)
else echo "tfjs-node-gpu: not installed (npm install @tensorflow/tfjs-node-gpu@4.22.0, CUDA 11.2 + cuDNN 8.1)"; fi

for backend in "${backends[@]}"; do
  echo
  echo "== $backend: inference (budget left $(left) s)"
  if [ "$(left)" -le 10 ]; then echo "skipped: no time left"; continue; fi
  WHISPER_BACKEND=$backend timeout "$(left)" "$tsx" bench/gpu.ts "${infer_args[@]}" 2>&1 | tee "$out/$backend-inference.log"
  status=${PIPESTATUS[0]}
  [ "$status" = 124 ] && echo "stopped: the budget ran out"
  [ "$status" != 0 ] && continue
  echo
  echo "== $backend: training A and B (budget left $(left) s)"
  if [ "$(left)" -le 10 ]; then echo "skipped: no time left"; continue; fi
  rm -f out/bench-train.json
  env WHISPER_BACKEND=$backend WORKERS_A=1 WORKERS_B=1 "${train_env[@]}" timeout "$(left)" "$tsx" bench/train.ts 2>&1 | tee "$out/$backend-train.log"
  [ "${PIPESTATUS[0]}" = 124 ] && echo "stopped: the budget ran out"
  [ -f out/bench-train.json ] && cp out/bench-train.json "$out/$backend-train.json"
done
echo
echo "== done in $(( $(date +%s) - start )) s; logs in $out/"
