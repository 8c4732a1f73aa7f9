"""trainer: the SegDecNet training engine of crackviewer. It never imports Qt; only trainer.training imports torch."""
__version__ = "0.1.0"
