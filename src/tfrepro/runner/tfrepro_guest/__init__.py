"""The guest side of tfrepro: Python 3.7+, standard library, numpy and TensorFlow only."""
