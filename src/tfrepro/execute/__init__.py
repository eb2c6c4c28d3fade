"""Executors: schedule work items on workers. They know nothing about TensorFlow."""
