"""micromet: do microscopic metastatic deposits change the prognosis of breast cancer?

A literate-analysis package: SEER*Stat ingestion, cohort construction, MatchIt-exact propensity
matching, Cox and Fine-Gray models that agree with R, and a Jupyter Book of parameterized notebooks.
"""

from micromet.errors import InputError, MicrometError, NotEstimableWarning

__version__ = "0.1.0"
__all__ = ["InputError", "MicrometError", "NotEstimableWarning", "__version__"]
