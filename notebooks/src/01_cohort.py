# %% [markdown]
# # Cohort and Table 1
#
# :::{admonition} In short
# :class: tip
# {glue:text}`summary_text`
# :::
#
# Who is in the study: the source, each inclusion and exclusion step of the study file (the paper's
# flowchart), and the characteristics of the groups compared (the paper's Table 1).

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import pipeline as mm

S = mm.study_parameters(study)
mm.configure_inline()
mm.show_notice(S)

# %% [markdown]
# ## From the extract to the analysed cohort
#
# The source is read (a SEER*Stat export through its reader, an institutional series through the
# study file's `series` mapping), tidied into the analysis frame, and the criteria of the study file
# are applied in order. The extract holds
# {glue:text}`n_extracted` records; {glue:text}`n_final` remain
# ({glue:text}`n_final_reference` {glue:text}`label_reference` and {glue:text}`n_final_exposed`
# {glue:text}`label_exposed`).

# %% tags=["hide-input"]
cohort = mm.cohort_chapter(S, output_dir)
mm.publish(cohort)

# %% tags=["nbval-check-output", "remove-cell"]
mm.headline(cohort.headline)

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(cohort.flow_table)

# %% tags=["nbval-ignore-output", "remove-cell"]
mm.glue_figure("flow_figure", mm.flowchart_figure(cohort))

# %% [markdown]
# ```{glue:figure} flow_figure
# :alt: Flowchart of the patients from the source to the analysed cohort, by group
# :width: 100%
#
# {glue:text}`flow_caption`
# ```

# %% [markdown]
# ## Table 1: characteristics of the groups
#
# Medians (IQR) with the Wilcoxon rank-sum test (Kruskal-Wallis for more than two groups), counts
# (%) with Pearson's chi-squared test. Follow-up of the whole cohort: median {glue:text}`followup_median` months
# (IQR {glue:text}`followup_iqr`), longest {glue:text}`followup_max` months.

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(cohort.table_one)

# %% [markdown]
# {glue:text}`table1_paper_text`

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(cohort.table_one_vs_published)

# %% [markdown]
# ## Parameters of this run
#
# Every choice comes from the study file (`micromet run` may have overridden some with `--set`);
# the methods are described in the *Methods* page.

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(mm.parameters_table(S))
