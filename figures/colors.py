"""Colour-blind-safe colours (Okabe-Ito palette), shared by the report figures and the app.

Pixel error maps: TP, FP and FN keep their meaning everywhere (report `dices/`, inspection overlay, comparison).
"""

TP = (0, 114, 178)      # blue: crack predicted where GT has crack
FP = (230, 159, 0)      # orange: crack predicted on background
FN = (204, 121, 167)    # reddish purple: GT crack that was missed
GT_CONTOUR = (0, 158, 115)   # bluish green
PRED = (86, 180, 233)        # sky blue
CURVE_A = (0, 114, 178)
CURVE_B = (213, 94, 0)       # vermillion
WIN = (0, 158, 115)
LOSS = (213, 94, 0)

ERROR_LEGEND = (("TP", TP), ("FP", FP), ("FN", FN))
