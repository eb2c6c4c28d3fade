"""Rendering: progress, terminal tables. Renders what it is given; computes no statistics."""
