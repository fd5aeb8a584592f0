"""mobilekit: standard vs depthwise-separable mobile vision models, from Keras to a measured device.

This file imports nothing heavy: ``mobilekit.runtime`` must stay importable on a device that has
only numpy and ai-edge-litert.
"""

__version__ = "0.1.0"
