"""
Word timestamps of jfk as openai's algorithm computes them, for test/transcribe.test.ts.

OpenAI's whisper/timing.py (find_alignment, median_filter, dtw_cpu, backtrace, merge_punctuations,
add_word_timestamps) and tokenizer.py's split_to_word_tokens, written out below because the
openai-whisper package is not installable here; the model is OpenAI's whisper/model.py
(bench/anchor_pytorch.py) on the shared whisper-tiny weights, fed the reference's own encoder output
for jfk (shared/reference/whisper-tiny/fixtures/jfk.encoder.f32) and its greedy tokens
(transcripts.jsonl). The segment is what a clip of up to 30 s gives: one segment from 0 to the
clip's length, tokens without timestamps.

  /usr/bin/python3 bench/word_timestamps_reference.py > test/fixtures/jfk-word-timestamps.json

(Debian's python3-torch; unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE if the machine sets them.)
"""
import json
import os
import string
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from anchor_pytorch import SHARED, TextDecoder, hf_to_openai, read_safetensors  # noqa: E402

HOP_LENGTH, SAMPLE_RATE, TOKENS_PER_SECOND = 160, 16000, 50
MODEL = os.path.join(SHARED, "models", "whisper-tiny")
FIXTURES = os.path.join(SHARED, "reference", "whisper-tiny", "fixtures")


# --- tokenizer.py: byte-level BPE decoding and split_to_word_tokens --------------------------------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


tok = json.load(open(os.path.join(MODEL, "tokenizer.json")))
id_to_token = {v: k for k, v in tok["model"]["vocab"].items()}
for t in tok["added_tokens"]:
    id_to_token[t["id"]] = t["content"]
byte_of = {c: b for b, c in bytes_to_unicode().items()}
EOT = next(t["id"] for t in tok["added_tokens"] if t["content"] == "<|endoftext|>")


def decode(ids):
    out = b""
    for i in ids:
        s = id_to_token[i]
        out += s.encode() if i >= EOT else bytes(byte_of[c] for c in s)
    return out.decode("utf-8", errors="replace")


def split_tokens_on_unicode(tokens):
    decoded_full = decode(tokens)
    words, word_tokens, current, offset = [], [], [], 0
    for token in tokens:
        current.append(token)
        decoded = decode(current)
        if "\ufffd" not in decoded or decoded_full[offset + decoded.index("\ufffd")] == "\ufffd":
            words.append(decoded)
            word_tokens.append(current)
            current = []
            offset += len(decoded)
    return words, word_tokens


def split_tokens_on_spaces(tokens):
    subwords, subword_tokens_list = split_tokens_on_unicode(tokens)
    words, word_tokens = [], []
    for subword, subword_tokens in zip(subwords, subword_tokens_list):
        special = subword_tokens[0] >= EOT
        with_space = subword.startswith(" ")
        punctuation = subword.strip() in string.punctuation
        if special or with_space or punctuation or len(words) == 0:
            words.append(subword)
            word_tokens.append(subword_tokens)
        else:
            words[-1] = words[-1] + subword
            word_tokens[-1].extend(subword_tokens)
    return words, word_tokens


