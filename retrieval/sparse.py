"""BM25 Okapi over a scipy sparse inverted index.

Scores are those of ``rank_bm25.BM25Okapi`` (the reference; tests compare both on
a real corpus to 1e-6), computed the same way:

    idf(t)   = ln(N - df + 0.5) - ln(df + 0.5); a negative idf is replaced by
               epsilon * mean(idf over the vocabulary)   (rank_bm25's floor)
    w(t, d)  = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))
    score(d) = sum over query tokens (repeats included) of w(t, d)

The term weights are precomputed per posting (float64, like rank_bm25), so a
query is a gather of its terms' posting rows plus one ``bincount``: the cost grows
with the postings of the query terms, not with the number of documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25

    def as_dict(self) -> dict[str, float]:
        return {"k1": self.k1, "b": self.b, "epsilon": self.epsilon}


class BM25Index:
    """Immutable after construction; safe to query from many threads."""

    def __init__(
        self,
        vocab: Sequence[str],
        term_doc_tf: sp.csr_matrix,
        doc_len: np.ndarray,
        params: BM25Params | None = None,
    ) -> None:
        self.params = params or BM25Params()
        self.vocab: list[str] = list(vocab)
        self.term_ids = {term: i for i, term in enumerate(self.vocab)}
        # rows = terms, columns = documents; raw term frequencies (kept for saving).
        self.tf = term_doc_tf.tocsr()
        self.doc_len = np.asarray(doc_len, dtype=np.int64)
        self.n_docs = int(self.doc_len.shape[0])
        if self.tf.shape != (len(self.vocab), self.n_docs):
            raise ValueError(
                f"term-document matrix has shape {self.tf.shape}, expected "
                f"({len(self.vocab)}, {self.n_docs})"
            )
        self.idf = self._idf()
        self.weights = self._weights()

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_tokens(
        cls, corpus: Sequence[Sequence[str]], params: BM25Params | None = None
    ) -> BM25Index:
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        doc_len = np.zeros(len(corpus), dtype=np.int64)
        for doc_id, tokens in enumerate(corpus):
            doc_len[doc_id] = len(tokens)
            for term, count in Counter(tokens).items():
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(doc_id)
                counts.append(count)
        matrix = sp.csr_matrix(
            (np.asarray(counts, dtype=np.int32), (np.asarray(rows), np.asarray(cols))),
            shape=(len(vocab), len(corpus)),
        )
        matrix.sum_duplicates()
        return cls(list(vocab), matrix, doc_len, params)

    def _idf(self) -> np.ndarray:
        df = np.diff(self.tf.indptr).astype(np.float64)
        idf = np.log(self.n_docs - df + 0.5) - np.log(df + 0.5)
        if idf.size:
            floor = self.params.epsilon * float(idf.mean())
            idf = np.where(idf < 0, floor, idf)
        return idf

    def _weights(self) -> sp.csr_matrix:
        tf = self.tf.data.astype(np.float64)
        avgdl = float(self.doc_len.mean()) if self.n_docs else 0.0
        k1, b = self.params.k1, self.params.b
        if avgdl > 0:
            norm = k1 * (1.0 - b + b * self.doc_len[self.tf.indices] / avgdl)
        else:
            norm = np.full(tf.shape, k1)
        term_of_posting = np.repeat(np.arange(len(self.vocab)), np.diff(self.tf.indptr))
        data = self.idf[term_of_posting] * tf * (k1 + 1.0) / (tf + norm)
        return sp.csr_matrix((data, self.tf.indices, self.tf.indptr), shape=self.tf.shape)

    # -- query --------------------------------------------------------------------------

    def query_terms(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Known term ids of a tokenized query and how often each occurs in it."""
        counted = Counter(t for t in tokens if t in self.term_ids)
        ids = np.fromiter((self.term_ids[t] for t in counted), dtype=np.int64, count=len(counted))
        reps = np.fromiter(counted.values(), dtype=np.float64, count=len(counted))
        return ids, reps

    def scores(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(score of every document, boolean mask of documents sharing a term with the query)."""
        ids, reps = self.query_terms(tokens)
        scores = np.zeros(self.n_docs, dtype=np.float64)
        matched = np.zeros(self.n_docs, dtype=bool)
        if ids.size == 0:
            return scores, matched
        starts, ends = self.weights.indptr[ids], self.weights.indptr[ids + 1]
        lengths = ends - starts
        postings = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])
        docs = self.weights.indices[postings]
        scores += np.bincount(
            docs,
            weights=self.weights.data[postings] * np.repeat(reps, lengths),
            minlength=self.n_docs,
        )
        matched[docs] = True
        return scores, matched

    def top(
        self, tokens: Sequence[str], depth: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Best ``depth`` matching documents (ids, scores, full score vector), best first.

        Only documents that share a term with the query are candidates, and, when
        ``allowed`` is given, only those it marks True: a masked document is never
        returned, whatever its score.
        """
        scores, matched = self.scores(tokens)
        if allowed is not None:
            matched &= allowed
        candidates = np.flatnonzero(matched)
        if candidates.size == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, np.empty(0, dtype=np.float64), scores
        ids = top_k(candidates, scores[candidates], depth)
        return ids, scores[ids], scores


def top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` ids with the highest scores, best first; ties broken by lower id."""
    if ids.size > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        # argpartition may cut a tie arbitrarily; pull in every id tied with the k-th.
        kth = scores[keep].min()
        keep = np.flatnonzero(scores >= kth)
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))[:k]
    return ids[order]
