# micromet: needs=["01_cohort", "02_matching"]
# %% [markdown]
# # Time to event: Kaplan-Meier and Cox models
#
# :::{admonition} In short
# :class: tip
# {glue:text}`summary_text`
# :::
#
# The study's first outcome without competing risks, in the analysed set (the matched set when the
# study matches): Kaplan-Meier curves with the numbers at risk and the log-rank test, medians and
# survival at fixed times, the comparisons of two groups the study file lists, and its univariable
# and multivariable Cox models (R's `survival::survfit`, `survdiff`, `coxph`).

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import pipeline as mm
from micromet import survival

S = mm.study_parameters(study)
mm.configure_inline()
mm.show_notice(S)
o, group = S.outcomes[S.time_outcomes[0]], S.exposure.column

# %% [markdown]
# The analysed set, the Kaplan-Meier estimate and the log-rank test, with the study's outcome
# (`o.time`, `o.event`) and groups; the chapter then fits the regression tables of the study file
# and formats everything:

# %% tags=["hide-input"]
data = mm.analysed_set(S, output_dir)
km = survival.km(data, o.time, o.event, group)
logrank = survival.logrank(data, o.time, o.event, group)
result = mm.os_chapter(S, output_dir, data=data, km=km, logrank=logrank)

# %% tags=["remove-input"]
mm.publish(result)

# %% tags=["nbval-check-output", "remove-cell"]
mm.headline(result.headline)

# %% [markdown]
# ## Kaplan-Meier curves
#
# Outcome: {glue:text}`outcome_label_lower`. {glue:text}`events` events among {glue:text}`n`
# patients; median follow-up (reverse Kaplan-Meier) {glue:text}`followup_median` months (IQR
# {glue:text}`followup_iqr`), longest {glue:text}`followup_max`. Log-rank test across the groups
# ({glue:text}`logrank_df` df): {glue:text}`logrank_p`.

# %% tags=["nbval-ignore-output", "remove-cell"]
mm.glue_figure("km_figure", mm.km_figure(result))

# %% [markdown]
# ```{glue:figure} km_figure
# :alt: Kaplan-Meier curves of the outcome by group with the numbers at risk beneath
# :width: 100%
#
# {glue:text}`km_caption`
# ```

# %% [markdown]
# Median time to the event with its 95% confidence interval (R's `print(survfit)`; "not reached"
# while the curve stays above one half), by group:

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.median_table)

# %% [markdown]
# Survival (free of the event) at fixed times, by group:

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.survival_table)

# %% [markdown]
# ## Comparisons and regression tables
#
# {glue:text}`comparisons_text`

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.comparisons)

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show_tables(result)

# %% [markdown]
# ## Proportional hazards
#
# Scaled Schoenfeld residuals against time (R's `cox.zph`, its default Kaplan-Meier
# transform) for the multivariable model of the first regression table. {glue:text}`ph_text`

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.ph_table)