# --- timing.py ----------------------------------------------------------------------------------
def median_filter(x, filter_width):
    pad_width = filter_width // 2
    if x.shape[-1] <= pad_width:
        return x
    if (ndim := x.ndim) <= 2:
        x = x[None, None, :]
    x = F.pad(x, (filter_width // 2, filter_width // 2, 0, 0), mode="reflect")
    result = x.unfold(-1, filter_width, 1).sort()[0][..., filter_width // 2]
    if ndim <= 2:
        result = result[0, 0]
    return result


def backtrace(trace):
    i, j = trace.shape[0] - 1, trace.shape[1] - 1
    trace[0, :] = 2
    trace[:, 0] = 1
    result = []
    while i > 0 or j > 0:
        result.append((i - 1, j - 1))
        if trace[i, j] == 0:
            i -= 1
            j -= 1
        elif trace[i, j] == 1:
            i -= 1
        elif trace[i, j] == 2:
            j -= 1
        else:
            raise ValueError("Unexpected trace[i, j]")
    return np.array(result)[::-1, :].T


def dtw_cpu(x):
    N, M = x.shape
    cost = np.ones((N + 1, M + 1), dtype=np.float32) * np.inf
    trace = -np.ones((N + 1, M + 1), dtype=np.float32)
    cost[0, 0] = 0
    for j in range(1, M + 1):
        for i in range(1, N + 1):
            c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
            if c0 < c1 and c0 < c2:
                c, t = c0, 0
            elif c1 < c0 and c1 < c2:
                c, t = c1, 1
            else:
                c, t = c2, 2
            cost[i, j] = x[i - 1, j - 1] + c
            trace[i, j] = t
    return backtrace(trace)


def find_alignment(decoder, alignment_heads, sot_sequence, no_timestamps, text_tokens, audio_features, num_frames, medfilt_width=7):
    tokens = torch.tensor([*sot_sequence, no_timestamps, *text_tokens, EOT])
    QKs = [None] * len(decoder.blocks)

    # whisper/model.py's cross-attention, keeping qk (its forward hook's outs[-1]).
    def capture(index):
        attn = decoder.blocks[index].cross_attn

        def forward(x, xa=None, mask=None):
            q, k, v = attn.query(x), attn.key(xa), attn.value(xa)
            n_state = q.shape[-1]
            scale = (n_state // attn.n_head) ** -0.25
            q = q.view(*q.shape[:2], attn.n_head, -1).permute(0, 2, 1, 3) * scale
            k = k.view(*k.shape[:2], attn.n_head, -1).permute(0, 2, 3, 1) * scale
            v = v.view(*v.shape[:2], attn.n_head, -1).permute(0, 2, 1, 3)
            qk = (q @ k).float()
            QKs[index] = qk[0]
            w = F.softmax(qk, dim=-1)
            return attn.out((w @ v).permute(0, 2, 1, 3).flatten(start_dim=2))
        attn.forward = forward

    for i in range(len(decoder.blocks)):
        capture(i)
    with torch.no_grad():
        logits = decoder(tokens.unsqueeze(0), audio_features)[0]
        sampled_logits = logits[len(sot_sequence):, :EOT]
        token_probs = sampled_logits.softmax(dim=-1)
        text_token_probs = token_probs[np.arange(len(text_tokens)), text_tokens].tolist()

    weights = torch.stack([QKs[l][h] for l, h in alignment_heads])
    weights = weights[:, :, : num_frames // 2]
    weights = weights.softmax(dim=-1)
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
    weights = (weights - mean) / std
    weights = median_filter(weights, medfilt_width)
    matrix = weights.mean(axis=0)[len(sot_sequence): -1]
    text_indices, time_indices = dtw_cpu(-matrix.double().numpy())

    words, word_tokens = split_tokens_on_spaces(text_tokens + [EOT])
    word_boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / TOKENS_PER_SECOND
    start_times = jump_times[word_boundaries[:-1]]
    end_times = jump_times[word_boundaries[1:]]
    probs = [np.mean(text_token_probs[i:j]) for i, j in zip(word_boundaries[:-1], word_boundaries[1:])]
    return [dict(word=w, tokens=t, start=s, end=e, probability=p)
            for w, t, s, e, p in zip(words, word_tokens, start_times, end_times, probs)]


def merge_punctuations(alignment, prepended, appended):
    i, j = len(alignment) - 2, len(alignment) - 1
    while i >= 0:
        previous, following = alignment[i], alignment[j]
        if previous["word"].startswith(" ") and previous["word"].strip() in prepended:
            following["word"] = previous["word"] + following["word"]
            following["tokens"] = previous["tokens"] + following["tokens"]
            previous["word"], previous["tokens"] = "", []
        else:
            j = i
        i -= 1
    i, j = 0, 1
    while j < len(alignment):
        previous, following = alignment[i], alignment[j]
        if not previous["word"].endswith(" ") and following["word"] in appended:
            previous["word"] = previous["word"] + following["word"]
            previous["tokens"] = previous["tokens"] + following["tokens"]
            following["word"], following["tokens"] = "", []
        else:
            i = j
        j += 1


def add_word_timestamps(segments, alignment, last_speech_timestamp=0.0):
    word_durations = np.array([t["end"] - t["start"] for t in alignment])
    word_durations = word_durations[word_durations.nonzero()]
    median_duration = min(0.7, float(np.median(word_durations) if len(word_durations) > 0 else 0.0))
    max_duration = median_duration * 2
    if len(word_durations) > 0:
        for i in range(1, len(alignment)):
            if alignment[i]["end"] - alignment[i]["start"] > max_duration:
                if alignment[i]["word"] in ".。!！?？":
                    alignment[i]["end"] = alignment[i]["start"] + max_duration
                elif alignment[i - 1]["word"] in ".。!！?？":
                    alignment[i]["start"] = alignment[i]["end"] - max_duration
    merge_punctuations(alignment, "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、")
    time_offset = segments[0]["seek"] * HOP_LENGTH / SAMPLE_RATE
    word_index = 0
    for segment in segments:
        text_tokens = [t for t in segment["tokens"] if t < EOT]
        saved_tokens, words = 0, []
        while word_index < len(alignment) and saved_tokens < len(text_tokens):
            timing = alignment[word_index]
            if timing["word"]:
                words.append(dict(word=timing["word"], start=round(time_offset + timing["start"], 2),
                                  end=round(time_offset + timing["end"], 2), probability=timing["probability"]))
            saved_tokens += len(timing["tokens"])
            word_index += 1
        if len(words) > 0:
            if words[0]["end"] - last_speech_timestamp > median_duration * 4 and (
                words[0]["end"] - words[0]["start"] > max_duration
                or (len(words) > 1 and words[1]["end"] - words[0]["start"] > max_duration * 2)
            ):
                if len(words) > 1 and words[1]["end"] - words[1]["start"] > max_duration:
                    boundary = max(words[1]["end"] / 2, words[1]["end"] - max_duration)
                    words[0]["end"] = words[1]["start"] = boundary
                words[0]["start"] = max(0, words[0]["end"] - max_duration)
            if segment["start"] < words[0]["end"] and segment["start"] - 0.5 > words[0]["start"]:
                words[0]["start"] = max(0, min(words[0]["end"] - median_duration, segment["start"]))
            else:
                segment["start"] = words[0]["start"]
            if segment["end"] > words[-1]["start"] and segment["end"] + 0.5 < words[-1]["end"]:
                words[-1]["end"] = max(words[-1]["start"] + median_duration, segment["end"])
            else:
                segment["end"] = words[-1]["end"]
            last_speech_timestamp = segment["end"]
        segment["words"] = words


def main():
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    gen = json.load(open(os.path.join(MODEL, "generation_config.json")))
    decoder = TextDecoder(cfg["vocab_size"], cfg["max_target_positions"], cfg["d_model"], cfg["decoder_attention_heads"], cfg["decoder_layers"])
    weights = {hf_to_openai(k).replace("decoder.", "", 1): torch.from_numpy(v.copy())
               for k, v in read_safetensors(os.path.join(MODEL, "model.safetensors")).items() if k.startswith("model.decoder.")}
    missing, unexpected = decoder.load_state_dict(weights, strict=False)
    if [m for m in missing if m != "mask"] or unexpected:
        sys.exit(f"weights do not match: missing {missing}, unexpected {unexpected}")
    audio_features = torch.from_numpy(np.fromfile(os.path.join(FIXTURES, "jfk.encoder.f32"), dtype=np.float32).reshape(1, 1500, cfg["d_model"]))
    num_frames = len(np.fromfile(os.path.join(FIXTURES, "jfk.pcm.f32"), dtype=np.float32)) // HOP_LENGTH
    row = next(json.loads(l) for l in open(os.path.join(SHARED, "reference", "whisper-tiny", "transcripts.jsonl")) if json.loads(l)["id"] == "jfk")
    prompt = row["prompt"]  # sot, <|en|>, <|transcribe|>, <|notimestamps|>
    alignment = find_alignment(decoder, gen["alignment_heads"], prompt[:3], prompt[3], row["tokens"], audio_features, num_frames)
    segments = [dict(seek=0, start=0.0, end=num_frames / 100, tokens=row["tokens"])]
    add_word_timestamps(segments, alignment)
    words = [dict(word=w["word"], start=w["start"], end=w["end"], probability=round(float(w["probability"]), 4)) for w in segments[0]["words"]]
    head = {"source": "bench/word_timestamps_reference.py (openai timing.py on the reference jfk encoder output)",
            "torch": torch.__version__, "numFrames": num_frames, "segment": [segments[0]["start"], segments[0]["end"]]}
    print("{\n" + "".join(f" {json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items()) + ' "words": [\n' +
          ",\n".join("  " + json.dumps(w, ensure_ascii=False) for w in words) + "\n ]\n}")

if __name__ == "__main__":
    main()
