# %% [markdown]
# # Breast-cancer-specific mortality
#
# Death from breast cancer with death from other causes as a competing event: cumulative incidence
# functions and Gray's test (the paper's Figure 4), univariable and multivariable Fine-Gray models
# (its Table 4), computed as R's `cmprsk::cuminc` and `cmprsk::crr`.

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import pipeline as mm

S = mm.study_parameters(study)
mm.show_notice(S)

# %%
bcsm = mm.bcsm_chapter(S, output_dir)
mm.publish(bcsm)

# %% tags=["nbval-check-output"]
mm.headline(bcsm.headline)

# %% [markdown]
# ## Cumulative incidence
#
# {glue:text}`events_cause` breast-cancer deaths and {glue:text}`events_competing` deaths from
# other causes. Gray's test for breast-cancer deaths: p = {glue:text}`gray_p`.

# %% tags=["nbval-ignore-output"]
mm.cif_figure(bcsm);

# %% [markdown]
# Cumulative incidence at fixed times, by group and cause:

# %% tags=["nbval-ignore-output"]
bcsm.cif_table

# %% [markdown]
# ## Table 4: Fine-Gray regression
#
# Subdistribution hazard ratios: every candidate covariate alone (univariable),
# {glue:text}`selection_text`.
# Group, multivariable: sHR {glue:text}`shr_multi`.

# %% tags=["nbval-ignore-output"]
bcsm.fine_gray_table

# %% [markdown]
# Each hazard ratio, its confidence limits and p beside the paper's, with the difference.

# %% tags=["nbval-ignore-output"]
bcsm.fine_gray_vs_published
