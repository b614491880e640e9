# micromet: needs=["01_cohort", "02_matching"]
# %% [markdown]
# # Competing risks: cumulative incidence and Fine-Gray models
#
# :::{admonition} In short
# :class: tip
# {glue:text}`summary_text`
# :::
#
# The study's outcome with competing risks, in the analysed set: cumulative incidence functions and
# Gray's test, and the univariable and multivariable Fine-Gray models of the study file, computed
# as R's `cmprsk::cuminc` and `cmprsk::crr`.

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import competing
from micromet import pipeline as mm

S = mm.study_parameters(study)
mm.configure_inline()
mm.show_notice(S)
o, group = S.outcomes[S.competing_outcomes[0]], S.exposure.column

# %% [markdown]
# The analysed set, the cumulative incidence functions and Gray's test for the cause of interest
# (`o.cause`) between the groups the study file names; the chapter then fits the regression
# tables of the study file and formats everything:

# %% tags=["hide-input"]
data = mm.analysed_set(S, output_dir)
cif = competing.cuminc(data, o.time, o.event, group)
compared = mm.analysis_data(data, group, mm.gray_groups(S))  # the groups Gray's test compares
gray = competing.gray_test(compared, o.time, o.event, group, cause=o.cause)
result = mm.bcsm_chapter(S, output_dir, data=data, cif=cif, gray=gray)

# %% tags=["remove-input"]
mm.publish(result)

# %% tags=["nbval-check-output", "remove-cell"]
mm.headline(result.headline)

# %% [markdown]
# ## Cumulative incidence
#
# Outcome: {glue:text}`outcome_label_lower`; {glue:text}`events_cause` events of interest
# ({glue:text}`cause_name`) and {glue:text}`events_competing` competing events. Gray's test,
# {glue:text}`gray_groups`: chi-square {glue:text}`gray_chisq`, {glue:text}`gray_p`.

# %% tags=["nbval-ignore-output", "remove-cell"]
mm.glue_figure("cif_figure", mm.cif_figure(result))

# %% [markdown]
# ```{glue:figure} cif_figure
# :alt: Cumulative incidence curves of the event of interest by group
# :width: 100%
#
# {glue:text}`cif_caption`
# ```

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.gray_table)

# %% [markdown]
# Cumulative incidence of the event of interest at fixed times, by group:

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.cif_table)

# %% [markdown]
# ## Comparisons and regression tables
#
# {glue:text}`comparisons_text`

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(result.comparisons)

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show_tables(result)
