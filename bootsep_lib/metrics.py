"""Separation metrics: scale-invariant BSS-eval, BSS-eval v4, STOI, partition quality, CIs.

Conventions
-----------
* Signals are ``(..., n_sources, samples)``; any leading batch dimensions are allowed and are
  kept in every output.  Per-source outputs are ``(..., n_sources)`` and are ordered **by
  reference**: entry ``j`` scores reference ``j`` against the estimate ``perm[..., j]`` matched
  to it (the convention of BSS-eval / ``mir_eval`` / ``fast_bss_eval``).  Swapping two estimates
  therefore leaves every score unchanged and swaps ``perm``.
* All computations run in float64 whatever the input dtype.

Scale-invariant measures (Le Roux, Wisdom, Erdogan, Hershey, "SDR -- half-baked or well
done?", ICASSP 2019).  With zero-mean estimate ``ŝ`` and references ``s_1 .. s_N``, for the
estimate matched to reference ``s = s_j``::

    e_target = (<ŝ, s> / ||s||²) s          e_res    = ŝ - e_target
    ŝ_proj   = least-squares projection of ŝ onto span(s_1, ..., s_N)
    e_interf = ŝ_proj - e_target            e_artif  = ŝ - ŝ_proj
    SI-SDR = 10 log10(||e_target||² / ||e_res||²)
    SI-SIR = 10 log10(||e_target||² / ||e_interf||²)
    SI-SAR = 10 log10(||e_target||² / ||e_artif||²)

Because ``e_interf ⟂ e_artif`` and ``e_res = e_interf + e_artif``, the identity
``10^(-SI-SDR/10) = 10^(-SI-SIR/10) + 10^(-SI-SAR/10)`` holds exactly.

Every term above is a function of inner products only.  With the Gram matrices
``R = S Sᵀ`` (references, ``N x N``), ``c_i = S ŝ_i`` and ``e_i = ||ŝ_i||²``::

    ||e_target||² = c_ij² / R_jj        ||ŝ_proj||² = p_i = c_iᵀ R⁺ c_i
    ||e_res||²    = e_i - c_ij² / R_jj
    ||e_interf||² = p_i - c_ij² / R_jj
    ||e_artif||²  = e_i - p_i

so :func:`si_bss_eval` reads the waveforms once (one ``2N x 2N`` Gram matrix per mixture)
and scores every (estimate, reference) pair and every permutation from ``N x N`` matrices.
Differences of inner products cannot resolve an error energy below about ``eps · ||ŝ||²`` (float64
``eps`` = 2.2e-16), so error energies are floored there and all SI measures saturate at
``-10 log10(eps)`` ≈ 156.5 dB (:data:`MAX_DB`) instead of returning ``inf``.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linear_sum_assignment

from .eval.stats import bootstrap_ci, paired_difference_ci

__all__ = [
    "MAX_DB",
    "si_sdr",
    "si_bss_eval",
    "bss_eval",
    "stoi",
    "evaluate_mixture",
    "partition_quality",
    "label_accuracy",
    "bootstrap_ci",
    "paired_difference_ci",
]

_EPS = float(np.finfo(np.float64).eps)
MAX_DB = float(-10.0 * np.log10(_EPS))
"""Saturation value (dB) of the SI measures: an error energy below ``eps · ||ŝ||²`` is
indistinguishable from zero in float64 arithmetic on inner products."""

# Waveform elements (float64, 2 MB) per block in si_bss_eval: small enough to stay in cache
# (measured 2x faster than 128 MB blocks) and to bound memory for inputs of any size.
_BLOCK_ELEMENTS = 1 << 18
# Mixtures per fast_bss_eval call: its pairwise solve builds one (N*L)² system per mixture
# (8 MB for N = 2, L = 512), so the batch is processed a few mixtures at a time.
_BSS_BLOCK = 8
# Largest number of sources for which all N! permutations are enumerated (24 for N = 4);
# above it a linear assignment per mixture gives the same optimum of the summed SI-SDR.
_MAX_ENUMERATED_SOURCES = 4


def _ratio_db(target: np.ndarray, error: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``10 log10(target / error)`` with ``error`` floored at ``eps · scale`` (see module doc)."""
    floor = _EPS * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10.0 * np.log10(target / np.maximum(error, floor))


def _check_sources(estimates: np.ndarray, references: np.ndarray) -> None:
    if estimates.shape != references.shape:
        raise ValueError(
            f"estimates {estimates.shape} and references {references.shape} must have the "
            "same shape (..., n_sources, samples)"
        )
    if estimates.ndim < 2:
        raise ValueError(f"expected (..., n_sources, samples), got shape {estimates.shape}")


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Scale-invariant SDR of one estimate per reference, no permutation.

    Le Roux et al., ICASSP 2019, Eq. (3)-(4), on zero-mean signals; the residual is formed
    sample by sample (not from inner products), saturating at :data:`MAX_DB`.

    Parameters
    ----------
    estimate, reference : np.ndarray, shape (..., samples)
        Matching estimate and reference signals (broadcastable).

    Returns
    -------
    np.ndarray, shape (...)
        SI-SDR in dB (float64).  A silent reference gives NaN.
    """
    est = np.asarray(estimate, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    est = est - est.mean(axis=-1, keepdims=True)
    ref = ref - ref.mean(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.sum(est * ref, axis=-1, keepdims=True) / np.sum(ref**2, axis=-1, keepdims=True)
    target = alpha * ref
    residual = est - target
    return _ratio_db(
        np.sum(target**2, axis=-1), np.sum(residual**2, axis=-1), np.sum(est**2, axis=-1)
    )


def _gram_stats(
    estimates: np.ndarray, references: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inner products of the zero-mean signals of every mixture.

    Mixtures are processed a few at a time through one float64 buffer holding
    ``[ŝ_1 .. ŝ_N, s_1 .. s_N]``, so the cast, the mean removal and the ``2N x 2N`` Gram
    product run on cache-resident data.

    Parameters
    ----------
    estimates, references : np.ndarray, shape (B, N, T)

    Returns
    -------
    ref_gram : np.ndarray, shape (B, N, N)
        ``R[b, j, k] = <s_j, s_k>``.
    cross : np.ndarray, shape (B, N, N)
        ``C[b, i, j] = <ŝ_i, s_j>``.
    est_energy : np.ndarray, shape (B, N)
        ``||ŝ_i||²``.
    """
    n_batch, n_src, n_samples = estimates.shape
    gram = np.empty((n_batch, 2 * n_src, 2 * n_src))
    step = max(1, _BLOCK_ELEMENTS // (2 * n_src * n_samples))
    buffer = np.empty((min(step, n_batch), 2 * n_src, n_samples))
    for start in range(0, n_batch, step):
        signals = buffer[: min(step, n_batch - start)]
        signals[:, :n_src] = estimates[start : start + step]
        signals[:, n_src:] = references[start : start + step]
        signals -= signals.mean(axis=-1, keepdims=True)
        gram[start : start + step] = signals @ signals.swapaxes(-1, -2)
    est_energy = np.diagonal(gram[:, :n_src, :n_src], axis1=-2, axis2=-1)
    return gram[:, n_src:, n_src:], gram[:, :n_src, n_src:], est_energy


def _pairwise_si_measures(
    ref_gram: np.ndarray, cross: np.ndarray, est_energy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SI-SDR/SIR/SAR for every (estimate i, reference j) pair from the Gram statistics.

    Parameters
    ----------
    ref_gram : np.ndarray, shape (B, N, N)
    cross : np.ndarray, shape (B, N_est, N)
    est_energy : np.ndarray, shape (B, N_est)

    Returns
    -------
    sdr, sir, sar : np.ndarray, shape (B, N_est, N)
        Scores in dB, indexed ``[b, i, j]``.
    """
    ref_energy = np.diagonal(ref_gram, axis1=-2, axis2=-1)[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        target = cross**2 / ref_energy
    coeffs = np.einsum("bjk,bik->bij", np.linalg.pinv(ref_gram, hermitian=True), cross)
    proj = np.einsum("bij,bij->bi", coeffs, cross)[:, :, None]
    energy = est_energy[:, :, None]
    sdr = _ratio_db(target, energy - target, energy)
    sir = _ratio_db(target, proj - target, energy)
    sar = _ratio_db(target, energy - proj, energy)
    return sdr, sir, sar


def _best_permutation(score: np.ndarray) -> np.ndarray:
    """Assignment maximizing the summed score.

    Parameters
    ----------
    score : np.ndarray, shape (B, N_est, N)
        ``score[b, i, j]`` for estimate ``i`` against reference ``j``.

    Returns
    -------
    np.ndarray, shape (B, N), int64
        ``perm[b, j]`` = estimate matched to reference ``j``.
    """
    n_batch, n_src, _ = score.shape
    if n_src <= _MAX_ENUMERATED_SOURCES:
        perms = np.array(list(itertools.permutations(range(n_src))), dtype=np.int64)
        totals = score[:, perms, np.arange(n_src)].sum(axis=-1)  # (B, n_perms)
        return perms[np.argmax(totals, axis=-1)]
    perm = np.empty((n_batch, n_src), dtype=np.int64)
    for b in range(n_batch):
        est_idx, ref_idx = linear_sum_assignment(score[b], maximize=True)
        perm[b, ref_idx] = est_idx
    return perm


def _gather(
    pairwise: dict[str, np.ndarray], perm: np.ndarray, out_shape: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Pick the matched pairs and restore the batch shape.

    Parameters
    ----------
    pairwise : dict of np.ndarray, each shape (B, N_est, N)
        Scores indexed ``[b, estimate, reference]``.
    perm : np.ndarray, shape (B, N)
        Estimate matched to each reference.
    out_shape : tuple of int
        ``(..., N)``, with ``prod(...) = B``.

    Returns
    -------
    dict[str, np.ndarray]
        Each score, shape ``out_shape`` and ordered by reference, plus ``perm``.
    """
    rows = np.arange(perm.shape[0])[:, None]
    cols = np.arange(perm.shape[1])[None, :]
    out = {key: value[rows, perm, cols].reshape(out_shape) for key, value in pairwise.items()}
    out["perm"] = perm.reshape(out_shape)
    return out


def si_bss_eval(
    estimates: np.ndarray, references: np.ndarray, *, permute: bool = True
) -> dict[str, np.ndarray]:
    """Scale-invariant SDR, SIR and SAR with the best permutation (batched).

    Definitions of Le Roux et al., "SDR -- half-baked or well done?", ICASSP 2019 (see the
    module docstring for the formulas and the Gram-matrix evaluation).  The permutation
    maximizes the mean SI-SDR over sources: all ``N!`` permutations are scored for
    ``N <= 4``, a linear assignment (same optimum) is solved per mixture above.

    Parameters
    ----------
    estimates : np.ndarray, shape (..., n_sources, samples)
        Separated signals, any float dtype.
    references : np.ndarray, shape (..., n_sources, samples)
        Ground-truth sources.
    permute : bool, default True
        Solve the permutation; if False, estimate ``j`` is scored against reference ``j``.

    Returns
    -------
    dict[str, np.ndarray]
        ``si_sdr``, ``si_sir``, ``si_sar``: float64, shape (..., n_sources), in dB, ordered by
        reference and saturating at :data:`MAX_DB`; ``perm``: int64, shape (..., n_sources),
        the estimate matched to each reference.  A silent reference gives NaN scores.
    """
    estimates = np.asarray(estimates)
    references = np.asarray(references)
    _check_sources(estimates, references)
    *batch, n_src, n_samples = estimates.shape
    flat_shape = (-1, n_src, n_samples)
    stats = _gram_stats(estimates.reshape(flat_shape), references.reshape(flat_shape))
    sdr, sir, sar = _pairwise_si_measures(*stats)
    if permute:
        perm = _best_permutation(sdr)
    else:
        perm = np.broadcast_to(np.arange(n_src, dtype=np.int64), sdr.shape[:2]).copy()
    return _gather({"si_sdr": sdr, "si_sir": sir, "si_sar": sar}, perm, (*batch, n_src))


def _coherence_db(coherence: np.ndarray) -> np.ndarray:
    """``10 log10(c / (1 - c))`` for a squared cosine ``c``, clipped to ``[eps, 1 - eps]``."""
    clipped = np.clip(coherence, _EPS, 1.0 - _EPS)
    return 10.0 * np.log10(clipped / (1.0 - clipped))


def bss_eval(
    estimates: np.ndarray,
    references: np.ndarray,
    *,
    filter_length: int = 512,
    permute: bool = True,
) -> dict[str, np.ndarray]:
    """BSS-eval v4 SDR, SIR and SAR (time-invariant distortion filters) via ``fast_bss_eval``.

    Vincent, Gribonval, Févotte, IEEE TASLP 14(4), 2006, with the v4 convention of one
    ``filter_length``-tap filter over the whole signal (``museval`` / ``fast_bss_eval``
    default 512).  Signals are not mean-removed (as in BSS-eval).  The squared cosines
    between each estimate and (a) the filtered subspace of each reference, (b) that of all
    references come from ``fast_bss_eval.numpy.square_cosine_metrics`` (all pairs); the
    measures are ``SDR = 10 log10(c_a / (1 - c_a))``, ``SIR`` the same of ``c_a / c_b`` and
    ``SAR`` of ``c_b``, each saturating at :data:`MAX_DB` (``fast_bss_eval.bss_eval_sources``
    computes the same values but, in version 0.1.4 under NumPy 2, fails without the
    permutation search and returns ``inf`` for perfect estimates).  The permutation is the
    BSS-eval one: it maximizes the summed SIR (not the SI-SDR of :func:`si_bss_eval`).

    Parameters
    ----------
    estimates, references : np.ndarray, shape (..., n_sources, samples)
    filter_length : int, default 512
        Length of the allowed distortion filter.
    permute : bool, default True
        Solve the permutation; if False, estimate ``j`` is scored against reference ``j``.

    Returns
    -------
    dict[str, np.ndarray]
        ``sdr``, ``sir``, ``sar``: float64, shape (..., n_sources), ordered by reference;
        ``perm``: int64, shape (..., n_sources), the estimate matched to each reference.
    """
    estimates = np.asarray(estimates, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    _check_sources(estimates, references)
    *batch, n_src, n_samples = estimates.shape
    est = estimates.reshape(-1, n_src, n_samples)
    ref = references.reshape(-1, n_src, n_samples)
    # Imported here: fast_bss_eval imports torch (~2 s) and is needed by this function only.
    from fast_bss_eval.numpy import square_cosine_metrics

    coh_target = np.empty((est.shape[0], n_src, n_src))  # [b, reference, estimate]
    coh_span = np.empty_like(coh_target)
    for start in range(0, est.shape[0], _BSS_BLOCK):
        block = slice(start, start + _BSS_BLOCK)
        coh_target[block], coh_span[block] = square_cosine_metrics(
            ref[block], est[block], filter_length=filter_length, pairwise=True
        )
    # Indexed [b, estimate, reference] like the SI measures.
    sdr = _coherence_db(coh_target).swapaxes(-1, -2)
    sir = _coherence_db(coh_target / coh_span).swapaxes(-1, -2)
    sar = _coherence_db(coh_span).swapaxes(-1, -2)
    if permute:
        perm = _best_permutation(sir)
    else:
        perm = np.broadcast_to(np.arange(n_src, dtype=np.int64), sdr.shape[:2]).copy()
    return _gather({"sdr": sdr, "sir": sir, "sar": sar}, perm, (*batch, n_src))


def stoi(
    estimates: np.ndarray,
    references: np.ndarray,
    sample_rate: int,
    extended: bool = False,
    *,
    perm: np.ndarray | None = None,
) -> np.ndarray:
    """(Extended) short-time objective intelligibility through ``pystoi``.

    STOI: Taal, Hendriks, Heusdens, Jensen, IEEE TASLP 19(7), 2011; ESTOI: Jensen & Taal,
    IEEE TASLP 24(11), 2016.  ``pystoi`` resamples to 10 kHz internally and removes silent
    frames; it runs one signal pair at a time (a few ms per 4-s signal).

    Parameters
    ----------
    estimates, references : np.ndarray, shape (..., n_sources, samples)
    sample_rate : int
        Sampling rate of both, in Hz.
    extended : bool, default False
        Compute ESTOI instead of STOI.
    perm : np.ndarray of int, shape (..., n_sources), optional
        Estimate matched to each reference (``references[..., j, :]`` is scored against
        ``estimates[..., perm[..., j], :]``), e.g. the ``perm`` returned by
        :func:`si_bss_eval`.  If None, that SI-SDR-optimal permutation is computed here; pass
        ``np.arange(n_sources)`` to score the sources in the given order.

    Returns
    -------
    np.ndarray, shape (..., n_sources)
        STOI (or ESTOI) per reference, float64.
    """
    # Imported here: pystoi imports scipy.signal (~1.5 s) and is needed by this function only.
    import pystoi

    estimates = np.asarray(estimates, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    _check_sources(estimates, references)
    if perm is None:
        perm = si_bss_eval(estimates, references)["perm"]
    *batch, n_src, n_samples = estimates.shape
    perm = np.broadcast_to(np.asarray(perm, dtype=np.int64), (*batch, n_src))
    matched = np.take_along_axis(estimates, perm[..., None], axis=-2)
    est = matched.reshape(-1, n_samples)
    ref = references.reshape(-1, n_samples)
    scores = np.array(
        [pystoi.stoi(r, e, sample_rate, extended=extended) for r, e in zip(ref, est, strict=True)]
    )
    return scores.reshape(*batch, n_src)


# evaluate_mixture's boolean ``stoi`` flag shadows the function inside its body.
_stoi = stoi


def evaluate_mixture(
    estimates: np.ndarray,
    references: np.ndarray,
    mixture: np.ndarray,
    sample_rate: int,
    *,
    stoi: bool = False,
    bss: bool = False,
    mixture_baselines: bool = True,
) -> dict[str, np.ndarray]:
    """All per-source metrics of a separation and of the unprocessed mixture.

    The baseline scores the mixture as the estimate of every source (no permutation), and
    each improvement is ``metric(estimates) - metric(mixture)``.  Note that when the mixture
    is exactly the sum of the references it has no artifacts, so its SI-SAR saturates at
    :data:`MAX_DB` and ``si_sari`` is then about ``si_sar - 156.5`` (likewise ``sari``); it is
    meaningful only when the mixture holds energy outside the references' span (noise).

    Parameters
    ----------
    estimates, references : np.ndarray, shape (..., n_sources, samples)
    mixture : np.ndarray, shape (..., samples)
        The input the estimates were separated from.
    sample_rate : int
        In Hz (used by STOI only).
    stoi : bool, default False
        Add ``stoi`` and ``stoi_mix`` (with the SI-SDR permutation).
    bss : bool, default False
        Add BSS-eval v4 ``sdr``, ``sir``, ``sar``, ``bss_perm`` (its own SIR-optimal
        permutation), ``sdr_mix``, ``sir_mix``, ``sar_mix``, ``sdri``, ``siri``, ``sari``.
    mixture_baselines : bool, default True
        Score the mixture with BSS-eval / STOI too (the ``*_mix`` and improvement keys of the
        two options above).  They cost as much as the estimates' scores (BSS-eval: 0.2 s per
        3-source 16-kHz mixture); the SI baselines are always computed (microseconds).

    Returns
    -------
    dict[str, np.ndarray]
        Always ``si_sdr``, ``si_sir``, ``si_sar``, ``perm``, ``si_sdr_mix``, ``si_sir_mix``,
        ``si_sar_mix``, ``si_sdri``, ``si_siri``, ``si_sari``; plus the optional keys above.
        Every array has shape (..., n_sources) and is ordered by reference.
    """
    estimates = np.asarray(estimates)
    references = np.asarray(references)
    _check_sources(estimates, references)
    mix = np.broadcast_to(np.asarray(mixture)[..., None, :], references.shape)
    out = si_bss_eval(estimates, references)
    base = si_bss_eval(mix, references, permute=False)
    for name in ("si_sdr", "si_sir", "si_sar"):
        out[f"{name}_mix"] = base[name]
        out[f"{name}i"] = out[name] - base[name]
    if bss:
        sep = bss_eval(estimates, references)
        out["bss_perm"] = sep["perm"]
        for name in ("sdr", "sir", "sar"):
            out[name] = sep[name]
        if mixture_baselines:
            base_bss = bss_eval(mix, references, permute=False)
            for name in ("sdr", "sir", "sar"):
                out[f"{name}_mix"] = base_bss[name]
                out[f"{name}i"] = sep[name] - base_bss[name]
    if stoi:
        out["stoi"] = _stoi(estimates, references, sample_rate, perm=out["perm"])
        if mixture_baselines:
            out["stoi_mix"] = _stoi(mix, references, sample_rate, perm=base["perm"])
    return out


def partition_quality(
    labels_true: np.ndarray,
    labels_est: np.ndarray,
    weights: np.ndarray | None = None,
    n_sources: int | None = None,
) -> float:
    """Agreement ``1 - d`` between two (weighted) partitions of the T-F bins, in [0, 1].

    The "Quality" column of Table 1 of Seetharaman et al. (ICASSP 2019): ``1 - d_χ²`` with the
    label matrices weighted by ``√w`` at each T-F point, where ``d_χ²`` is the distance between
    partitions of Bach & Jordan, "Learning spectral clustering, with application to speech
    separation", JMLR 7 (2006), Sec. 5.  With indicator matrices ``E`` (bins x R) and ``F``
    (bins x S) whose rows are scaled by ``√w``, and the weighted contingency table
    ``n_rs = Σ_{i in r ∩ s} w_i`` (``n_r``, ``n_s`` its margins)::

        d²(E, F) = ½ ||E(EᵀE)⁻¹Eᵀ - F(FᵀF)⁻¹Fᵀ||²_F
                 = (R + S) / 2 - ||(EᵀE)^-½ EᵀF (FᵀF)^-½||²_F
                 = (R + S) / 2 - Σ_rs n_rs² / (n_r n_s)

    (``= R - ||...||²_F`` when ``R = S``).  ``Σ_rs n_rs² / (n_r n_s) = 1 + φ²`` with ``φ²`` the
    mean-square contingency (χ² statistic / total weight), which lies between 0 (independent
    partitions) and ``min(R, S) - 1``.  Hence ``d² <= (R + S)/2 - 1``, with equality exactly for
    independent partitions, and this function returns::

        quality = 1 - d² / ((R + S)/2 - 1) = φ² / ((R + S)/2 - 1)

    which is 1 for identical partitions (up to relabelling) and 0 for independent ones; for
    ``R = S`` it is ``1 - d² / (R - 1)``.  ``R`` and ``S`` count the clusters that hold positive
    weight: empty clusters are dropped, so an estimate that puts all weight in one cluster
    (mode collapse) scores 0.  If both partitions have a single cluster they are identical and
    the quality is 1.

    Parameters
    ----------
    labels_true, labels_est : np.ndarray of int, shape (frames, freqs) or (bins,)
        Cluster index of each T-F bin (any non-negative integers; values are only names).
    weights : np.ndarray, same shape, optional
        Non-negative weight ``w_i`` of each bin (the paper: magnitude x confidence); uniform if
        None.  The result is invariant to a global scale of ``w``.
    n_sources : int, optional
        If given, every label must lie in ``[0, n_sources)`` (checked).

    Returns
    -------
    float
        The quality in [0, 1].
    """
    true = np.asarray(labels_true).ravel()
    est = np.asarray(labels_est).ravel()
    if true.shape != est.shape:
        raise ValueError(f"label shapes differ: {np.shape(labels_true)} vs {np.shape(labels_est)}")
    for labels in (true, est):
        if not np.issubdtype(labels.dtype, np.integer) or (labels.size and labels.min() < 0):
            raise ValueError("labels must be non-negative integers")
        if n_sources is not None and labels.size and labels.max() >= n_sources:
            raise ValueError(f"labels must lie in [0, {n_sources})")
    w = np.ones(true.shape) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != true.shape:
        raise ValueError(f"weights shape {np.shape(weights)} does not match the labels")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    total = w.sum()
    if total <= 0:
        raise ValueError("the total weight is zero")
    _, true_idx = np.unique(true, return_inverse=True)
    _, est_idx = np.unique(est, return_inverse=True)
    n_true, n_est = true_idx.max() + 1, est_idx.max() + 1
    joint = np.bincount(true_idx * n_est + est_idx, weights=w / total, minlength=n_true * n_est)
    joint = joint.reshape(n_true, n_est)
    joint = joint[joint.sum(axis=1) > 0][:, joint.sum(axis=0) > 0]  # drop empty clusters
    p_true, p_est = joint.sum(axis=1), joint.sum(axis=0)
    n_r, n_s = joint.shape
    if n_r == 1 and n_s == 1:
        return 1.0
    contingency = np.sum(joint**2 / np.outer(p_true, p_est))
    quality = (contingency - 1.0) / ((n_r + n_s) / 2.0 - 1.0)
    return float(np.clip(quality, 0.0, 1.0))


def label_accuracy(
    labels_true: np.ndarray,
    labels_est: np.ndarray,
    weights: np.ndarray | None = None,
    n_sources: int = 2,
) -> float:
    """Weighted fraction of T-F bins whose estimated label is right, under the best relabelling.

    Parameters
    ----------
    labels_true, labels_est : np.ndarray of int, shape (frames, freqs)
        Labels in ``[0, n_sources)``.
    weights : np.ndarray, shape (frames, freqs), optional
        Bin weights (e.g. the mixture magnitude, "magnitude-weighted accuracy"); uniform if
        None.
    n_sources : int

    Returns
    -------
    float
        ``max_perm Σ_i w_i [perm(est_i) = true_i] / Σ_i w_i`` in [0, 1] (0 for zero weight).
    """
    true = np.asarray(labels_true).ravel().astype(np.int64)
    est = np.asarray(labels_est).ravel().astype(np.int64)
    w = np.ones(true.shape) if weights is None else np.asarray(weights, np.float64).ravel()
    total = w.sum()
    if total <= 0:
        return 0.0
    joint = np.bincount(true * n_sources + est, weights=w, minlength=n_sources**2)
    joint = joint.reshape(n_sources, n_sources)
    best = max(joint[np.arange(n_sources), list(p)].sum()
               for p in itertools.permutations(range(n_sources)))
    return float(best / total)
