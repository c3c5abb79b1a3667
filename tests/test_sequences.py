import numpy as np

from stages.lib.sequences import Sequences, keras_imdb_encoding

LISTS = [[5, 1, 5, 9], [2], [7, 7, 3]]


def test_round_trip_and_indexing():
    seqs = Sequences.from_lists(LISTS)
    assert len(seqs) == 3 and seqs.lengths.tolist() == [4, 1, 3]
    picked = seqs[[2, 0]]
    assert picked.tokens.tolist() == [7, 7, 3, 5, 1, 5, 9] and picked.offsets.tolist() == [0, 3, 7]


def test_hashes_follow_content():
    seqs = Sequences.from_lists([[1, 2], [1, 2], [2, 1]])
    hashes = seqs.hashes()
    assert hashes[0] == hashes[1] != hashes[2]


def test_multi_hot_marks_presence_once():
    matrix = Sequences.from_lists(LISTS).multi_hot(10).toarray()
    assert matrix.dtype == np.float32 and matrix.shape == (3, 10)
    assert matrix[0].nonzero()[0].tolist() == [1, 5, 9] and matrix[0].max() == 1.0
    assert matrix[2].nonzero()[0].tolist() == [3, 7]


def test_multi_hot_leaves_the_sequences_untouched():
    seqs = Sequences.from_lists(LISTS)
    seqs.multi_hot(10)
    assert seqs.tokens.tolist() == [5, 1, 5, 9, 2, 7, 7, 3] and seqs.offsets.tolist() == [0, 4, 5, 8]


def keras_reference(lists, num_words, start_char=1, oov_char=2, index_from=3, skip_top=0):
    """keras.datasets.imdb.load_data's list comprehension, verbatim in logic."""
    xs = [[start_char] + [w + index_from for w in x] for x in lists]
    return [[w if (skip_top <= w < num_words) else oov_char for w in x] for x in xs]


def test_encoding_matches_keras_semantics():
    rng = np.random.default_rng(0)
    lists = [rng.integers(1, 40, size=rng.integers(1, 12)).tolist() for _ in range(50)]
    for num_words, skip_top in ((20, 0), (30, 5), (1000, 0)):
        encoded = keras_imdb_encoding(Sequences.from_lists(lists), num_words, skip_top=skip_top)
        expected = keras_reference(lists, num_words, skip_top=skip_top)
        assert [encoded[[i]].tokens.tolist() for i in range(len(lists))] == expected
