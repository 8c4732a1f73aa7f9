"""Crack datasets on disk: layout detection, bad-input checks, mixed supervision and lazy loading.

Four layouts are read as they are (no conversion step); :func:`open_dataset` detects which one a folder holds.

``manifest`` (the layout of ``../shared/data/cracks`` and of :mod:`trainer.datasets.synthetic`)
    ``manifest.csv`` with the columns ``name,label`` and optionally ``split`` (other columns such as ``width``,
    ``height``, ``source`` are ignored), ``images/<name>.<ext>`` (any image extension: jpg, jpeg, png, bmp, tif,
    tiff, webp) and ``masks/<name>.png`` (other image extensions are accepted too). A name is a bare file stem: a
    name with a path in it (``../x``, ``a/b``, an absolute path) is refused. Without a ``split`` column every sample
    is in one split called ``"all"``, and :meth:`DatasetIndex.split` then returns all samples whatever split name
    is asked (so ``eval --split test`` evaluates the whole dataset).
    Missing mask path: ``masks/<name>.png``.

``khanhha`` (khanhha/crack_segmentation)
    ``{train,test}/images/<stem>.jpg`` and ``{train,test}/masks/<stem>.jpg`` (JPEG masks with compression noise;
    any image extension is accepted). Crack-free images are named ``noncrack_*`` (label 0); every other image is a
    crack (label 1). The layout has no val split: val is carved out of train (``val_fraction`` of each class,
    seeded, stratified by label). Missing mask path: ``<split>/masks/<stem>.png``.

``reference`` (the SegDecNet crack fork)
    ``{train,val,test}_{positive,negative}/<n>.jpg`` with ``<n>_GT.jpg``; the label comes from the folder.
    Sample names are ``<folder>_<n>`` (e.g. ``train_positive_12``) because the numeric stems repeat across
    folders. Missing mask path: ``<folder>/<n>_GT.png``.

``ksdd2`` (KolektorSDD2)
    ``{train,test}/<id>.png`` with ``<id>_GT.png``; label 1 when the mask has any pixel > 127 (so masks are
    decoded once at open time). Val is carved out of train like for khanhha. A KSDD2 image without a mask is a
    bad sample (its label cannot be known).

Label edits. khanhha and reference encode labels in file or folder names, so crackviewer's annotation tool records
a label change for them in ``<root>/.crackviewer/labels.json`` (``{"<name>": 0|1}``); :func:`open_dataset` applies it
(after carving val, so an edit does not move samples between train and val). Manifest labels are edited in
``manifest.csv``; KSDD2 labels are the masks.

In khanhha and ksdd2 layouts names are the file stems; if a stem occurs in both train and test, every name of the
dataset is prefixed with its split folder (``train_<stem>``). Names never contain a path separator, because they
name output files (``probs/<name>.png``).

Checks. :func:`open_dataset` checks structure only (folders, manifest columns and names, duplicates, that each
image file exists) and decodes nothing, except KSDD2 masks for their labels. :func:`validate_records` decodes every
image and mask once (threaded) and finds corrupt or unreadable files and masks whose size differs from their image
(sizes compared after EXIF orientation). The trainer calls it on the records it uses before training starts;
``open_dataset(..., validate=True)`` does the same for the whole index. With ``skip_bad`` a bad sample is dropped and
listed in ``bad`` as ``(file, reason)``; without it the first problem raises :class:`~trainer.errors.DataError`
(the message names the file, the problem, and how many more there are).

Mixed supervision. A positive without a mask file is weakly labelled (classification loss only). Of the positives
that have masks, :class:`CrackDataset` picks ``num_segmented`` (seeded; -1 = all) as segmented; the others are weak
too. Negatives are always segmented with an all-zero mask (their mask file, if any, is not read for training).

Loading. :class:`CrackDataset` keeps only the records; ``__getitem__`` decodes one image (EXIF orientation applied,
BGR converted to RGB: ``CHANNEL_ORDER = "RGB"``), resizes it to the input size with ``INTER_AREA``, reads its mask as
grayscale, dilates it (k x k ones kernel, before resizing, as the reference does), resizes it with ``INTER_AREA`` and
binarises it once (> 127) to {0, 1}, so JPEG noise never reaches the targets. Peak memory does not depend on the
number of images.
"""
from __future__ import annotations
