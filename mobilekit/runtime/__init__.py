"""The device side: everything here needs only numpy and ai-edge-litert, never TensorFlow.

This sub-package can be copied to a Raspberry Pi or a phone as it is.
"""
