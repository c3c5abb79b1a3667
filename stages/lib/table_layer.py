"""The table preprocessing of vectorize (median imputation, missing indicators, scaling, one-hot)
as one Keras layer, so an exported table model takes raw columns.

It uses TensorFlow ops directly (string handling has no keras.ops counterpart); the project
runs Keras on the TensorFlow backend. Loading the exported model.keras needs this module
imported; the SavedModel does not.
"""
import keras

from stages.lib.features import MISSING_CATEGORY


@keras.saving.register_keras_serializable(package="uwf")
class TablePreprocessing(keras.layers.Layer):
    """Inputs: one tensor per column, numeric columns first (NaN = missing), then categorical (strings).
    Output: the same float32 features as vectorize's ColumnTransformer, in its column order: the `indexed`
    categorical columns last, each as its value's index (stages/lib/indexing.py)."""

    def __init__(self, medians, scale, offset, indicators, categories, other_values=None, indexed=None, **kwargs):
        super().__init__(**kwargs)
        self.medians, self.scale, self.offset = list(medians), list(scale), list(offset)
        self.indicators, self.categories = list(indicators), [list(c) for c in categories]
        self.other_values = [bool(v) for v in (other_values or [False] * len(self.categories))]
        self.indexed = [bool(v) for v in (indexed or [False] * len(self.categories))]
        # OneHotEncoder(handle_unknown="infrequent_if_exist"): an unseen value is all zeros, or, in a column
        # capped at vectorize.max_categories, goes to the last column with the rarer values. StringLookup puts
        # it in the out-of-vocabulary column 0, which call() drops or moves last.
        # An indexed column's value: its vocabulary position, an unseen value the one past them (the "other" index
        # of a capped column, the zero embedding of an uncapped one).
        self.lookups = [keras.layers.StringLookup(vocabulary=c, output_mode="int" if indexed else "one_hot",
                                                  num_oov_indices=1)
                        for c, indexed in zip(self.categories, self.indexed)]

    def build(self, input_shape):
        self.built = True

    def call(self, columns):
        import tensorflow as tf

        parts = []
        if self.medians:
            numeric = tf.stack([tf.cast(c, tf.float32) for c in columns[:len(self.medians)]], axis=1)
            missing = tf.math.is_nan(numeric)
            imputed = tf.where(missing, tf.constant(self.medians, tf.float32), numeric)
            parts.append(imputed * tf.constant(self.scale, tf.float32) + tf.constant(self.offset, tf.float32))
            if self.indicators:
                parts.append(tf.cast(tf.gather(missing, self.indicators, axis=1), tf.float32))
        indices = []
        for lookup, other, indexed, vocabulary, column in zip(self.lookups, self.other_values, self.indexed,
                                                              self.categories, columns[len(self.medians):]):
            column = tf.where(tf.equal(column, ""), MISSING_CATEGORY, column)
            if indexed:
                position = tf.cast(lookup(column), tf.float32)
                indices.append(tf.where(position == 0, float(len(vocabulary)), position - 1)[:, None])
                continue
            one_hot = tf.cast(lookup(column), tf.float32)
            parts.append(tf.concat([one_hot[:, 1:], one_hot[:, :1]], axis=1) if other else one_hot[:, 1:])
        return tf.concat(parts + indices, axis=1)

    def compute_output_shape(self, input_shape):
        one_hot = [(len(c), o) for c, o, i in zip(self.categories, self.other_values, self.indexed) if not i]
        width = (len(self.medians) + len(self.indicators) + sum(n + o for n, o in one_hot)
                 + sum(self.indexed))
        return (None, width)

    def get_config(self):
        return {**super().get_config(), "medians": self.medians, "scale": self.scale, "offset": self.offset,
                "indicators": self.indicators, "categories": self.categories, "other_values": self.other_values,
                "indexed": self.indexed}


@keras.saving.register_keras_serializable(package="uwf")
class IndexedDense(keras.layers.Layer):
    """A Dense layer over features where the columns at `positions` hold category indices (stages/lib/indexing.py):
    the other columns go through a kernel, each index picks a row of its column's embedding (`sizes` rows, the
    last held at zero where `masked`: an uncapped column's unseen values), and their sum plus the bias goes
    through the activation. The same function as Dense over those columns one-hot encoded, with the same
    initial value range (Glorot over the one-hot width) and the regularizer applied to every weight a Dense
    kernel would hold."""

    def __init__(self, units, positions, sizes, masked, activation=None, kernel_regularizer=None,
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.units, self.positions, self.sizes = int(units), [int(p) for p in positions], [int(s) for s in sizes]
        self.masked = [bool(m) for m in masked]
        self.activation = keras.activations.get(activation)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        width = input_shape[-1]
        indexed = set(self.positions)
        self.dense_positions = [k for k in range(width) if k not in indexed]
        one_hot_width = len(self.dense_positions) + sum(s - m for s, m in zip(self.sizes, self.masked))
        limit = (6.0 / (one_hot_width + self.units)) ** 0.5
        initializer = keras.initializers.RandomUniform(-limit, limit)
        self.kernel = self.add_weight(shape=(len(self.dense_positions), self.units), initializer=initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self.embeddings = [self.add_weight(shape=(size, self.units), initializer=initializer,
                                           regularizer=self.kernel_regularizer, name=f"embedding_{k}")
                           for k, size in enumerate(self.sizes)]
        self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer, name="bias")

    def call(self, x):
        import tensorflow as tf

        output = tf.matmul(tf.gather(x, self.dense_positions, axis=1), self.kernel) + self.bias
        for position, embedding, size, masked in zip(self.positions, self.embeddings, self.sizes, self.masked):
            index = tf.cast(x[:, position], tf.int32)
            rows = tf.gather(embedding, index)
            if masked:  # the unseen values' row: zeros, as their all-zero one-hot row gives
                rows = rows * tf.cast(index < size - 1, rows.dtype)[:, None]
            output = output + rows
        return self.activation(output) if self.activation is not None else output

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "positions": self.positions, "sizes": self.sizes,
                "masked": self.masked, "activation": keras.activations.serialize(self.activation),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)
                if self.kernel_regularizer is not None else None,
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
