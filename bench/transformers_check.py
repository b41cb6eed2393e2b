"""Issue 24 item 2: Python transformers loads the merged folder `exportModel` wrote and computes
this project's logits (bench/transformers-check.ts writes DIR; see there).

    python bench/transformers_check.py DIR

Checks, on samples/jfk.flac: the folder loads with WhisperForConditionalGeneration, WhisperProcessor
(tokenizer + feature extractor) and GenerationConfig; the tokenizer encodes the text to our ids;
transformers' log-Mel against ours; its logits on our features against ours (base + adapter, not
merged); its greedy transcript against ours. Prints one JSON line.
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import GenerationConfig, WhisperForConditionalGeneration, WhisperProcessor


def main(d: str) -> None:
    case = json.load(open(os.path.join(d, "case.json")))
    folder = os.path.join(d, "merged")
    model = WhisperForConditionalGeneration.from_pretrained(folder, torch_dtype=torch.float32).eval()
    processor = WhisperProcessor.from_pretrained(folder)
    GenerationConfig.from_pretrained(folder)
    pcm = np.fromfile(os.path.join(d, "pcm.f32"), dtype="<f4")
    ours_features = np.fromfile(os.path.join(d, "features.f32"), dtype="<f4").reshape(1, 80, 3000)
    tokens = case["tokens"]
    ours_logits = np.fromfile(os.path.join(d, "logits.f32"), dtype="<f4").reshape(len(tokens), case["vocab"])

    their_features = processor.feature_extractor(pcm, sampling_rate=16000, return_tensors="np").input_features
    text_ids = processor.tokenizer.encode(case["text"], add_special_tokens=False)
    with torch.no_grad():
        logits = model(input_features=torch.from_numpy(ours_features),
                       decoder_input_ids=torch.tensor([tokens])).logits[0].numpy()
        generated = model.generate(torch.from_numpy(ours_features), language="en", task="transcribe")
    transcript = processor.batch_decode(generated, skip_special_tokens=True)[0]
    print(json.dumps({
        "transformers": transformers.__version__, "torch": torch.__version__,
        "adapter": case["adapter"],
        "tokenizer_same_ids": text_ids == case["textTokens"],
        "features_max_abs_diff": float(np.abs(their_features - ours_features).max()),
        "logits_max_abs_diff": float(np.abs(logits - ours_logits).max()),
        "logits_max_abs": float(np.abs(ours_logits).max()),
        "argmax_same": bool((logits.argmax(-1) == ours_logits.argmax(-1)).all()),
        "transcript_transformers": transcript.strip(),
        "transcript_ours": case["transcript"].strip(),
        "transcript_same": transcript.strip() == case["transcript"].strip(),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
