"""Mixtures per second of the corpus builder, split into synthesis and simulation time.

Run: ``python benchmarks/bench_data.py [--mixtures 6]``.  One process (jobs=1), 2 speakers,
anechoic and reverberant, 8 and 16 kHz; each mixture is timed in three parts: eSpeak synthesis
of its two utterances (no cache), room simulation (RIRs + convolution, T60 calibration
included), mixing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from tqdm.auto import tqdm

from bootsep_lib import data
from bootsep_lib.config import Geometry
from bootsep_lib.data import draw_levels, mix_sources, sample_scene, simulate


def bench(condition: str, sample_rate: int, n_mixtures: int, seed: int = 0) -> dict:
    """Time ``n_mixtures`` 2-speaker mixtures; returns seconds per stage and mixtures/s."""
    geometry = Geometry()
    speakers = data.split_speakers(4, 2, 2, seed=seed)["tr"]
    rng = np.random.default_rng(seed)
    t_syn = t_sim = t_mix = audio_s = 0.0
    for _ in tqdm(range(n_mixtures), desc=f"{condition} {sample_rate}", leave=False):
        who = rng.choice(len(speakers), size=2, replace=False)
        t0 = time.perf_counter()
        dry = [data.synthesize(data.random_sentence(rng), speakers[i], sample_rate)
               for i in who]
        t1 = time.perf_counter()
        scene = sample_scene(geometry, 2, rng, reverberant=condition == "reverb")
        images = simulate(scene, dry, sample_rate)
        t2 = time.perf_counter()
        mix, _ = mix_sources([im[:, : len(d)] for im, d in zip(images, dry, strict=True)],
                             draw_levels(2, rng, geometry.relative_level_db))
        t3 = time.perf_counter()
        t_syn, t_sim, t_mix = t_syn + t1 - t0, t_sim + t2 - t1, t_mix + t3 - t2
        audio_s += mix.shape[1] / sample_rate
    total = t_syn + t_sim + t_mix
    return {"condition": condition, "rate": sample_rate, "mixtures": n_mixtures,
            "audio_s": audio_s / n_mixtures, "synth_s": t_syn / n_mixtures,
            "sim_s": t_sim / n_mixtures, "mix_s": t_mix / n_mixtures,
            "mix_per_s": n_mixtures / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixtures", type=int, default=6)
    args = parser.parse_args()
    data.synthesize("warm up", data.split_speakers(4, 2, 2)["tr"][0], 8000)
    rows = [bench(c, r, args.mixtures) for c in ("anechoic", "reverb") for r in (8000, 16000)]
    print(f"{'condition':<9} {'rate':>6} {'n':>3} {'audio s':>8} {'synth s':>8} {'sim s':>8} "
          f"{'mix s':>7} {'mix/s':>7}")
    for r in rows:
        print(f"{r['condition']:<9} {r['rate']:>6} {r['mixtures']:>3} {r['audio_s']:>8.2f} "
              f"{r['synth_s']:>8.3f} {r['sim_s']:>8.3f} {r['mix_s']:>7.4f} {r['mix_per_s']:>7.2f}")


if __name__ == "__main__":
    main()
