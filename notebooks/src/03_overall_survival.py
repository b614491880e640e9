# %% [markdown]
# # Overall survival
#
# Death from any cause in the matched cohort: Kaplan-Meier curves with the numbers at risk and the
# log-rank test (the paper's Figure 3), univariable and multivariable Cox models (its Table 3),
# follow-up and a check of proportional hazards.

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import pipeline as mm

S = mm.study_parameters(study)
mm.show_notice(S)

# %%
os_result = mm.os_chapter(S, output_dir)
mm.publish(os_result)

# %% tags=["nbval-check-output"]
mm.headline(os_result.headline)

# %% [markdown]
# ## Kaplan-Meier curves
#
# {glue:text}`deaths` deaths among {glue:text}`n` patients; median follow-up (reverse Kaplan-Meier)
# {glue:text}`followup_median` months (IQR {glue:text}`followup_iqr`), longest
# {glue:text}`followup_max`. Log-rank test: p = {glue:text}`logrank_p`.

# %% tags=["nbval-ignore-output"]
mm.km_figure(os_result);

# %% [markdown]
# Median survival with its 95% confidence interval (R's `print(survfit)`; "not reached" while the
# curve stays above one half), by group:

# %% tags=["nbval-ignore-output"]
os_result.median_table

# %% [markdown]
# Survival at fixed times, by group:

# %% tags=["nbval-ignore-output"]
os_result.survival_table

# %% [markdown]
# ## Table 3: Cox regression
#
# Every candidate covariate alone (univariable), {glue:text}`selection_text`. Efron ties, as R's
# `coxph`.
# Group, multivariable: HR {glue:text}`hr_multi`.

# %% tags=["nbval-ignore-output"]
os_result.cox_table

# %% [markdown]
# Each hazard ratio, its confidence limits and p beside the paper's, with the difference.

# %% tags=["nbval-ignore-output"]
os_result.cox_vs_published

# %% [markdown]
# ## Proportional hazards
#
# Scaled Schoenfeld residuals against time (R's `cox.zph`, identity transform) for the
# multivariable model:

# %% tags=["nbval-ignore-output"]
os_result.ph_table
