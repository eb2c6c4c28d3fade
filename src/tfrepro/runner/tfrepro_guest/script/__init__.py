"""Script mode: the user's script, unchanged, with hooks that record what it trains (`run` is
the entry; `recorder` keeps the facts; `hooks` patches Keras and TensorFlow; `seeds` watches
the seed functions; `tf1` watches Session.run; `finish` turns the facts into the result)."""
