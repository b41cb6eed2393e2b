"""
The PyTorch anchor of bench/train.ts, re-measured on this machine: OpenAI's Whisper model (the
layers of whisper/model.py, written out below because the openai-whisper package is not
installable here), whisper-tiny weights from ../shared, batch 8 of 30 s inputs, gradients for the
q and v projection weights of every attention module, everything else frozen, 2 threads.

Why re-measure: the issue's anchor (3.85 s per example) was taken once; this VM's speed drifts by
10-40 % over a day, so BENCHMARKS.md compares runs of this script and of bench/train.ts made back
to back.

  npx tsx bench/train.ts              # writes the batch to out/bench-train-batch.{bin,json}
  /usr/bin/python3 bench/anchor_pytorch.py A   # or B; Debian's python3-torch (1.13) with OpenBLAS

Prints seconds per training example over STEPS timed steps after one warm-up step, and writes
out/bench-anchor-A.json (or -B). Debian's torch calls the system BLAS: with only the reference
BLAS (libblas3) a step takes minutes; install libopenblas0-pthread (what a Debian user gets with
`apt install python3-torch libopenblas0`).
"""
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("WHISPER_SHARED", os.path.join(ROOT, "..", "shared"))
STEPS = int(os.environ.get("STEPS", "2"))
# A: gradients for q/v in every attention module (the encoder runs forward and backward each step);
# B: q/v in the decoder only, the frozen encoder run once per clip and its output reused.
CONFIG = (sys.argv[1] if len(sys.argv) > 1 else "A").upper()


class MultiHeadAttention(nn.Module):
    def __init__(self, n_state, n_head):
        super().__init__()
        self.n_head = n_head
        self.query = nn.Linear(n_state, n_state)
        self.key = nn.Linear(n_state, n_state, bias=False)
        self.value = nn.Linear(n_state, n_state)
        self.out = nn.Linear(n_state, n_state)

    def forward(self, x, xa=None, mask=None):
        q = self.query(x)
        k = self.key(x if xa is None else xa)
        v = self.value(x if xa is None else xa)
        n_batch, n_ctx, n_state = q.shape
        scale = (n_state // self.n_head) ** -0.25
        q = q.view(*q.shape[:2], self.n_head, -1).permute(0, 2, 1, 3) * scale
        k = k.view(*k.shape[:2], self.n_head, -1).permute(0, 2, 3, 1) * scale
        v = v.view(*v.shape[:2], self.n_head, -1).permute(0, 2, 1, 3)
        qk = q @ k
        if mask is not None:
            qk = qk + mask[:n_ctx, :n_ctx]
        w = F.softmax(qk.float(), dim=-1)
        return self.out((w @ v).permute(0, 2, 1, 3).flatten(start_dim=2))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, n_state, n_head, cross_attention=False):
        super().__init__()
        self.attn = MultiHeadAttention(n_state, n_head)
        self.attn_ln = nn.LayerNorm(n_state)
        self.cross_attn = MultiHeadAttention(n_state, n_head) if cross_attention else None
        self.cross_attn_ln = nn.LayerNorm(n_state) if cross_attention else None
        self.mlp = nn.Sequential(nn.Linear(n_state, 4 * n_state), nn.GELU(), nn.Linear(4 * n_state, n_state))
        self.mlp_ln = nn.LayerNorm(n_state)

    def forward(self, x, xa=None, mask=None):
        x = x + self.attn(self.attn_ln(x), mask=mask)
        if self.cross_attn is not None:
            x = x + self.cross_attn(self.cross_attn_ln(x), xa)
        return x + self.mlp(self.mlp_ln(x))


class AudioEncoder(nn.Module):
    def __init__(self, n_mels, n_ctx, n_state, n_head, n_layer):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, n_state, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(n_state, n_state, kernel_size=3, stride=2, padding=1)
        self.register_buffer("positional_embedding", torch.zeros(n_ctx, n_state))
        self.blocks = nn.ModuleList([ResidualAttentionBlock(n_state, n_head) for _ in range(n_layer)])
        self.ln_post = nn.LayerNorm(n_state)

    def forward(self, x):
        x = F.gelu(self.conv1(x))
        x = F.gelu(self.conv2(x)).permute(0, 2, 1)
        x = x + self.positional_embedding
        for block in self.blocks:
            x = block(x)
        return self.ln_post(x)


class TextDecoder(nn.Module):
    def __init__(self, n_vocab, n_ctx, n_state, n_head, n_layer):
        super().__init__()
        self.token_embedding = nn.Embedding(n_vocab, n_state)
        self.positional_embedding = nn.Parameter(torch.empty(n_ctx, n_state))
        self.blocks = nn.ModuleList([ResidualAttentionBlock(n_state, n_head, cross_attention=True) for _ in range(n_layer)])
        self.ln = nn.LayerNorm(n_state)
        self.register_buffer("mask", torch.empty(n_ctx, n_ctx).fill_(-np.inf).triu_(1), persistent=False)

    def forward(self, x, xa):
        x = self.token_embedding(x) + self.positional_embedding[: x.shape[-1]]
        for block in self.blocks:
            x = block(x, xa, mask=self.mask)
        x = self.ln(x)
        return (x @ torch.transpose(self.token_embedding.weight, 0, 1)).float()


