# %% [markdown]
# # Study B: nanometastases in axillary lymph nodes
#
# A single-institution series: pN0 patients re-examined by step sections and anti-cytokeratin
# immunohistochemistry, which moves some of them to pN0(i+) (nanometastases, deposits of at most
# 0.2 mm). Four nodal groups, pN0(i-), pN0(i+), pN1mi and pN1, are compared for the first adverse
# event (local, regional, distant relapse, contralateral cancer or death) with Cox models, and for
# distant relapse as the first event with crude cumulative incidence curves and Gray's test (other
# first events competing), as R's `survival::coxph` and `cmprsk::cuminc` compute them. There is no
# matching in this study.

# %% tags=["parameters", "remove-cell"]
study = {}
output_dir = "."

# %% tags=["remove-input"]
from micromet import nanomet
from micromet import pipeline as mm

S = mm.study_parameters(study, default="nanomet")
mm.show_notice(S)

# %% [markdown]
# ## The series
#
# The CSV is read through the study file's `series` mapping (its own column names, time unit and
# event codes) into the analysis frame: follow-up in months, the first event coded 0 (censored),
# 1 (distant relapse) and 2-5 (local, regional, contralateral, death), the nodal group with
# pN0(i-) as the reference.

# %%
chapter = nanomet.nanomet_chapter(S, output_dir)
mm.publish(chapter)

# %% [markdown]
# {glue:text}`n` patients, {glue:text}`n_pn0` of them pN0, of which {glue:text}`n_exposed`
# ({glue:text}`share_exposed`%) were pN0(i+) on re-examination. Median follow-up (reverse
# Kaplan-Meier) {glue:text}`followup_median` months (IQR {glue:text}`followup_iqr`).

# %% tags=["nbval-ignore-output"]
chapter.table_one

# %% [markdown]
# First adverse events:

# %% tags=["nbval-ignore-output"]
chapter.first_events

# %% [markdown]
# ## Any first adverse event: pairwise comparisons
#
# Each comparison is a univariable Cox model (Efron ties) on the patients of the two groups,
# with the log-rank test beside it.

# %% tags=["nbval-ignore-output"]
chapter.pairwise

# %% tags=["nbval-ignore-output"]
nanomet.km_figure(chapter);

# %% [markdown]
# Median time free of any adverse event, with its 95% confidence interval (R's `print(survfit)`;
# "not reached" while the curve stays above one half), and the share free of any event at the
# study's horizons, by nodal group:

# %% tags=["nbval-ignore-output"]
chapter.median_table

# %% tags=["nbval-ignore-output"]
chapter.survival_table

# %% [markdown]
# ## Any first adverse event: multivariable Cox model, pN0(i+) and pN1mi grouped

# %% tags=["nbval-ignore-output"]
chapter.multivariable_table

# %% [markdown]
# ## Distant relapse: crude cumulative incidence and Gray's test
#
# Distant relapse as the first event, the other first events competing (cmprsk's `cuminc`).
# Gray's test compares the groups the study file names (the outcome's `groups`); the test across
# all four groups is shown beside it.

# %% tags=["nbval-ignore-output"]
nanomet.cif_figure(chapter);

# %% tags=["nbval-ignore-output"]
chapter.gray_table

# %% tags=["nbval-ignore-output"]
chapter.cif_at

# %% [markdown]
# ## Published and reproduced
#
# The paper's numbers beside ours. On the synthetic series, "truth" is what the generating model
# gives in a very large sample (its calibration); the draw of 702 patients varies around it.

# %% tags=["nbval-ignore-output"]
chapter.validation

# %% [markdown]
# Any adverse event, {glue:text}`n_exposed` pN0(i+) vs {glue:text}`n_reference` pN0(i-): HR
# {glue:text}`hr_exposed`, p = {glue:text}`p_exposed` (paper: 2.51, p = 0.00019). Multivariable,
# pN0(i+)/pN1mi grouped: HR {glue:text}`hr_grouped`, p = {glue:text}`p_grouped` (paper: 2.16,
# p = 0.0005). Distant relapse, Gray's test: chi-square {glue:text}`gray_chisq`,
# p = {glue:text}`gray_p` (paper: 5.54, p = 0.019).

# %% tags=["nbval-check-output"]
mm.headline(chapter.headline)
