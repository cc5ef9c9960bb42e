"""Do mixtures of two Kokoro style tables sound like new speakers? Distances to the parents by resemblyzer.

For each pair of voices (same language and gender), renders the same sentences with voice A, voice B
and their 50/50 mixture M, embeds every clip with resemblyzer (the `eval` extra), and prints the
cosine between speaker centroids: A-B (two different speakers), M-A and M-B (the mixture to its
parents), and A-A' (one voice, two halves of its sentences: the same-speaker level). A mixture that
acts as a new speaker sits well below the same-speaker level to both parents.

    python recipes/kokoro/mixtures.py [--sentences 6]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch

from recipes.kokoro.assets import KokoroAssets
from recipes.kokoro.catalog import load_catalog
from recipes.kokoro.engine import SAMPLE_RATE, KokoroEngine
from recipes.kokoro.plan import sentence_source
from recipes.polyglot.sentences import sentence_stream
from vclone.eval.similarity import centroid, cosine_similarity, embed_clip
from vclone.models.speaker_encoder.encoder import ResemblyzerEncoder

PAIRS = (("af_heart", "af_bella", "en-us"), ("am_michael", "am_fenrir", "en-us"),
         ("bf_emma", "bf_isabella", "en-gb"), ("zf_xiaobei", "zf_xiaoni", "zh"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=6, help="sentences per voice (even; default 6)")
    args = parser.parse_args(argv)
    catalog = load_catalog()
    assets = KokoroAssets(catalog.sha256)
    engine = KokoroEngine(assets, num_threads=1)
    encoder = ResemblyzerEncoder()
    print(f"{'pair':<25}" + " ".join(f"{c:>6}" for c in ("A-B", "M-A", "M-B", "A-A'", "B-B'", "M-M'")))
    for a, b, language in PAIRS:
        texts = sentence_stream(sentence_source(language), f"mixtures/{language}", args.sentences)
        mix = assets.mix(f"{a}+{b}", {a: 0.5, b: 0.5})
        embeddings = {}
        for voice in (a, b, mix):
            clips = [torch.from_numpy(engine(t, language, voice)) for t in texts]
            embeddings[voice] = [embed_clip(encoder, clip, SAMPLE_RATE) for clip in clips]
        whole = {v: centroid(e) for v, e in embeddings.items()}
        half = len(texts) // 2

        def self_cos(v: str) -> float:
            return cosine_similarity(centroid(embeddings[v][:half]), centroid(embeddings[v][half:]))

        cells = (cosine_similarity(whole[a], whole[b]), cosine_similarity(whole[mix], whole[a]),
                 cosine_similarity(whole[mix], whole[b]), self_cos(a), self_cos(b), self_cos(mix))
        print(f"{a + '+' + b:<25}" + " ".join(f"{c:6.3f}" for c in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