def read_safetensors(path):
    """name -> float32 numpy array (the format: 8-byte header length, JSON header, raw data)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "F16": np.float16, "BF16": None}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[start:end]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=dtypes[info["dtype"]]).astype(np.float32)
        out[name] = arr.reshape(info["shape"])
    return out


def hf_to_openai(name):
    """Hugging Face parameter name -> whisper/model.py's."""
    n = name.replace("model.", "", 1)
    for a, b in [("embed_positions.weight", "positional_embedding"), ("embed_tokens", "token_embedding"),
                 ("layers.", "blocks."), ("self_attn_layer_norm", "attn_ln"), ("encoder_attn_layer_norm", "cross_attn_ln"),
                 ("self_attn.", "attn."), ("encoder_attn.", "cross_attn."), ("q_proj", "query"), ("k_proj", "key"),
                 ("v_proj", "value"), ("out_proj", "out"), ("fc1", "mlp.0"), ("fc2", "mlp.2"), ("final_layer_norm", "mlp_ln"),
                 ("encoder.layer_norm", "encoder.ln_post"), ("decoder.layer_norm", "decoder.ln")]:
        n = n.replace(a, b)
    return n


def main():
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    model_dir = os.path.join(SHARED, "models", "whisper-tiny")
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    d, heads = cfg["d_model"], cfg["encoder_attention_heads"]
    encoder = AudioEncoder(cfg["num_mel_bins"], cfg["max_source_positions"], d, heads, cfg["encoder_layers"])
    decoder = TextDecoder(cfg["vocab_size"], cfg["max_target_positions"], d, heads, cfg["decoder_layers"])
    model = nn.ModuleDict({"encoder": encoder, "decoder": decoder})
    weights = {hf_to_openai(k): torch.from_numpy(v.copy()) for k, v in read_safetensors(os.path.join(model_dir, "model.safetensors")).items()
               if k != "proj_out.weight"}  # tied to the token embedding
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if [m for m in missing if m != "decoder.mask"] or unexpected:
        sys.exit(f"weights do not match the model: missing {missing}, unexpected {unexpected}")

    # Gradients for the q and v projection weights (of the decoder only in B); the rest frozen.
    trainable = []
    for name, p in model.named_parameters():
        p.requires_grad = name.endswith(("query.weight", "value.weight")) and (CONFIG == "A" or name.startswith("decoder."))
        if p.requires_grad:
            trainable.append(p)

    batch = json.load(open(os.path.join(ROOT, "out", "bench-train-batch.json")))
    labels = batch["labels"]
    b = len(labels)
    feats = np.fromfile(os.path.join(ROOT, "out", "bench-train-batch.bin"), dtype=np.float32).reshape(b, batch["nMels"], -1)
    mel = torch.from_numpy(feats)
    t = max(len(l) for l in labels) - 1
    tokens = torch.tensor([l[:-1] + [cfg["eos_token_id"]] * (t - len(l) + 1) for l in labels])
    targets = torch.tensor([l[1:] + [-100] * (t - len(l) + 1) for l in labels])

    cached = None
    if CONFIG == "B":
        t0 = time.perf_counter()
        with torch.no_grad():
            cached = encoder(mel)
        print(f"encoder, once per clip: {(time.perf_counter() - t0) / b:.2f} s per clip", flush=True)
    times, cpu_times, losses = [], [], []
    for step in range(STEPS + 1):
        t0 = time.perf_counter()
        c0 = time.process_time()
        logits = decoder(tokens, cached if cached is not None else encoder(mel))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
        grads = torch.autograd.grad(loss, trainable)
        times.append(time.perf_counter() - t0)
        # CPU seconds beside wall time, as bench/train.ts prints them: on a shared machine wall time
        # well above CPU / threads means the cores were busy elsewhere (OpenBLAS's threads also
        # spin while they wait, which counts as CPU).
        cpu_times.append(time.process_time() - c0)
        losses.append(loss.item())
        del grads
        print(f"step {step + 1}: {times[-1]:.2f} s, cpu {cpu_times[-1]:.2f} s (loss {losses[-1]:.6f})", flush=True)
    per_example = sum(times[1:]) / STEPS / b
    cpu_per_example = sum(cpu_times[1:]) / STEPS / b
    result = {"config": CONFIG, "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": b, "steps": STEPS,
              "wallSecondsPerExample": per_example, "cpuSecondsPerExample": cpu_per_example, "losses": losses}
    print(json.dumps(result, indent=2))
    json.dump(result, open(os.path.join(ROOT, "out", f"bench-anchor-{CONFIG}.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
