"""trainer: the SegDecNet training engine of crackviewer. It never imports Qt."""
__version__ = "0.1.0"
