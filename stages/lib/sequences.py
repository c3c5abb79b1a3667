"""Variable-length token sequences (IMDB reviews) as two flat arrays, without Python lists or pickle."""
import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sequences:
    """Example i is tokens[offsets[i]:offsets[i + 1]]."""

    tokens: np.ndarray  # int32, every example's token ids one after another
    offsets: np.ndarray  # int64, len(self) + 1 boundaries

    @classmethod
    def from_lists(cls, lists) -> "Sequences":
        lengths = np.fromiter((len(seq) for seq in lists), dtype=np.int64, count=len(lists))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = np.fromiter((t for seq in lists for t in seq), dtype=np.int32, count=int(offsets[-1]))
        return cls(tokens, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def shape(self) -> tuple:
        return (len(self), None)

    @property
    def dtype(self):
        return self.tokens.dtype

    def __getitem__(self, indices) -> "Sequences":
        indices = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[indices]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        positions = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths) + np.repeat(self.offsets[indices], lengths)
        return Sequences(self.tokens[positions], offsets)

    def hashes(self) -> np.ndarray:
        """One sha256 per example over its token ids: identical reviews, identical hash."""
        data = self.tokens.astype("<i4").tobytes()
        return np.array([hashlib.sha256(data[4 * a:4 * b]).hexdigest()
                         for a, b in zip(self.offsets[:-1], self.offsets[1:])])

    def multi_hot(self, n_features: int):
        """A (examples, n_features) float32 CSR matrix with 1.0 where a token occurs (ch. 4's vectorize_sequences)."""
        from scipy.sparse import csr_matrix

        # Copies: sum_duplicates sorts the indices in place, and these are the sequences' own arrays.
        matrix = csr_matrix((np.ones(len(self.tokens), dtype=np.float32), self.tokens.copy(), self.offsets.copy()),
                            shape=(len(self), n_features))
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix


def keras_imdb_encoding(words: Sequences, num_words: int, start_char: int = 1, oov_char: int = 2,
                        index_from: int = 3, skip_top: int = 0) -> Sequences:
    """Keras' imdb.load_data encoding of raw word ranks: shift by index_from, prefix start_char,
    and replace every id outside [skip_top, num_words) by oov_char."""
    shifted = Sequences(words.tokens.astype(np.int64) + index_from, words.offsets)
    if start_char is not None:
        lengths = shifted.lengths + 1
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = np.empty(offsets[-1], dtype=np.int64)
        tokens[offsets[:-1]] = start_char
        body = np.ones(offsets[-1], dtype=bool)
        body[offsets[:-1]] = False
        tokens[body] = shifted.tokens
        shifted = Sequences(tokens, offsets)
    tokens = np.where((shifted.tokens >= skip_top) & (shifted.tokens < num_words), shifted.tokens, oov_char)
    return Sequences(tokens.astype(np.int32), shifted.offsets)
