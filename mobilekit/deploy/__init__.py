"""Keras model -> quantized, verified .tflite -> self-describing bundle (workstation side)."""
