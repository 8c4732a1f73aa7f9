"""Crack-aware evaluation metrics (issue 13): tolerance precision/recall/F1, ODS/OIS, pixel AP, clDice, Dice/IoU with
empty ground truth handled, calibration and flip test-time-augmentation uncertainty.

Qt-free and torch-free (numpy, OpenCV, scikit-image, scipy). To move under ``trainer/metrics/`` after the restructure.
"""
