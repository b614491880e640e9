# %% [markdown]
# # How robust is the answer?
#
# :::{admonition} In short
# :class: tip
# {glue:text}`summary_text`
# :::
#
# A null result may be informative or merely underpowered, and an observational estimate may be
# explained away by a confounder nobody measured. For the exposure effect on each outcome this
# chapter gives the power the design had, the E-value of each estimate, and, when the study
# matches, the matched-set bootstrap and the same effect estimated by weighting instead of
# matching. The specification sweep, when the study file names its saved results, shows how the
# effect moves with the design choices.

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import pipeline as mm

S = mm.study_parameters(study)
mm.configure_inline()
mm.show_notice(S)

# %% tags=["hide-input"]
result = mm.robustness_chapter(S, output_dir)

# %% tags=["remove-input"]
mm.publish(result)

# %% tags=["nbval-check-output", "remove-cell"]
mm.headline(result.headline)

# %% [markdown]
# ## Power: was a null informative?
#
# The smallest hazard ratio (or subdistribution hazard ratio) the analysed set could detect with
# a two-sided test, from its events and the sizes of the two groups (Schoenfeld 1983), and its
# power for the paper's own estimate (Schoenfeld, and Freedman 1982 beside it, as lifelines'
# `power_under_cph` computes it). {glue:text}`power_text`

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.power_table)

# %% tags=["nbval-ignore-output", "remove-cell"]
mm.glue_figure("power_figure", mm.power_figure(result))

# %% [markdown]
# ```{glue:figure} power_figure
# :alt: Power curves of the test of the exposure against the true hazard ratio, one per outcome
# :width: 100%
#
# {glue:text}`power_caption`
# ```

# %% [markdown]
# ## E-values: how strong would an unmeasured confounder have to be?
#
# The E-value (VanderWeele & Ding 2017) is the smallest risk ratio that an unmeasured confounder
# would need with both the exposure and the outcome, beyond the measured covariates, to explain
# the estimate away; the second one, to move its confidence interval to include 1. A hazard ratio
# is read as a risk ratio when the outcome is rare (under {glue:text}`rare_below` of the patients
# by the end of follow-up), else converted as R's `EValue::evalues.HR` does. A subdistribution
# hazard ratio has no agreed conversion: no E-value is given for it.
# {glue:text}`evalue_text`

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.evalue_table)

# %% [markdown]
# ## Matched-set bootstrap and weighting
#
# When the study matches: the multivariable estimate with its model-based interval, with the
# matched sets as clusters, and by a bootstrap that draws whole matched sets with replacement
# ({glue:text}`bootstrap_b` replicates, percentile intervals; Austin & Small 2014); then the
# exposure effect by weighting the whole cohort with the same propensity model, with ATT weights
# (the paper's estimand) and overlap weights, and the balance those weights reach (SMD as cobalt
# defines it).

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.bootstrap_table)

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.weighting_table)

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.balance_table)

# %% [markdown]
# ## Specification sweep
#
# {glue:text}`sweep_text`

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.sweep_table)

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show_figure(mm.sweep_figure(result), "sweep_figure", result.glue["sweep_caption"],
               alt="Specification curve of the exposure's estimate across the sweep's cells")
