# micromet: needs=[]
# %% [markdown]
# # Propensity-score matching and Table 2
#
# :::{admonition} In short
# :class: tip
# {glue:text}`summary_text`
# :::
#
# Each patient of the exposed group is matched to controls on the logit of a propensity score
# (nearest neighbour, MatchIt's `method = "nearest"`), within a caliper. Balance is shown before
# and after, as standardized mean differences (SMD), variance ratios and a Love plot (the paper's
# Figure 2), and the matched groups are compared again (its Table 2).

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import pipeline as mm

S = mm.study_parameters(study)
mm.configure_inline()
mm.show_notice(S)

# %% [markdown]
# ## Matching
#
# Ratio 1:{glue:text}`ratio`, caliper {glue:text}`caliper_text`, matching without replacement
# unless the study says otherwise. {glue:text}`matched_exposed` of {glue:text}`n_exposed` exposed
# patients found controls; {glue:text}`matched_reference` controls were used.

# %% tags=["hide-input"]
matched = mm.matching_chapter(S, output_dir)
mm.publish(matched)

# %% tags=["nbval-check-output", "remove-cell"]
mm.headline(matched.headline)

# %% [markdown]
# ## Balance before and after matching
#
# The largest absolute SMD of the covariates (the distance, the propensity score's logit, left
# out) falls from {glue:text}`max_smd_before` to {glue:text}`max_smd_after`.

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(matched.balance_table)

# %% tags=["nbval-ignore-output", "remove-cell"]
mm.glue_figure("love_figure", mm.love_plot_figure(matched))

# %% [markdown]
# ```{glue:figure} love_figure
# :alt: Love plot: standardized mean differences of each covariate before and after matching
# :width: 100%
#
# {glue:text}`love_caption`
# ```

# %% [markdown]
# ## Table 2: characteristics after matching

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(matched.table_two)

# %% [markdown]
# {glue:text}`table2_paper_text`

# %% tags=["nbval-ignore-output", "remove-input"]
mm.show(matched.table_two_vs_published)
