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
    Output: the same float32 features as vectorize's ColumnTransformer, in its column order."""

    def __init__(self, medians, scale, offset, indicators, categories, other_values=None, **kwargs):
        super().__init__(**kwargs)
        self.medians, self.scale, self.offset = list(medians), list(scale), list(offset)
        self.indicators, self.categories = list(indicators), [list(c) for c in categories]
        self.other_values = [bool(v) for v in (other_values or [False] * len(self.categories))]
        # OneHotEncoder(handle_unknown="infrequent_if_exist"): an unseen value is all zeros, or, in a column
        # capped at vectorize.max_categories, goes to the last column with the rarer values. StringLookup puts
        # it in the out-of-vocabulary column 0, which call() drops or moves last.
        self.lookups = [keras.layers.StringLookup(vocabulary=c, output_mode="one_hot", num_oov_indices=1)
                        for c in self.categories]

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
        for lookup, other, column in zip(self.lookups, self.other_values, columns[len(self.medians):]):
            column = tf.where(tf.equal(column, ""), MISSING_CATEGORY, column)
            one_hot = tf.cast(lookup(column), tf.float32)
            parts.append(tf.concat([one_hot[:, 1:], one_hot[:, :1]], axis=1) if other else one_hot[:, 1:])
        return tf.concat(parts, axis=1)

    def compute_output_shape(self, input_shape):
        width = (len(self.medians) + len(self.indicators) + sum(len(c) for c in self.categories)
                 + sum(self.other_values))
        return (None, width)

    def get_config(self):
        return {**super().get_config(), "medians": self.medians, "scale": self.scale, "offset": self.offset,
                "indicators": self.indicators, "categories": self.categories, "other_values": self.other_values}
