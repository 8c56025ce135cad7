"""Single-channel separation with a trained network: embeddings, K-means, masks, iSTFT.

Deep clustering inference (Section 2 of the bootstrapping paper, as in the original deep
clustering work): embed every time-frequency bin of the mixture, cluster the embeddings of the
loud bins with K-means into ``n_sources`` clusters, assign every bin to its nearest centroid,
and apply the resulting binary masks to the mixture STFT.  A Chimera network's mask-inference
head gives soft masks directly (``head="mi"``).

The network input is :func:`bootsep_lib.dsp.magnitude_db` of the mixture STFT (32 ms / 8 ms
by default) -- the ``features`` the training datasets provide; the network standardizes them
with the training-set statistics it carries.

Memory: the BLSTM runs on the whole signal at once (no chunking, so no seams).  Besides the
weights, inference holds about ``4 * (2 * units * layers + freqs * (D + 4))`` bytes per frame;
for the paper's network (4 x 300, D = 15, 129 frequencies) that is about 20 kB per 8 ms frame,
roughly 150 MB per minute of audio.  Split recordings longer than tens of minutes.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from sklearn.cluster import KMeans
from torch import nn

from bootsep_lib.dsp import istft, magnitude_db, read_audio, stft, stft_params, write_audio
from bootsep_lib.engine.config import RunConfig
from bootsep_lib.models import check_sample_rate, load_model
from bootsep_lib.spatial.features import loud_bins
from bootsep_lib.util.folders import prepare_output_dir

__all__ = ["HEADS", "embed", "kmeans_masks", "separate", "separate_file"]

HEADS = ("dc", "mi")


def _network_outputs(
    model: nn.Module,
    mixture: np.ndarray,
    sample_rate: int,
    window_ms: float,
    hop_ms: float,
    device: str | torch.device | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Embeddings (frames, freqs, D), MI masks (n, frames, freqs) or None, mixture STFT."""
    x = np.asarray(mixture, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a single-channel mixture (samples,), got shape {x.shape}")
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("the mixture is empty or contains NaN / infinite samples")
    mix_stft = stft(x, sample_rate, window_ms, hop_ms)
    n_freqs = getattr(model, "n_freqs", mix_stft.shape[-1])
    if mix_stft.shape[-1] != n_freqs:
        n_fft, _ = stft_params(sample_rate, window_ms, hop_ms)
        raise ValueError(
            f"the network expects {n_freqs} frequencies; a {window_ms} ms window at "
            f"{sample_rate} Hz gives {n_fft // 2 + 1} (use the training sample rate and window)"
        )
    if device is None:
        device = next(model.parameters()).device
    features = torch.from_numpy(magnitude_db(mix_stft).astype(np.float32))[None].to(device)
    was_training = model.training
    model.to(device).eval()
    try:
        with torch.inference_mode():
            out = model(features)
    finally:
        model.train(was_training)
    embeddings, masks = (out[0], out[1][0]) if isinstance(out, tuple) else (out, None)
    emb = embeddings[0].float().cpu().numpy()
    return emb, None if masks is None else masks.float().cpu().numpy(), mix_stft


def embed(
    model: nn.Module,
    mixture: np.ndarray,
    sample_rate: int,
    window_ms: float = 32.0,
    hop_ms: float = 8.0,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Embed every time-frequency bin of a single-channel mixture.

    Parameters
    ----------
    model : torch.nn.Module
        A deep clustering or Chimera network (``forward(features (B, T, F))``).
    mixture : np.ndarray, shape (samples,)
        Single-channel waveform.
    sample_rate : int
        Its sampling rate (the STFT must give the network's number of frequencies).
    window_ms, hop_ms : float
        STFT window and hop, as in training (papers: 32 / 8 ms).
    device : str or torch.device, optional
        Where to run the network (the model is moved there); default: where its parameters are.

    Returns
    -------
    embeddings : np.ndarray, float32, shape (frames, freqs, D)
        Unit-norm embedding of every bin.
    mix_stft : np.ndarray, complex64, shape (frames, freqs)
        The mixture STFT the embeddings belong to.
    """
    emb, _, mix_stft = _network_outputs(model, mixture, sample_rate, window_ms, hop_ms, device)
    return emb, mix_stft


def kmeans_masks(
    embeddings: np.ndarray,
    mix_stft: np.ndarray,
    n_sources: int,
    threshold_db: float = -25.0,
    seed: int = 0,
    *,
    n_init: int = 5,
    max_fit_bins: int | None = 50_000,
) -> np.ndarray:
    """Binary masks from K-means on the embeddings of the loud bins.

    K-means (scikit-learn, k-means++ initialization, ``n_init`` restarts) is fit on the
    embeddings of the bins whose magnitude lies within ``-threshold_db`` dB of the loudest bin
    of the mixture (quiet bins have unreliable embeddings and would pull the centroids), then
    every bin -- loud or not -- is assigned to its nearest centroid.  The -25 dB default is the
    threshold of the bootstrapping paper's original code (relative to the maximum, not an
    absolute level).

    Parameters
    ----------
    embeddings : np.ndarray, shape (frames, freqs, D)
    mix_stft : np.ndarray, complex, shape (frames, freqs)
        Mixture STFT (only its magnitude is used, to select the loud bins).
    n_sources : int
        Number of clusters.
    threshold_db : float
        Loud bins: ``20 log10 |X| >= max + threshold_db``.  If fewer than ``n_sources`` bins
        qualify, all bins are used.
    seed : int
        Random state of K-means (and of the subsample below).
    n_init : int
        K-means restarts; the lowest-inertia solution is kept.
    max_fit_bins : int, optional
        Fit on a random subset of at most this many loud bins (long inputs); ``None``: all.

    Returns
    -------
    masks : np.ndarray, float32, shape (n_sources, frames, freqs)
        One-hot over sources in every bin; the order of the sources is arbitrary.
    """
    if embeddings.ndim != 3 or embeddings.shape[:2] != mix_stft.shape:
        raise ValueError(
            f"expected embeddings (frames, freqs, D) and mix_stft (frames, freqs), got "
            f"{embeddings.shape} and {mix_stft.shape}"
        )
    if n_sources < 1:
        raise ValueError(f"n_sources must be >= 1, got {n_sources}")
    flat = embeddings.reshape(-1, embeddings.shape[-1]).astype(np.float32)
    if not np.all(np.isfinite(flat)):
        bad = int(np.count_nonzero(~np.isfinite(flat).all(axis=1)))
        raise ValueError(
            f"the network gave NaN or infinite embeddings in {bad} of {flat.shape[0]} bins: "
            "its weights are damaged or the input is out of range; retrain or use another "
            "checkpoint"
        )
    loud = np.flatnonzero(loud_bins(mix_stft, threshold_db).reshape(-1))
    if loud.size < n_sources:
        loud = np.arange(flat.shape[0])
    if loud.size < n_sources:
        raise ValueError(f"{loud.size} bins cannot be split into {n_sources} clusters")
    if max_fit_bins is not None and loud.size > max_fit_bins:
        loud = np.random.default_rng(seed).choice(loud, size=max_fit_bins, replace=False)
    kmeans = KMeans(n_clusters=n_sources, n_init=n_init, random_state=seed).fit(flat[loud])
    labels = kmeans.predict(flat).reshape(mix_stft.shape)
    return (labels[None] == np.arange(n_sources)[:, None, None]).astype(np.float32)


def separate(
    model: nn.Module,
    mixture: np.ndarray,
    sample_rate: int,
    *,
    n_sources: int,
    head: str = "dc",
    window_ms: float = 32.0,
    hop_ms: float = 8.0,
    threshold_db: float = -25.0,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Separate a single-channel mixture of any length.

    Parameters
    ----------
    model : torch.nn.Module
        Deep clustering or Chimera network.
    mixture : np.ndarray, shape (samples,)
    sample_rate : int
    n_sources : int
        Number of sources to extract.
    head : {"dc", "mi"}
        ``"dc"``: K-means binary masks on the embeddings (:func:`kmeans_masks`); ``"mi"``: the
        soft masks of a Chimera network's mask-inference head.
    window_ms, hop_ms : float
        STFT, as in training.
    threshold_db, seed : float, int
        K-means settings (``head="dc"``), see :func:`kmeans_masks`.
    device : str or torch.device, optional
        Where to run the network (the model is moved there); default: where its parameters are.

    Returns
    -------
    estimates : np.ndarray, float32, shape (n_sources, samples)
        Masked mixture STFTs, inverted; same length as the input, arbitrary source order.
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    emb, masks, mix_stft = _network_outputs(model, mixture, sample_rate, window_ms, hop_ms, device)
    if head == "mi":
        if masks is None:
            raise ValueError("head='mi' needs a Chimera network; this one only embeds")
        if masks.shape[0] != n_sources:
            raise ValueError(f"the MI head gives {masks.shape[0]} masks, {n_sources} asked")
    else:
        masks = kmeans_masks(emb, mix_stft, n_sources, threshold_db, seed)
    estimates = istft(masks * mix_stft[None], sample_rate, len(mixture), window_ms, hop_ms)
    return estimates.astype(np.float32)


def separate_file(
    in_path: str | os.PathLike,
    checkpoint: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    head: str = "dc",
    n_sources: int | None = None,
    expected: RunConfig | None = None,
    window_ms: float = 32.0,
    hop_ms: float = 8.0,
    threshold_db: float = -25.0,
    device: str | torch.device | None = None,
) -> list[Path]:
    """Separate a WAV file into ``out_dir/<stem>_s1.wav``, ``<stem>_s2.wav``, ...

    Parameters
    ----------
    in_path : path-like
        Mono or multichannel audio; channel 1 (index 0, the reference microphone) is used.
    checkpoint : path-like
        A checkpoint or run folder of :func:`bootsep_lib.engine.train_model`.
    out_dir : path-like
        Created if missing, and probed before inference (a file, or a folder that cannot be
        created or written, fails at once).  The outputs (32-bit float WAV, input rate) are
        written under temporary names and renamed only when all are written: never ``s1``
        without ``s2``.
    head : {"dc", "mi"}
        See :func:`separate`.
    n_sources : int, optional
        Default: the number the model was trained for.
    expected : RunConfig, optional
        Refuse a checkpoint trained with another configuration (``ValueError``).
    window_ms, hop_ms, threshold_db : float
        See :func:`separate`.
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.

    Returns
    -------
    list of Path
        The written files, ``s1`` first.

    Raises
    ------
    bootsep_lib.dsp.AudioError
        Unreadable, empty, silent or non-finite audio (a ``ValueError``).
    ValueError
        Unreadable or mismatched checkpoint, or a sample rate the network was not trained for;
        an unusable ``out_dir`` (:class:`~bootsep_lib.util.folders.OutputDirError`).
    OSError
        ``errno.ENOSPC`` naming the file when the disk fills up (nothing is left behind).
    """
    audio, rate = read_audio(in_path)
    model, run = load_model(checkpoint, device, expected=expected)
    check_sample_rate(model, rate, source=in_path)
    out_dir = prepare_output_dir(out_dir)
    estimates = separate(
        model,
        audio[0],
        rate,
        n_sources=run.n_sources if n_sources is None else n_sources,
        head=head,
        window_ms=window_ms,
        hop_ms=hop_ms,
        threshold_db=threshold_db,
    )
    stem = Path(in_path).stem
    paths = [out_dir / f"{stem}_s{k + 1}.wav" for k in range(len(estimates))]
    _write_all(paths, estimates, rate)
    return paths


def _write_one(tmp: Path, final: Path, estimate: np.ndarray, rate: int) -> None:
    """:func:`write_audio` to ``tmp``; a full disk becomes ``OSError(ENOSPC)`` naming ``final``.

    libsndfile reports a full disk as ``LibsndfileError: System error.`` without the errno,
    so the free space decides.
    """
    try:
        write_audio(tmp, estimate, rate)
    except sf.LibsndfileError as exc:
        if shutil.disk_usage(final.parent).free >= estimate.nbytes + 4096:
            raise OSError(errno.EIO, f"cannot write audio ({exc})", str(final)) from exc
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final)) from exc
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final)) from exc


def _write_all(paths: list[Path], estimates: np.ndarray, rate: int) -> None:
    """Write every estimate under a temporary name, then rename them all (or none)."""
    temps = [p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in paths]
    try:
        for tmp, path, estimate in zip(temps, paths, estimates, strict=True):
            _write_one(tmp, path, estimate, rate)
        for tmp, path in zip(temps, paths, strict=True):
            os.replace(tmp, path)
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise
