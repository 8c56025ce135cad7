"""BSS-eval v4 (via ``fast_bss_eval``), STOI (via ``pystoi``) and the per-mixture summary.

Same conventions as :mod:`bootsep_lib.eval.si_bss`: signals ``(..., n_sources, samples)``,
per-source outputs ``(..., n_sources)`` ordered by reference, float64 throughout, and the same
edge cases (an empty, non-finite or silent-reference input raises ``ValueError``; a silent
estimate scores ``-MAX_DB``, STOI 0).  STOI also needs :data:`STOI_MIN_SECONDS` of signal.
"""

from __future__ import annotations

import math

import numpy as np

from .si_bss import (
    _EPS,
    _check_sources,
    _check_values,
    _gather,
    _matching,
    _silent_scores,
    si_bss_eval,
)

__all__ = ["STOI_MIN_SECONDS", "bss_eval", "stoi", "evaluate_mixture"]

STOI_MIN_SECONDS = 0.41
"""Shortest signal :func:`stoi` accepts.  pystoi needs 30 frames of 25.6 ms (hop 12.8 ms) at
10 kHz; measured on white noise at 8, 10, 16, 22.05, 44.1 and 48 kHz, it returns a score from
0.4096 s on (shorter: a placeholder 1e-5 with a warning, or numpy's ``AxisError`` below about
0.025 s).  A signal this long whose reference is mostly silent still gets pystoi's 1e-5."""

# Mixtures per fast_bss_eval call: its pairwise solve builds one (N*L)² system per mixture
# (8 MB for N = 2, L = 512), so the batch is processed a few mixtures at a time.
_BSS_BLOCK = 8


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
        ``perm``: int64, shape (..., n_sources), the estimate matched to each reference.  A
        silent estimate scores ``-MAX_DB``; a silent reference, an empty or non-finite input
        raises ``ValueError`` (``fast_bss_eval`` would raise ``LinAlgError`` or return NaN).
    """
    estimates = np.asarray(estimates, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    _check_sources(estimates, references)
    silent = _check_values(estimates, references)
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
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 of a silent estimate only
        sdr = _coherence_db(coh_target).swapaxes(-1, -2)
        sir = _coherence_db(coh_target / coh_span).swapaxes(-1, -2)
        sar = _coherence_db(coh_span).swapaxes(-1, -2)
    silent = silent.reshape(-1, n_src)
    sdr, sir, sar = (_silent_scores(m, silent) for m in (sdr, sir, sar))
    perm = _matching(sir, permute)
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
        STOI (or ESTOI) per reference, float64; 0 for a silent estimate.  A signal shorter
        than :data:`STOI_MIN_SECONDS`, a silent reference, an empty or non-finite input raises
        ``ValueError``.
    """
    # Imported here: pystoi imports scipy.signal (~1.5 s) and is needed by this function only.
    import pystoi

    estimates = np.asarray(estimates, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    _check_sources(estimates, references)
    _check_values(estimates, references)
    min_samples = math.ceil(STOI_MIN_SECONDS * sample_rate)
    if estimates.shape[-1] < min_samples:
        raise ValueError(
            f"STOI needs at least {min_samples} samples ({STOI_MIN_SECONDS} s at "
            f"{sample_rate} Hz), got {estimates.shape[-1]}"
        )
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
        Every array has shape (..., n_sources) and is ordered by reference.  Edge cases as in
        the three families; a non-finite or empty mixture raises ``ValueError`` too.
    """
    estimates = np.asarray(estimates)
    references = np.asarray(references)
    _check_sources(estimates, references)
    _check_values(np.asarray(mixture), references[..., :1, :], ("mixture", "references"))
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

