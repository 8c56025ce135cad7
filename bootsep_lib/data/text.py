"""Random sentences for the synthetic speakers: words drawn from the ``english-words`` lists."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["word_list", "random_sentence"]


@lru_cache(maxsize=1)
def word_list() -> tuple[str, ...]:
    """Sorted lower-case alphabetic words of 2-10 letters found in both ``english-words`` lists.

    The package offers Webster's 2nd (``web2``, 235k words, many obscure) and GCIDE (114k);
    their intersection (64k words of 2-10 letters) drops most rarities.  Sorted, so that draws
    do not depend on Python's string hashing.
    """
    from english_words import get_english_words_set

    both = get_english_words_set(["web2"], alpha=True, lower=True) & get_english_words_set(
        ["gcide"], alpha=True, lower=True
    )
    return tuple(sorted(w for w in both if 2 <= len(w) <= 10 and w.isascii() and w.isalpha()))


def random_sentence(rng: np.random.Generator, n_words: tuple[int, int] = (6, 12)) -> str:
    """A random sequence of ``n_words[0]..n_words[1]`` (inclusive) words from :func:`word_list`.

    Deterministic in the state of ``rng``.
    """
    lo, hi = n_words
    if not 1 <= lo <= hi:
        raise ValueError(f"n_words must satisfy 1 <= low <= high, got {n_words}")
    words = word_list()
    idx = rng.integers(0, len(words), size=int(rng.integers(lo, hi + 1)))
    return " ".join(words[i] for i in idx)
