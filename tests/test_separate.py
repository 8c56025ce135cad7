"""Separation: a smoke-size network learns two clearly different synthetic sources; K-means
masks, the MI head, and file I/O."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import Dataset

from bootsep_lib.config import ModelConfig, TrainConfig
from bootsep_lib.dsp import AudioError, magnitude_db, stft
from bootsep_lib.engine import RunConfig, train_model
from bootsep_lib.eval import si_bss_eval
from bootsep_lib.models import build_model, feature_statistics, load_model
from bootsep_lib.separate import embed, kmeans_masks, separate, separate_file
from bootsep_lib.targets import ground_truth_labels, magnitude_weights

RATE = 8000


def tone_and_noise(rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    """Two sources ``(2, samples)``: a harmonic tone complex (f0 100-200 Hz, harmonics below
    1.5 kHz, 1/k amplitudes) and noise band-limited to 2-3.5 kHz, at -3..3 dB of each other."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = rng.uniform(100.0, 200.0)
    harmonics = np.arange(1, int(1500 // f0) + 1)
    tone = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in harmonics)
    spectrum = np.fft.rfft(rng.normal(size=n))
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    noise = np.fft.irfft(spectrum * ((freqs >= 2000) & (freqs <= 3500)), n)
    sources = np.stack([tone, noise])
    sources /= np.sqrt(np.mean(sources**2, axis=1, keepdims=True))
    sources[1] *= 10 ** (rng.uniform(-3.0, 3.0) / 20)
    return (0.1 * sources).astype(np.float32)


class ToneNoiseMixtures(Dataset):
    """Training items from :func:`tone_and_noise`: log-magnitude features, ideal binary
    labels, magnitude weights ``|X| / sum |X|`` (lengths 0.8-1.2 s)."""

    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.items = []
        for _ in range(n):
            sources = tone_and_noise(rng, rng.uniform(0.8, 1.2))
            mix = stft(sources.sum(0), RATE)
            self.items.append(
                {
                    "features": magnitude_db(mix).astype(np.float32),
                    "labels": ground_truth_labels(stft(sources, RATE)),
                    "weights": magnitude_weights(mix).astype(np.float32),
                }
            )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.items[index]


RUN = RunConfig(
    model=ModelConfig(layers=1, units=32, embedding_dim=10),
    train=TrainConfig(batch_size=8, crop_frames=100, epochs=15, lr=3e-3, seed=0,
                      lr_patience=15, early_stop_patience=15),
    loss="dc",
    n_freqs=129,
    data_tag="test-tone-vs-noise",
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """The smoke-size network trained for 60 steps (32 mixtures, 4 batches per epoch)."""
    return train_model(
        RUN, ToneNoiseMixtures(32, seed=0), ToneNoiseMixtures(8, seed=1),
        cache_dir=tmp_path_factory.mktemp("sep"), progress=False,
    )


def _mean_si_sdr_gain(model: torch.nn.Module) -> float:
    """Mean SI-SDR improvement (dB) over the mixture on 6 held-out 1.5-s mixtures."""
    rng = np.random.default_rng(123)
    gains = []
    for _ in range(6):
        sources = tone_and_noise(rng, 1.5)
        mix = sources.sum(0)
        estimates = separate(model, mix, RATE, n_sources=2)
        assert estimates.shape == sources.shape and estimates.dtype == np.float32
        improved = si_bss_eval(estimates, sources)["si_sdr"]
        baseline = si_bss_eval(np.stack([mix, mix]), sources, permute=False)["si_sdr"]
        gains.append(np.mean(improved - baseline))
    return float(np.mean(gains))


def test_learns_to_separate_tone_from_noise(trained) -> None:
    history = trained.history
    assert trained.steps_run == 60
    assert history["train_loss"].iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    model, _ = load_model(trained.run_dir)
    # measured: about 40 dB (the two sources occupy disjoint bands); chance is about 0 dB
    assert _mean_si_sdr_gain(model) > 10.0
    torch.manual_seed(RUN.train.seed)
    untrained = build_model("dc", 129, RUN.model)
    features = [torch.from_numpy(item["features"]) for item in ToneNoiseMixtures(32, seed=0)]
    untrained.set_input_stats(*feature_statistics(torch.cat(features)[None]))
    assert _mean_si_sdr_gain(untrained) < 3.0


def test_embed_shapes_and_unit_norm(trained) -> None:
    model, _ = load_model(trained.run_dir, device="cpu")
    mixture = tone_and_noise(np.random.default_rng(5), 0.5).sum(0)
    emb, mix_stft = embed(model, mixture, RATE)
    assert emb.shape == (*mix_stft.shape, 10) and mix_stft.shape[-1] == 129
    np.testing.assert_allclose(np.linalg.norm(emb, axis=-1), 1.0, atol=1e-5)
    assert not model.training
    with pytest.raises(ValueError, match="129 frequencies"):
        embed(model, mixture, 16000)


def test_kmeans_masks_cluster_loud_bins_and_assign_all() -> None:
    rng = np.random.default_rng(0)
    frames, freqs = 40, 30
    truth = (np.arange(freqs) >= 12)[None, :].repeat(frames, 0)
    centres = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    emb = centres[truth.astype(int)] + 0.05 * rng.normal(size=(frames, freqs, 3))
    magnitude = np.ones((frames, freqs))
    magnitude[:, ::3] = 1e-4  # -80 dB: excluded from the fit, still assigned
    # quiet outliers in the middle of nowhere would pull a centroid if they were fitted
    emb[:, ::3] = np.array([0.0, 0.0, 9.0]) + emb[:, ::3]
    masks = kmeans_masks(emb.astype(np.float32), magnitude.astype(np.complex64), 2)
    assert masks.shape == (2, frames, freqs) and masks.dtype == np.float32
    np.testing.assert_array_equal(masks.sum(0), 1.0)
    loud = magnitude > 0.5
    agree = (masks[1] == truth)[loud].mean()
    assert max(agree, 1 - agree) == 1.0
    # with every bin fitted, the outliers form a cluster of their own
    all_bins = kmeans_masks(emb.astype(np.float32), magnitude.astype(np.complex64), 2,
                            threshold_db=-200.0)
    outliers = all_bins[:, :, ::3]
    assert (outliers.sum(axis=(1, 2)) == outliers[0].size).any()
    with pytest.raises(ValueError, match="expected embeddings"):
        kmeans_masks(emb[:, :5], magnitude, 2)


def test_mi_head_masks_sum_to_the_mixture() -> None:
    torch.manual_seed(0)
    model = build_model("chimera", 129, ModelConfig(layers=1, units=8, embedding_dim=4), 2)
    mixture = tone_and_noise(np.random.default_rng(2), 0.7).sum(0)
    estimates = separate(model, mixture, RATE, n_sources=2, head="mi")
    assert estimates.shape == (2, mixture.size)
    np.testing.assert_allclose(estimates.sum(0), mixture, atol=1e-5)
    with pytest.raises(ValueError, match="3 asked"):
        separate(model, mixture, RATE, n_sources=3, head="mi")
    dc_model = build_model("dc", 129, ModelConfig(layers=1, units=8, embedding_dim=4))
    with pytest.raises(ValueError, match="Chimera"):
        separate(dc_model, mixture, RATE, n_sources=2, head="mi")
    # the DC head works on a Chimera network too, and on very short or odd-length inputs
    for length in (1, 77, 1001):
        out = separate(model, mixture[:length], RATE, n_sources=2)
        assert out.shape == (2, length) and np.isfinite(out).all()


def test_separate_file_mono_stereo_and_errors(trained, tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    mix = tone_and_noise(rng, 1.0).sum(0)
    other_channel = tone_and_noise(rng, 1.0).sum(0)
    sf.write(tmp_path / "mono.wav", mix, RATE, subtype="FLOAT")
    sf.write(tmp_path / "stereo.wav", np.stack([mix, other_channel], 1), RATE, subtype="FLOAT")
    mono = separate_file(tmp_path / "mono.wav", trained.run_dir, tmp_path / "out")
    stereo = separate_file(tmp_path / "stereo.wav", trained.best_checkpoint, tmp_path / "out",
                           expected=RUN)
    assert [p.name for p in mono] == ["mono_s1.wav", "mono_s2.wav"]
    assert [p.name for p in stereo] == ["stereo_s1.wav", "stereo_s2.wav"]
    for a, b in zip(mono, stereo, strict=True):  # channel 1 of the stereo file is the mixture
        wav_a, rate = sf.read(a)
        wav_b, _ = sf.read(b)
        assert rate == RATE and wav_a.shape == mix.shape
        np.testing.assert_allclose(wav_a, wav_b, atol=1e-6)

    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioError, match="cannot be read"):
        separate_file(corrupt, trained.run_dir, tmp_path / "out")
    other = RunConfig(RUN.model, RUN.train, loss="mdc", n_freqs=129, data_tag=RUN.data_tag)
    with pytest.raises(ValueError, match="another configuration"):
        separate_file(tmp_path / "mono.wav", trained.run_dir, tmp_path / "out", expected=other)
    sf.write(tmp_path / "wide.wav", np.repeat(mix, 2), 2 * RATE, subtype="FLOAT")
    with pytest.raises(ValueError, match="frequencies"):
        separate_file(tmp_path / "wide.wav", trained.run_dir, tmp_path / "out")
