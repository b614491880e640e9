# %% [markdown]
# # Cohort and Table 1
#
# Who is in the study: the extract, each inclusion and exclusion step of the paper (its Figure 1),
# and the characteristics of the two groups before matching (its Table 1).

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import pipeline as mm

S = mm.study_parameters(study)
mm.show_notice(S)

# %% [markdown]
# ## From the extract to the analysed cohort
#
# The source is read through the same reader as a SEER*Stat export, tidied into the analysis frame,
# and the criteria of the study file are applied in order. The extract holds
# {glue:text}`n_extracted` records; {glue:text}`n_final` remain
# ({glue:text}`n_final_reference` {glue:text}`label_reference` and {glue:text}`n_final_exposed`
# {glue:text}`label_exposed`).

# %%
cohort = mm.cohort_chapter(S, output_dir)
mm.publish(cohort)

# %% tags=["nbval-check-output"]
mm.headline(cohort.headline)

# %% tags=["nbval-ignore-output"]
cohort.flow_table

# %% tags=["nbval-ignore-output"]
mm.flowchart_figure(cohort);

# %% [markdown]
# ## Table 1: characteristics before matching
#
# Medians (IQR) with the Wilcoxon rank-sum test, counts (%) with Pearson's chi-squared test, as the
# paper reports them. Follow-up of the whole cohort: median {glue:text}`followup_median` months
# (IQR {glue:text}`followup_iqr`), longest {glue:text}`followup_max` months.

# %% tags=["nbval-ignore-output"]
cohort.table_one

# %% [markdown]
# This run's Table 1 beside the paper's (columns marked [paper]); the differences are listed in
# *Published versus reproduced*.

# %% tags=["nbval-ignore-output"]
cohort.table_one_vs_published

# %% [markdown]
# ## Parameters of this run
#
# Every choice comes from the study file (`micromet run` may have overridden some with `--set`);
# the methods are described in the *Methods* page.

# %% tags=["nbval-ignore-output"]
mm.parameters_table(S)
